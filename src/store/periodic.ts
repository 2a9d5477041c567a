/**
 * Work a store runs every so often in the background (the PostgreSQL
 * store's expiry sweep and event retention): one run at a time (a tick that
 * finds one at work skips), each reported as background work (a failure is
 * retried at the next tick), and a close that stops the ticks and waits for
 * the run at work.
 */
import { type BackgroundReporter, runInBackground } from './store.js';

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  /** The run at work, if one is. */
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly task: string,
    private readonly intervalMs: number,
    private readonly background: BackgroundReporter,
    private readonly work: () => Promise<unknown>,
  ) {}

  /** Runs the work every interval from now on (once closed, never again). */
  begin(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => {
      if (this.running !== undefined) return;
      this.running = runInBackground(this.background, this.task, this.work).finally(() => {
        this.running = undefined;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Whether close() was called: a run at work stops at its next step. */
  get stopped(): boolean {
    return this.closed;
  }

  /** Stops the ticks, and waits for the run at work to finish. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.running;
  }
}
