/**
 * The file store's sweep: removes the sessions that have expired, durably,
 * each with its `session_expired` event, through the same commit as a
 * delete. An expired session is already hidden from every read and write
 * (session-table.ts); the sweep gives its memory, its file and its share of
 * the storage budget back. It takes what is due (due-sessions.ts: never a
 * pass over every session) a batch at a time, each batch started within a
 * few milliseconds of the event loop, the loop turning between batches.
 */
import type { ServiceEvent } from '../../domain/event.js';
import { sessionExpiredEvent } from '../../domain/event.js';
import { expiryOf, expiryReason, SWEEP_INTERVAL_MS } from '../../domain/expiry.js';
import type { Clock } from '../../domain/time.js';
import { type BackgroundReporter, runInBackground } from '../store.js';
import { type SessionTable, sessionOf } from './session-table.js';
import type { ResidentSession } from './snapshot.js';

/** The event loop time one batch may take to start its removals. */
const BATCH_MS = 5;
/** The most removals one batch starts (each a journal line in a shared flush). */
const BATCH_SESSIONS = 500;

export interface SweepDoors {
  table: SessionTable;
  instanceId: string;
  background: BackgroundReporter;
  /** Now (the table's clock): the time of each session_expired event. */
  clock: Clock;
  /** Removes `resident` durably, logging `event` (the store's delete). */
  remove(resident: ResidentSession, event: ServiceEvent): Promise<void>;
}

export class ExpirySweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly doors: SweepDoors) {}

  /**
   * Sweeps every second from now on: once the instance has counted its
   * start, so its session_expired events come after its startup event (a
   * session that expired while no instance ran is hidden meanwhile).
   */
  begin(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => this.start(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  /** Sweeps what is due now, unless a sweep is running; reported as `expiry_sweep`. */
  start(): void {
    if (this.running !== null || this.stopped) return;
    this.running = runInBackground(this.doors.background, 'expiry_sweep', () => this.sweep());
    void this.running.finally(() => {
      this.running = null;
    });
  }

  /** No more sweeps; resolves once the one running has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Batches until nothing is due; a failed removal is left due, for the next sweep. */
  private async sweep(): Promise<void> {
    while (!this.stopped) {
      const started = performance.now();
      const removals: Promise<boolean>[] = [];
      for (const resident of this.doors.table.expiredSessions()) {
        removals.push(this.expire(resident));
        if (removals.length >= BATCH_SESSIONS || performance.now() - started >= BATCH_MS) break;
      }
      if (removals.length === 0) return;
      const outcomes = await Promise.allSettled(removals);
      const failed = outcomes.find((outcome) => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      // None removed: what was due is no longer (the clock went back), and is queued again.
      if (outcomes.every((outcome) => outcome.status === 'fulfilled' && !outcome.value)) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Removes `resident` if, under its lock, it is still held and expired;
   * whether it did. One held but no longer expired (the clock went back) is
   * queued by its expiry again.
   */
  private expire(resident: ResidentSession): Promise<boolean> {
    const { table, instanceId } = this.doors;
    return table.locks.run(resident.id, async () => {
      if (!table.isExpiredHeld(resident)) {
        table.requeue(resident);
        return false;
      }
      const session = sessionOf(resident);
      const expiry = expiryOf(session);
      if (expiry === null) return false; // not reached: an expired session has its expiry
      const event = sessionExpiredEvent(
        instanceId,
        { id: session.id, name: session.name, expires_at: expiry.expires_at },
        expiryReason(expiry),
        new Date(this.doors.clock()),
      );
      await this.doors.remove(resident, event);
      return true;
    });
  }
}
