/**
 * One bound over all connections on the answers the service has built and
 * clients have not taken yet. The per-connection bounds (pipelining, the
 * page size) hold, but a crowd of clients that send requests for large
 * answers and never read them makes each connection hold up to
 * MAX_PIPELINED_REQUESTS answers of up to PAGE_MAX_KB in memory: 700 of
 * them killed the process's heap. Here every answer of MIN_COUNTED_BYTES or
 * more counts from the moment it is built until its last byte is handed to
 * the kernel (the response's `finish`) or its connection ends, and while the
 * total is over UNREAD_ANSWERS_MB:
 *
 * - requests (except `GET /health`, which stays answered) get a JSON 503
 *   `too_busy` with `Retry-After: 1` instead of building another answer,
 *   and a large answer built meanwhile (by a request admitted before the
 *   bound was reached) is replaced by that 503 rather than held;
 * - the connections that have left answers unread for STALE_MS or longer
 *   are closed, those holding the most first, until the total is under
 *   three quarters of the bound: the clients that do not read lose their
 *   answers, the ones that do keep theirs. Only stale ones: closing any
 *   would make room for the next non-reading client to fill at once, and the
 *   service would build answer after answer for clients that never read.
 *
 * Small answers are not counted (no listener a request on the common path):
 * with MAX_CONNECTIONS × MAX_PIPELINED_REQUESTS of them, 1,000 × 8 × 4 KiB
 * is 32 MiB at most.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { TooBusyError } from '../domain/errors.js';

/** Answers smaller than this are not counted. */
export const MIN_COUNTED_BYTES = 4 * 1024;
/** Past the bound, connections are closed until the total is under this share of it. */
const SHED_TO = 0.75;
/** How long a connection must have left answers unread before the bound may close it. */
export const STALE_MS = 2_000;
/** How often, at most, the connections are looked over while the bound is exceeded. */
const SHED_EVERY_MS = 250;

const TOO_BUSY_MESSAGE =
  'The service holds as many answers as clients have left unread as it may ' +
  '(UNREAD_ANSWERS_MB); retry in a moment.';

/**
 * What one payload weighs, in O(1): a string by its length (its bytes, for
 * the ASCII JSON answers are; counting a 4 MiB string's UTF-8 bytes would
 * flatten and scan it), a Buffer by its bytes.
 */
function payloadBytes(payload: unknown): number {
  if (typeof payload === 'string') return payload.length;
  return Buffer.isBuffer(payload) ? payload.length : 0;
}

interface Held {
  bytes: number;
  /** When the connection last went from holding nothing to holding answers. */
  since: number;
}

export class UnreadAnswers {
  private total = 0;
  private readonly bySocket = new Map<Socket, Held>();
  /** Connections closed by the bound whose answers are not released yet. */
  private readonly closing = new WeakSet<Socket>();
  private lastShed = Number.NEGATIVE_INFINITY;
  /** Connections closed by the bound since the last time it was said. */
  private closedUnsaid = 0;
  private lastSaid = Number.NEGATIVE_INFINITY;

  constructor(
    readonly maxBytes: number,
    /** Told, at most once a second, how many connections the bound closed. */
    private readonly say: (fields: Record<string, number>) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Bytes of answers built and not yet handed to the kernel, over all connections. */
  get bytes(): number {
    return this.total;
  }

  /** Whether the bound is exceeded (then stale connections are closed, at most every SHED_EVERY_MS). */
  get full(): boolean {
    if (this.total <= this.maxBytes) return false;
    if (this.now() - this.lastShed >= SHED_EVERY_MS) this.shed();
    return this.total > this.maxBytes;
  }

  /** Counts `bytes` on `socket` until `response` is finished or closed. */
  hold(socket: Socket, response: NodeJS.EventEmitter, bytes: number): void {
    this.total += bytes;
    const held = this.bySocket.get(socket);
    if (held === undefined) this.bySocket.set(socket, { bytes, since: this.now() });
    else held.bytes += bytes;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.total -= bytes;
      const entry = this.bySocket.get(socket);
      if (entry === undefined) return;
      entry.bytes -= bytes;
      if (entry.bytes <= 0) this.bySocket.delete(socket);
    };
    response.once('finish', release);
    response.once('close', release);
  }

  /** Closes stale connections, holding the most first, until the total is under SHED_TO of the bound. */
  private shed(): void {
    const now = this.now();
    this.lastShed = now;
    let left = this.total;
    const stale: [Socket, number][] = [];
    for (const [socket, held] of this.bySocket) {
      if (this.closing.has(socket))
        left -= held.bytes; // closed already, released soon
      else if (now - held.since >= STALE_MS) stale.push([socket, held.bytes]);
    }
    stale.sort((a, b) => b[1] - a[1]);
    for (const [socket, bytes] of stale) {
      if (left <= this.maxBytes * SHED_TO) break;
      left -= bytes;
      this.closing.add(socket);
      this.closedUnsaid++;
      socket.destroy();
    }
    if (this.closedUnsaid > 0 && now - this.lastSaid >= 1000) {
      this.say({
        connections: this.closedUnsaid,
        unread_bytes: this.total,
        limit_bytes: this.maxBytes,
      });
      this.closedUnsaid = 0;
      this.lastSaid = now;
    }
  }
}

/**
 * Counts large answers (onSend) and refuses work while the bound is
 * exceeded: a request before its handler builds an answer (preHandler), a
 * large answer built anyway instead of holding it (onSend).
 */
export function boundUnreadAnswers(app: FastifyInstance, unread: UnreadAnswers): void {
  app.addHook('preHandler', (request, reply, done) => {
    if (request.url === '/health' || !unread.full) {
      done();
      return;
    }
    reply.header('retry-after', '1');
    done(new TooBusyError(TOO_BUSY_MESSAGE));
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const bytes = payloadBytes(payload);
    if (bytes < MIN_COUNTED_BYTES) {
      done(null, payload);
      return;
    }
    if (request.url !== '/health' && unread.full) {
      reply.code(503).header('retry-after', '1').type('application/json; charset=utf-8');
      reply.removeHeader('link');
      done(null, JSON.stringify({ error: 'too_busy', message: TOO_BUSY_MESSAGE }));
      return;
    }
    unread.hold(request.raw.socket, reply.raw, bytes);
    done(null, payload);
  });
}
