/**
 * The crash torture's model and checker, with no I/O: it is told each
 * request the clients sent and what came back (or that nothing did), and,
 * after each restart, what the service and its directory hold. It answers
 * with violations of the durability contract:
 *
 *   - every acknowledged create is there with its exact data, every
 *     acknowledged update is visible, every acknowledged delete stays deleted;
 *     unacknowledged operations are fully there or fully absent, never half;
 *   - every acknowledged write has its event;
 *   - crash_count = kills + simulated crashes, startup_count = starts,
 *     total_sessions >= acknowledged creates;
 *   - a session goes only once its acknowledged expiry has passed, logged
 *     session_expired after all its writes, never back (expiry-model.ts).
 *
 * The driver (torture.ts) does the HTTP, the processes and the kills.
 */

import {
  type ExpiredEvent,
  type ExpiryKnown,
  expiredInLog,
  expiresAtOf,
  goneByExpiry,
  learnExpiry,
  mayHaveExpired,
} from './expiry-model.js';

/** A session as the torture's clients write it. */
export interface SessionBody {
  id: string;
  name: string;
  data: { token: string; pad: string };
  access_count: number;
  expires_at?: string;
}

/** What a request got back: a status and a body, or null when the service died under it. */
export type Answer = { status: number; json: unknown } | null;

/** `error: message` of an error answer (the service's JSON error), for the history. */
function errorOf(answer: { json: unknown }): string {
  const body = (answer.json ?? {}) as { error?: unknown; message?: unknown };
  return `${String(body.error)}: ${String(body.message)}`.slice(0, 300);
}

/**
 * The refusal the service gives while it stops cleanly: nothing was served,
 * so nothing is acknowledged, as if no answer came.
 */
function refusedWhileStopping(answer: { status: number; json: unknown }): boolean {
  return answer.status === 503 && (answer.json as { error?: unknown } | null)?.error === 'stopping';
}

export interface Known extends ExpiryKnown {
  id: string;
  name: string;
  createToken: string;
  /** False for an unacknowledged create found after a restart: it may lack its event. */
  createAcknowledged: boolean;
  /** Every update token sent, with the access_count its answer acknowledged (null: no answer). */
  updates: Map<string, number | null>;
  /**
   * Whether a write that changes no data (an empty PATCH) was sent: it counts
   * an access without a token of its own, so the data's token no longer
   * tells the access_count exactly.
   */
  touched: boolean;
  maxAckedCount: number;
  ackedUpdates: number;
  deleted: 'acknowledged' | 'maybe' | null;
  /** Deletes of it sent so far: two clients may delete one session at once. */
  deletesSent: number;
}

/** What was known when a delete was sent (see deleteSent). */
export interface DeleteSent {
  before: Known['deleted'];
  /** Its number among the deletes of that session. */
  serial: number;
}

export interface HistoryEntry {
  cycle: number;
  op: string;
  id?: string;
  token?: string;
  status: number | 'no answer';
  access_count?: number;
  /** An error answer's `error` and `message`, so a failure's history says why. */
  error?: string;
}

/** What a restart shows: the service's listing, the log's events, the counters, the inspector. */
export interface Observed {
  sessions: readonly SessionBody[];
  /** The log read after the listing and the counters. */
  events: readonly Record<string, unknown>[];
  /**
   * The log read before the listing (the started service sweeps meanwhile:
   * a session listed a moment before its session_expired was logged is no
   * resurrection); `events` when not given.
   */
  eventsBeforeListing?: readonly Record<string, unknown>[];
  counters: {
    crash_count: number;
    startup_count: number;
    total_sessions: number;
    expired_sessions?: number;
  };
  /** `inspect --verify`'s complaint, or null when it found nothing. */
  verifyFailure: string | null;
  expected: { kills: number; crashes: number; starts: number };
}

export class TortureModel {
  readonly known = new Map<string, Known>();
  /** Creates sent but not acknowledged, by name. */
  private readonly unackedCreates = new Map<string, { token: string; pad: string }>();
  readonly history: HistoryEntry[] = [];
  readonly violations: string[] = [];
  cycle = 0;
  operations = 0;
  acknowledged = 0;
  ackedCreates = 0;
  landedUnacknowledged = 0;

