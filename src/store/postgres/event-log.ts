/**
 * The events table, read and kept within the retention policy
 * (EVENTS_RETAIN_COUNT, EVENTS_RETAIN_DAYS; see domain/retention.ts).
 *
 * Positions are dense and never reused (counters.event_count numbers them),
 * so `count` stays every event ever logged; retention deletes the oldest
 * rows, always a prefix: the oldest kept is `min(position)`, and every
 * position from it to `count` is there. Each second, the replica that takes
 * the advisory lock (the others skip the round) deletes what the policy no
 * longer keeps, a batch a transaction, oldest first, stopping at the first
 * event it keeps.
 */
import type { ServiceEvent } from '../../domain/event.js';
import { bounds, type RetentionPolicy } from '../../domain/retention.js';
import type { Clock } from '../../domain/time.js';
import { Periodic } from '../periodic.js';
import type { BackgroundReporter, EventTail } from '../store.js';
import type { Database } from './database.js';

/** The most events one transaction deletes. */
export const RETENTION_BATCH = 5_000;
const RETENTION_INTERVAL_MS = 1000;
/** Held for a round's transaction by the one replica doing it (a constant of this service's own). */
const RETENTION_LOCK = 0x5e55_1047;

export class PostgresEventLog {
  /** Every second, once this replica has counted its start (when the policy bounds anything). */
  private readonly periodic: Periodic;

  constructor(
    private readonly database: Database,
    private readonly policy: RetentionPolicy,
    private readonly clock: Clock,
    background: BackgroundReporter,
  ) {
    this.periodic = new Periodic('event_retention', RETENTION_INTERVAL_MS, background, () =>
      this.dropOld(),
    );
  }

  tail(limit: number): Promise<EventTail> {
    return this.eventsWithCount(
      'SELECT position, line FROM events ORDER BY position DESC LIMIT $1',
      [limit],
    );
  }

  range(from: number, to: number): Promise<EventTail> {
    return this.eventsWithCount(
      'SELECT position, line FROM events WHERE position >= $1 AND position <= $2',
      [from, to],
    );
  }

  async count(): Promise<number> {
    const { rows } = await this.database.query<{ event_count: string }>(
      'counting events',
      'SELECT event_count FROM counters',
    );
    return Number(rows[0]?.event_count ?? 0);
  }

  /**
   * The events `select` picks, oldest first, the count of all and the oldest
   * kept, in one statement (one snapshot).
   */
  private async eventsWithCount(select: string, values: unknown[]): Promise<EventTail> {
    const { rows } = await this.database.query<{
      event_count: string;
      oldest: string | null;
      line: string | null;
    }>(
      'reading events',
      `SELECT counters.event_count, (SELECT min(position) FROM events) AS oldest, page.line
       FROM counters LEFT JOIN LATERAL (${select}) page ON true
       ORDER BY page.position`,
      values,
    );
    const count = Number(rows[0]?.event_count ?? 0);
    const oldest = rows[0]?.oldest;
    return {
      count,
      // None kept: the next event logged is the oldest.
      oldest: oldest === null || oldest === undefined ? count + 1 : Number(oldest),
      events: rows.flatMap((row) =>
        row.line === null ? [] : [JSON.parse(row.line) as ServiceEvent],
      ),
    };
  }

  /** Keeps the table within the policy every second from now on (nothing when it bounds nothing). */
  begin(): void {
    if (bounds(this.policy)) this.periodic.begin();
  }

  /** Deletes every event the policy no longer keeps, a batch at a time; how many this replica deleted. */
  async dropOld(): Promise<number> {
    let dropped = 0;
    for (;;) {
      const batch = await this.dropBatch();
      dropped += batch;
      if (batch < RETENTION_BATCH || this.periodic.stopped) return dropped;
    }
  }

  /**
   * One transaction, under the advisory lock (another replica holding it
   * does the round): of the oldest RETENTION_BATCH events, deletes those
   * before the first the policy keeps: past the count bound, or older than
   * the age bound (its `ts`, by this store's clock; a line without one is
   * never too old).
   */
  private async dropBatch(): Promise<number> {
    const { count, maxAgeMs } = this.policy;
    return this.database.transaction('dropping old events', async (client) => {
      const { rows: locked } = await client.query<{ got: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS got',
        [RETENTION_LOCK],
      );
      if (locked[0]?.got !== true) return 0;
      const { rowCount } = await client.query(
        `WITH batch AS (
           SELECT position, line FROM events ORDER BY position LIMIT $3
         ),
         kept AS (
           SELECT min(position) AS first FROM batch
           WHERE position > (SELECT event_count FROM counters) - $1
             AND ($2::float8 = 0 OR coalesce((line::json->>'ts')::float8, 'Infinity') >= $2::float8)
         )
         DELETE FROM events WHERE position IN (SELECT position FROM batch)
           AND position < COALESCE((SELECT first FROM kept), 9223372036854775807)`,
        [
          count ?? Number.MAX_SAFE_INTEGER,
          maxAgeMs === null ? 0 : (this.clock() - maxAgeMs) / 1000,
          RETENTION_BATCH,
        ],
      );
      return rowCount ?? 0;
    });
  }

  /** Stops, and waits for a round at work to finish its transaction. */
  close(): Promise<void> {
    return this.periodic.close();
  }
}
