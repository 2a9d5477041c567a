/**
 * Every replica's events, for this replica's listeners (Store.onEvent): each
 * commit NOTIFYs its position, and the feed reads what it has not told yet,
 * in log order, each event once. It LISTENs on a connection of its own and
 * listens again a second after losing it, catching up on what committed
 * meanwhile.
 */
import pg from 'pg';
import type { ServiceEvent } from '../../domain/event.js';
import { EventListeners } from '../event-listeners.js';
import type { BackgroundReporter, EventListener } from '../store.js';
import { type Database, EVENT_CHANNEL } from './database.js';

/** How long to wait before listening again after the LISTEN connection is lost. */
const RELISTEN_MS = 1000;

export class EventFeed {
  private readonly listeners = new EventListeners();
  /** The position up to which listeners have been told (or, with none, passed). */
  private delivered = 0;
  private deliveries: Promise<void> = Promise.resolve();
  /** The connection that LISTENs for other replicas' events. */
  private listening: pg.Client | undefined;
  private closed = false;

  constructor(
    private readonly database: Database,
    private readonly databaseUrl: string,
    private readonly background: BackgroundReporter,
  ) {}

  onEvent(listener: EventListener): () => void {
    return this.listeners.add(listener);
  }

  /**
   * An event this replica committed: listeners hear of it in log order, and
   * before the write that logged it resolves (as with the file store).
   */
  announce(event: ServiceEvent, position: number): Promise<void> {
    return this.reach(position, event);
  }

  /**
   * Brings the listeners up to `position`, every replica's events in log
   * order, each once. Events commit in position order (the counters lock), so
   * once `position` is visible every earlier one is too: what this replica
   * has not seen is read from the table. With no listener it only moves on.
   * Resolves once they have heard (or the read failed: the next event retries).
   */
  private reach(position: number, event?: ServiceEvent): Promise<void> {
    if (this.listeners.size === 0) {
      this.delivered = Math.max(this.delivered, position);
      return Promise.resolve();
    }
    this.deliveries = this.deliveries
      .then(async () => {
        if (position <= this.delivered) return;
        if (event !== undefined && position === this.delivered + 1) {
          this.listeners.tell(event, position);
        } else {
          const { rows } = await this.database.pool.query<{ position: string; line: string }>(
            'SELECT position, line FROM events WHERE position > $1 AND position <= $2 ORDER BY position',
            [this.delivered, position],
          );
          for (const row of rows) {
            this.listeners.tell(JSON.parse(row.line) as ServiceEvent, Number(row.position));
          }
        }
        this.delivered = position;
      })
      // The database is away: the next event reads the gap.
      .then(
        () => this.background.succeeded('event_feed'),
        (error: unknown) => this.background.failed('event_feed', error),
      );
    return this.deliveries;
  }

  /**
   * LISTENs on its own connection for every replica's commits (NOTIFY carries
   * the position), and catches up on what committed while it was not
   * listening. Reconnects after a second when the connection is lost.
   */
  async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    const lost = () => {
      if (this.listening !== client) return;
      this.listening = undefined;
      this.endConnection(client);
      this.listenLater();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === EVENT_CHANNEL) void this.reach(Number(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENT_CHANNEL}`);
    } catch (error) {
      this.endConnection(client);
      throw error;
    }
    if (this.closed) {
      this.endConnection(client);
      return;
    }
    this.listening = client;
    // What committed while nobody listened; if this read fails, the next event reads the gap.
    try {
      const { rows } = await this.database.pool.query<{ event_count: string }>(
        'SELECT event_count FROM counters',
      );
      void this.reach(Number(rows[0]?.event_count ?? 0));
    } catch (error) {
      this.background.failed('event_feed', error);
    }
  }

  private listenLater(): void {
    if (this.closed) return;
    setTimeout(() => {
      this.listen().catch((error) => {
        this.background.failed('event_feed', error);
        this.listenLater();
      });
    }, RELISTEN_MS).unref();
  }

  /** Ends a connection the feed no longer uses; a failure to end it is reported, not thrown. */
  private endConnection(client: pg.Client): void {
    client.end().catch((error) => this.background.failed('event_feed', error));
  }

  /** Stops listening and waits for the listeners to hear what was already read. */
  async close(): Promise<void> {
    this.closed = true;
    const listening = this.listening;
    this.listening = undefined;
    await listening?.end().catch((error) => this.background.failed('event_feed', error));
    await this.deliveries;
  }
}
