/**
 * The service's state (GET /state's answer) pushed over event streams that
 * ask for it (`/events/stream?state=1`, what the dashboard opens): a named
 * `state` message when the stream opens, every STATE_PUSH_MS while any such
 * stream is open, and shortly after each logged event (bursts are pushed
 * once). One read of the state a push, shared by every stream, so an idle
 * page costs the service no request at all and many pages cost it no more
 * reads than one.
 */
import type { ServerResponse } from 'node:http';
import type { State } from './schemas.js';

/** How often the state is pushed while nothing happens (the uptime goes on). */
export const STATE_PUSH_MS = 2000;
/** How soon after an event its effect on the counters is pushed. */
const AFTER_EVENT_MS = 200;
/** A stream this far behind is skipped for a push (it is dropped by its events' bound). */
const MAX_UNREAD_BYTES = 256 * 1024;

export class StatePush {
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private pushing = false;

  constructor(
    private readonly read: () => Promise<State>,
    private readonly onError: (error: unknown) => void,
  ) {}

  add(stream: ServerResponse): void {
    this.streams.add(stream);
    this.timer ??= setInterval(() => void this.push(), STATE_PUSH_MS).unref();
    this.pushSoon(0);
  }

  remove(stream: ServerResponse): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) this.stop();
  }

  /** Something was logged: the counters changed. */
  changed(): void {
    if (this.streams.size > 0) this.pushSoon(AFTER_EVENT_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.soon !== null) clearTimeout(this.soon);
    this.timer = null;
    this.soon = null;
  }

  private pushSoon(delayMs: number): void {
    if (this.soon !== null) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.push();
    }, delayMs).unref();
  }

  private async push(): Promise<void> {
    if (this.pushing || this.streams.size === 0) return;
    this.pushing = true;
    try {
      const message = `event: state\ndata: ${JSON.stringify(await this.read())}\n\n`;
      for (const stream of this.streams) {
        if (!stream.writableEnded && stream.writableLength <= MAX_UNREAD_BYTES) {
          stream.write(message);
        }
      }
    } catch (error) {
      this.onError(error); // the store is away: the next push tries again
    } finally {
      this.pushing = false;
    }
  }
}