  /** `clock`: now (epoch ms), read once an answer came, to judge a 404 of an expiring session. */
  constructor(private readonly clock: () => number = Date.now) {}

  private expired(target: Known): boolean {
    return mayHaveExpired(target, this.clock());
  }

  /** Records a violation seen by the driver (or by the model itself). */
  violation(message: string): void {
    this.violations.push(`cycle ${this.cycle}: ${message}`);
  }

  /** A session not known to be deleted, picked by `random` (0 ≤ r < 1). */
  livePick(random: () => number): Known | undefined {
    const live = [...this.known.values()].filter((entry) => entry.deleted !== 'acknowledged');
    return live[Math.floor(random() * live.length)];
  }

  // Creates

  /** Before the POST: returns the name to send. */
  createSent(data: { token: string; pad: string }): string {
    const name = `n-${data.token}`;
    this.unackedCreates.set(name, data);
    return name;
  }

  createAnswered(name: string, data: { token: string; pad: string }, answer: Answer): void {
    this.operations++;
    const entry: HistoryEntry = {
      cycle: this.cycle,
      op: 'create',
      token: data.token,
      status: answer?.status ?? 'no answer',
    };
    this.history.push(entry);
    if (answer?.status !== 201) {
      if (answer !== null) entry.error = errorOf(answer);
      return;
    }
    const session = answer.json as SessionBody;
    this.acknowledged++;
    this.ackedCreates++;
    this.unackedCreates.delete(name);
    entry.id = session.id;
    if (session.name !== name || session.data.token !== data.token) {
      this.violation(`create answered with other data: ${JSON.stringify(session).slice(0, 200)}`);
    }
    this.known.set(session.id, {
      id: session.id,
      name,
      createToken: data.token,
      createAcknowledged: true,
      updates: new Map(),
      touched: false,
      maxAckedCount: 0,
      ackedUpdates: 0,
      deleted: null,
      deletesSent: 0,
      expiresAt: expiresAtOf(session),
    });
  }

  // Updates, deletes, reads

  /** Before the PUT. */
  updateSent(target: Known, token: string): void {
    target.updates.set(token, null);
  }

  updateAnswered(target: Known, token: string, answer: Answer): void {
    const session = this.writeAnswered(target, 'update', answer, token);
    if (session !== null) target.updates.set(token, session.access_count);
  }

  /** Before an empty PATCH. */
  touchSent(target: Known): void {
    target.touched = true;
  }

  /** An empty PATCH: the data stays, the access is counted and logged. */
  touchAnswered(target: Known, answer: Answer): void {
    this.writeAnswered(target, 'touch', answer);
  }

  /** An update or a touch answered: checked, and counted if acknowledged (the session then). */
  private writeAnswered(
    target: Known,
    op: 'update' | 'touch',
    answer: Answer,
    token?: string,
  ): SessionBody | null {
    this.operations++;
    const entry: HistoryEntry = {
      cycle: this.cycle,
      op,
      id: target.id,
      ...(token === undefined ? {} : { token }),
      status: answer?.status ?? 'no answer',
    };
    this.history.push(entry);
    if (answer === null) return null;
    if (refusedWhileStopping(answer)) {
      entry.error = errorOf(answer);
      return null;
    }
    if (answer.status === 404) {
      if (target.deleted === null && !this.expired(target))
        this.violation(`${op} of live session ${target.id} answered 404`);
      return null;
    }
    if (answer.status !== 200) {
      entry.error = errorOf(answer);
      this.violation(`${op} answered ${answer.status}`);
      return null;
    }
    const session = answer.json as SessionBody;
    this.acknowledged++;
    target.ackedUpdates++;
    target.maxAckedCount = Math.max(target.maxAckedCount, session.access_count);
    entry.access_count = session.access_count;
    learnExpiry(target, session);
    return session;
  }

