/**
 * Replicas and their leases: what counts starts, crashes and clean stops on
 * PostgreSQL. Each replica has a row and a lease it renews five times a lease
 * (5 s by default); a replica that finds another's lease run out counts it as
 * one crash (crash_detected), exactly once however many look; `/crash`
 * counts itself, so nobody counts it again.
 */
import type { DeadInstance } from '../../domain/counters.js';
import {
  crashDetectedEvent,
  crashTriggeredEvent,
  type ServiceEvent,
  startupEvent,
} from '../../domain/event.js';
import { utcTimestamp } from '../../domain/time.js';
import type { BackgroundReporter, InstanceStart } from '../store.js';
import type { Database } from './database.js';
import type { EventFeed } from './event-feed.js';
import { type CounterRow, toStats } from './rows.js';

/** Replicas whose lease is current ($1: the lease in seconds). */
export const LIVE_REPLICAS = `(SELECT count(*) FROM replicas
  WHERE state = 'running' AND heartbeat_at >= now() - make_interval(secs => $1))`;

export interface LeaseOptions {
  leaseMs: number;
  /** Another replica counted this one as crashed (its lease had run out): it must not serve on. */
  onLeaseLost: () => void;
  background: BackgroundReporter;
}

export class Replicas {
  private heartbeat: NodeJS.Timeout | undefined;
  /** Set once this replica stops or crashes on purpose: its lease may lapse. */
  private stopping = false;

  constructor(
    private readonly instanceId: string,
    private readonly database: Database,
    private readonly feed: EventFeed,
    private readonly options: LeaseOptions,
  ) {}

  /** The lease in seconds, as LIVE_REPLICAS takes it. */
  get leaseSeconds(): number {
    return this.options.leaseMs / 1000;
  }

  /**
   * Counts this replica's start after counting the replicas whose lease ran
   * out, then heartbeats its own lease and keeps looking for dead ones.
   */
  async start(): Promise<InstanceStart> {
    const detected = await this.reapDead();
    const started = await this.database.transaction('counting a start', async (client) => {
      const { rows } = await client.query<CounterRow>(
        'UPDATE counters SET startup_count = startup_count + 1 RETURNING *',
      );
      const stats = toStats(rows[0] as CounterRow);
      await client.query(
        `INSERT INTO replicas (container_id, pid, started_at, state, startup_count, crash_count)
         VALUES ($1, $2, $3, 'running', $4, $5)`,
        [this.instanceId, process.pid, utcTimestamp(), stats.startup_count, stats.crash_count],
      );
      const counts = { startupCount: stats.startup_count, crashCount: stats.crash_count };
      const event = startupEvent(this.instanceId, counts);
      return { counts, event, position: await this.database.appendEvent(client, event) };
    });
    await this.feed.announce(started.event, started.position);
    this.heartbeat ??= setInterval(() => void this.beat(), this.options.leaseMs / 5);
    this.heartbeat.unref();
    return { ...started.counts, detected };
  }

  /** Renews this replica's lease, then looks for replicas whose lease ran out. */
  private async beat(): Promise<void> {
    try {
      const { rowCount } = await this.database.pool.query(
        `UPDATE replicas SET heartbeat_at = now() WHERE container_id = $1 AND state = 'running'`,
        [this.instanceId],
      );
      if (rowCount === 0 && !this.stopping) {
        // Another replica found this lease expired and counted this replica as
        // crashed: serving on would make that count a lie.
        clearInterval(this.heartbeat);
        this.options.onLeaseLost();
        return;
      }
      await this.reapDead();
      this.options.background.succeeded('lease_renewal');
    } catch (error) {
      // The database is away; the next beat tries again.
      this.options.background.failed('lease_renewal', error);
    }
  }

  /**
   * Counts each replica whose lease ran out while it said `running` as one
   * crash, logged as crash_detected. The UPDATE takes each row's lock and
   * re-checks its state, so when several replicas look at once, each death is
   * counted by exactly one of them.
   */
  private async reapDead(): Promise<DeadInstance[]> {
    const found = await this.database.transaction('looking for dead replicas', async (client) => {
      const { rows } = await client.query<{
        container_id: string;
        pid: number;
        started_at: string;
      }>(
        `UPDATE replicas SET state = 'dead'
         WHERE state = 'running' AND container_id <> $1
           AND heartbeat_at < now() - make_interval(secs => $2)
         RETURNING container_id, pid, started_at`,
        [this.instanceId, this.leaseSeconds],
      );
      const dead = rows.map((row) => ({
        container: row.container_id,
        pid: row.pid,
        started_at: row.started_at,
      }));
      const events: { event: ServiceEvent; position: number }[] = [];
      for (const instance of dead) {
        const { rows: counted } = await client.query<{ crash_count: string }>(
          'UPDATE counters SET crash_count = crash_count + 1 RETURNING crash_count',
        );
        const event = crashDetectedEvent(
          this.instanceId,
          instance,
          Number(counted[0]?.crash_count),
        );
        events.push({ event, position: await this.database.appendEvent(client, event) });
      }
      return { dead, events };
    });
    for (const { event, position } of found.events) await this.feed.announce(event, position);
    return found.dead;
  }

  async crash(): Promise<number> {
    const crashed = await this.database.transaction('counting a crash', async (client) => {
      // Counted here, so no other replica counts this death again.
      await client.query(`UPDATE replicas SET state = 'crashed' WHERE container_id = $1`, [
        this.instanceId,
      ]);
      const { rows } = await client.query<{ crash_count: string }>(
        'UPDATE counters SET crash_count = crash_count + 1 RETURNING crash_count',
      );
      const crashCount = Number(rows[0]?.crash_count);
      const event = crashTriggeredEvent(this.instanceId, crashCount);
      return { crashCount, event, position: await this.database.appendEvent(client, event) };
    });
    this.stopping = true;
    await this.feed.announce(crashed.event, crashed.position);
    return crashed.crashCount;
  }

  async stop(event: ServiceEvent): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    const position = await this.database.transaction('stopping', async (client) => {
      await client.query(`UPDATE replicas SET state = 'stopped' WHERE container_id = $1`, [
        this.instanceId,
      ]);
      return this.database.appendEvent(client, event);
    });
    await this.feed.announce(event, position);
  }

  close(): void {
    clearInterval(this.heartbeat);
  }
}
