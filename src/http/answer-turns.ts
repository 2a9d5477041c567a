/**
 * Large answers, a few each turn of the event loop. An answer is built and
 * handed to its socket in one go, so a crowd of requests for large pages
 * that arrives at once (700 connections asking for pages of 3.6 MB) kept the
 * loop busy building them for 13 s, and a `GET /health` waited behind them
 * all: the kernel's socket buffers take the first answer of every
 * connection whole, so no bound on unread answers stops those.
 *
 * A read waits for its turn before its handler runs: at once while less
 * than TURN_CHARACTERS of answers were built since the last turn this took
 * (on a quiet service that can span several turns of the loop: a read then
 * waits one turn early, nothing worse) and no read waits; else in a later
 * turn, first come first served: each turn lets one waiting read go, and
 * more after it while what they build stays under TURN_CHARACTERS. Between
 * turns the loop serves whatever I/O waits (a `/health` among it, which
 * never waits). On a quiet service no read waits; the cost is a call or two
 * a request.
 */

/** What answers one turn of the event loop may build (in characters) before reads wait. */
export const TURN_CHARACTERS = 4 * 1024 * 1024;

export class AnswerTurns {
  private spent = 0;
  private turning = false;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly perTurn: number = TURN_CHARACTERS) {}

  /** Null when a read may go now; else a promise resolved in a later turn of the loop. */
  turn(): Promise<void> | null {
    if (this.spent < this.perTurn && this.waiting.length === 0) return null;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.nextTurnSoon();
    });
  }

  /** Counts an answer of `characters` built in this turn; while the turn has room, the next waiting read goes. */
  built(characters: number): void {
    this.spent += characters;
    if (this.spent >= this.perTurn) this.nextTurnSoon();
    else this.waiting.shift()?.();
  }

  /** How many reads wait for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private nextTurnSoon(): void {
    if (this.turning) return;
    this.turning = true;
    // An immediate set from the check phase runs in the next turn, after its poll for I/O.
    setImmediate(this.nextTurn);
  }

  private readonly nextTurn = (): void => {
    this.turning = false;
    this.spent = 0;
    this.waiting.shift()?.(); // its handler runs once this callback returns
    if (this.waiting.length > 0) this.nextTurnSoon();
  };
}