  /** Before the DELETE: what was known of its deletion before, and which delete this is. */
  deleteSent(target: Known): DeleteSent {
    const before = target.deleted;
    target.deleted = 'maybe';
    return { before, serial: ++target.deletesSent };
  }

  deleteAnswered(target: Known, sent: DeleteSent, answer: Answer): void {
    this.operations++;
    const entry: HistoryEntry = {
      cycle: this.cycle,
      op: 'delete',
      id: target.id,
      status: answer?.status ?? 'no answer',
    };
    this.history.push(entry);
    if (answer === null) return;
    if (refusedWhileStopping(answer)) {
      entry.error = errorOf(answer);
      return;
    }
    if (answer.status === 200) {
      this.acknowledged++;
      target.deleted = 'acknowledged';
    } else if (answer.status === 404) {
      // Fine if it was deleted before, or if another delete was sent since this
      // one: the service may have served that one first.
      if (sent.before === null && target.deletesSent === sent.serial && !this.expired(target)) {
        this.violation(`delete of live session ${target.id} answered 404`);
      }
    } else {
      this.violation(`delete answered ${answer.status}`);
    }
  }

  /** `floor`: the highest access_count acknowledged before the GET was sent. */
  readAnswered(target: Known, floor: number, answer: Answer): void {
    this.operations++;
    this.history.push({
      cycle: this.cycle,
      op: 'read',
      id: target.id,
      status: answer?.status ?? 'no answer',
    });
    if (answer?.status === 200) {
      this.acknowledged++;
      const session = answer.json as SessionBody;
      learnExpiry(target, session);
      if (session.access_count < floor) {
        this.violation(
          `read of ${target.id} saw access_count ${session.access_count} < acknowledged ${floor}`,
        );
      }
    } else if (answer?.status === 404 && target.deleted === null && !this.expired(target)) {
      this.violation(`read of live session ${target.id} answered 404`);
    }
  }

  // After a restart

  /** Checks what a restart shows against everything acknowledged; learns what landed unacknowledged. */
  checkAfterRestart(observed: Observed): void {
    if (observed.verifyFailure !== null) {
      this.violation(`inspect --verify failed: ${observed.verifyFailure}`);
    }
    const stored = new Map(observed.sessions.map((session) => [session.id, session]));
    const log = expiredInLog(observed.events);
    for (const problem of log.problems) this.violation(problem);
    const before =
      observed.eventsBeforeListing === undefined ? log : expiredInLog(observed.eventsBeforeListing);
    this.checkKnown(stored, before.expired, log.expired);
    this.learnUnacknowledged(stored);
    this.checkEvents(observed.events);
    const { counters, expected } = observed;
    if (counters.crash_count !== expected.kills + expected.crashes) {
      this.violation(
        `crash_count ${counters.crash_count} != ${expected.kills} kills + ${expected.crashes} crashes`,
      );
    }
    if (counters.startup_count !== expected.starts) {
      this.violation(`startup_count ${counters.startup_count} != ${expected.starts} starts`);
    }
    // The log is read after the counters: a sweep in between logs more, never fewer.
    const counted = counters.expired_sessions ?? 0;
    if (counted > log.expired.size) this.violation(`expired_sessions ${counted} > the log's`);
    if (counters.total_sessions < this.ackedCreates) {
      this.violation(
        `total_sessions ${counters.total_sessions} < ${this.ackedCreates} acknowledged creates`,
      );
    }
  }

