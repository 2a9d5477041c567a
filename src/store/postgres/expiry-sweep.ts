/**
 * The sweep of expired sessions on PostgreSQL (docs/design/expiry-and-retention.md,
 * decision 3). Reads hide an expired session from its second on; the sweep
 * removes it for good, with its `session_expired` event, in one transaction.
 * Every replica sweeps the same table: each locks the due rows no other
 * replica holds (SKIP LOCKED), so a session is removed, and its event
 * logged, exactly once however many sweep at the same moment.
 */
import { type ServiceEvent, sessionExpiredEvent } from '../../domain/event.js';
import { expiryReason, SWEEP_INTERVAL_MS } from '../../domain/expiry.js';
import { type Clock, utcTimestamp } from '../../domain/time.js';
import { Periodic } from '../periodic.js';
import type { BackgroundReporter } from '../store.js';
import type { Database } from './database.js';
import type { EventFeed } from './event-feed.js';
import { commitWrites } from './session-writes.js';

/** The most sessions one transaction removes: its locks and its statement stay small. */
export const SWEEP_BATCH = 500;

/** What the sweep reads of a due session: what its event says, never its data. */
interface DueRow {
  id: string;
  name: string;
  expires_at: string;
  ends_at: string | null;
  idle_seconds: string | null;
}

export class ExpirySweep {
  /** Every second, once this replica has counted its start (see begin). */
  private readonly periodic: Periodic;

  constructor(
    private readonly instanceId: string,
    private readonly database: Database,
    private readonly feed: EventFeed,
    private readonly clock: Clock,
    background: BackgroundReporter,
  ) {
    // A failed sweep is reported; the next tick sweeps again.
    this.periodic = new Periodic('expiry_sweep', SWEEP_INTERVAL_MS, background, () => this.sweep());
  }

  /**
   * Sweeps every second from now on: once this replica has counted its
   * start, so its session_expired events come after its startup event.
   */
  begin(): void {
    this.periodic.begin();
  }

  /**
   * Removes every session expired by now, a batch at a time, until a batch
   * finds fewer than it could take. Returns how many this replica removed.
   */
  async sweep(): Promise<number> {
    let removed = 0;
    for (;;) {
      const { locked, swept } = await this.sweepBatch();
      removed += swept;
      if (locked < SWEEP_BATCH || this.periodic.stopped) return removed;
    }
  }

  /**
   * One transaction: locks up to SWEEP_BATCH due sessions (oldest expiry
   * first, on the partial index), skipping those another replica or a write
   * holds, then deletes them and logs their events in one statement, as
   * every delete does (commitWrites: positions under the counters row's
   * lock, held only for that statement and the commit). The listeners hear
   * of them after the commit.
   */
  private async sweepBatch(): Promise<{ locked: number; swept: number }> {
    const now = utcTimestamp(new Date(this.clock()));
    const done = await this.database.transaction('sweeping expired sessions', async (client) => {
      const { rows } = await client.query<DueRow>(
        `SELECT id, name, expires_at, ends_at, idle_seconds FROM sessions
         WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, SWEEP_BATCH],
      );
      // Nothing due: the counters row is not touched.
      if (rows.length === 0) return { locked: 0, logged: [] };
      const writes = rows.map((row) => ({ id: row.id, event: this.expiredEvent(row) }));
      const positions = await commitWrites(client, 'expire', writes, now);
      const logged: { event: ServiceEvent; position: number }[] = [];
      for (const [i, write] of writes.entries()) {
        const position = positions[i];
        if (position !== undefined) logged.push({ event: write.event, position });
      }
      return { locked: rows.length, logged };
    });
    for (const { event, position } of done.logged) await this.feed.announce(event, position);
    return { locked: done.locked, swept: done.logged.length };
  }

  private expiredEvent(row: DueRow): ServiceEvent {
    const expiry = {
      expires_at: row.expires_at,
      ends_at: row.ends_at,
      idle_seconds: row.idle_seconds === null ? null : Number(row.idle_seconds),
    };
    return sessionExpiredEvent(this.instanceId, row, expiryReason(expiry), new Date(this.clock()));
  }

  /** Stops sweeping, and waits for a sweep at work to finish its transaction. */
  close(): Promise<void> {
    return this.periodic.close();
  }
}