  /**
   * `expiredBefore`: the session_expired events logged before the listing
   * (a session listed is back only after one of those); `expired`: all of
   * them, read after (what tells a missing session's expiry).
   */
  private checkKnown(
    stored: ReadonlyMap<string, SessionBody>,
    expiredBefore: ReadonlyMap<unknown, ExpiredEvent>,
    expired: ReadonlyMap<unknown, ExpiredEvent>,
  ): void {
    const now = this.clock();
    for (const entry of this.known.values()) {
      const session = stored.get(entry.id);
      if (session === undefined) {
        const problem =
          entry.deleted === null ? goneByExpiry(entry, expired.get(entry.id), now) : null;
        // Deleted or expired for good: forgotten (were it back, nobody created it).
        if (problem === null) this.known.delete(entry.id);
        else this.violation(problem);
        continue;
      }
      learnExpiry(entry, session);
      if (expiredBefore.has(entry.id)) {
        this.violation(`${entry.id} is back after its session_expired event`);
        continue;
      }
      if (entry.deleted === 'acknowledged') {
        this.violation(`acknowledged delete of ${entry.id} came undone`);
        continue;
      }
      entry.deleted = null; // an unacknowledged delete that did not happen
      if (session.name !== entry.name) this.violation(`${entry.id} has name ${session.name}`);
      if (session.access_count < entry.maxAckedCount) {
        this.violation(
          `${entry.id} lost updates: access_count ${session.access_count} < acknowledged ${entry.maxAckedCount}`,
        );
      }
      const token = session.data.token;
      if (token === entry.createToken) {
        if (session.access_count !== 0 && !entry.touched) {
          this.violation(
            `${entry.id} has its create's data but access_count ${session.access_count}`,
          );
        }
      } else if (!entry.updates.has(token)) {
        this.violation(`${entry.id} holds data nobody wrote (token ${token})`);
      } else {
        const ackedCount = entry.updates.get(token);
        // Touches after the update count on top of it.
        const countsOff = entry.touched
          ? session.access_count < (ackedCount ?? 0)
          : ackedCount !== session.access_count;
        if (ackedCount !== null && ackedCount !== undefined && countsOff) {
          this.violation(
            `${entry.id} holds update ${token} with access_count ${session.access_count}, acknowledged as ${ackedCount}`,
          );
        }
      }
      // Learn the unacknowledged updates that did land, so later checks start from here.
      entry.maxAckedCount = Math.max(entry.maxAckedCount, session.access_count);
    }
  }

  private learnUnacknowledged(stored: ReadonlyMap<string, SessionBody>): void {
    for (const session of stored.values()) {
      if (this.known.has(session.id)) continue;
      const sent = this.unackedCreates.get(session.name);
      if (sent === undefined) {
        this.violation(`session ${session.id} (${session.name}) was never created by a client`);
        continue;
      }
      if (
        session.data.token !== sent.token ||
        session.data.pad !== sent.pad ||
        session.access_count !== 0
      ) {
        this.violation(`unacknowledged create ${session.name} is only half there`);
      }
      this.landedUnacknowledged++;
      this.known.set(session.id, {
        id: session.id,
        name: session.name,
        createToken: sent.token,
        createAcknowledged: false,
        updates: new Map(),
        touched: false,
        maxAckedCount: 0,
        ackedUpdates: 0,
        deleted: null,
        deletesSent: 0,
        expiresAt: expiresAtOf(session),
      });
    }
    // After a restart an unacknowledged create is either stored or never will be.
    this.unackedCreates.clear();
  }

  private checkEvents(events: readonly Record<string, unknown>[]): void {
    const created = new Set<unknown>();
    const deleted = new Set<unknown>();
    const updated = new Map<unknown, number>();
    for (const event of events) {
      if (event.event === 'session_created') created.add(event.session_id);
      if (event.event === 'session_deleted') deleted.add(event.session_id);
      if (event.event === 'session_updated') {
        updated.set(event.session_id, (updated.get(event.session_id) ?? 0) + 1);
      }
    }
    for (const entry of this.known.values()) {
      if (entry.createAcknowledged && !created.has(entry.id)) {
        this.violation(`no session_created event for acknowledged create ${entry.id}`);
      }
      if ((updated.get(entry.id) ?? 0) < entry.ackedUpdates) {
        this.violation(`${entry.id}: ${entry.ackedUpdates} acknowledged updates, fewer events`);
      }
      if (entry.deleted === 'acknowledged' && !deleted.has(entry.id)) {
        this.violation(`no session_deleted event for ${entry.id}`);
      }
    }
  }
}
