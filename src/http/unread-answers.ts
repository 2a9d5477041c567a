/**
 * One bound over all connections on the answers the service has built and
 * clients have not taken yet. The per-connection bounds (pipelining, the
 * page size) hold, but a crowd of clients that send requests for large
 * answers and never read them makes each connection hold up to
 * MAX_PIPELINED_REQUESTS answers of up to PAGE_MAX_KB in memory: 700 of
 * them killed the process's heap. Here every answer of MIN_COUNTED_LENGTH
 * or more counts from the moment it is built until its last byte is handed
 * to the kernel (the response's `finish`) or its connection closes, and
 * while the total is over UNREAD_ANSWERS_MB:
 *
 * - requests (except `GET /health`, which stays answered) get a JSON 503
 *   `too_busy` with `Retry-After: 1` before their body is read or an answer
 *   built, and a large answer to a read built meanwhile (by a request
 *   admitted before the bound was reached) is replaced by that 503 rather
 *   than held (never a write's: it has committed, and a retry would repeat it);
 * - the connections that have taken nothing of their answers for STALE_MS
 *   are closed, those holding the most first, until the total is under
 *   three quarters of the bound: the clients that do not read lose their
 *   answers, the ones that do keep theirs. Only stale ones: closing any
 *   would make room for the next non-reading client to fill at once, and the
 *   service would build answer after answer for clients that never read.
 *
 * Bodies still arriving count too, against the same bound: a request that
 * declares a body of MIN_COUNTED_LENGTH or more (its Content-Length, or
 * MAX_BODY_BYTES when it is sent in chunks) holds that much from its
 * headers until its answer is finished, and one that would take the total
 * past the bound is refused with the same 503, its body never read (the
 * connection closes): 1,000 connections trickling bodies of 1 MiB would
 * otherwise hold a GiB.
 *
 * One client address (request.ip: see client-address.ts; not loopback) may
 * hold at most UNREAD_ANSWERS_PER_ADDRESS_MB of them: past its share, its
 * own requests get the 503 while everyone else's are served, so no one
 * machine can fill the bound for all.
 *
 * Answers are weighed by their length in characters (O(1); the UTF-8 bytes
 * of a 4 MiB string cost a scan): an answer of non-ASCII text weighs up to
 * three times that in bytes. Small answers are not counted (no listener a
 * request on the common path): 1,000 connections × 8 pipelined × 4 Ki
 * characters is 32 Mi characters at most.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TooBusyError } from '../domain/errors.js';
import { MAX_BODY_BYTES } from '../domain/schemas.js';
import type { AnswerTurns } from './answer-turns.js';
import { isLoopback } from './client-address.js';
import { OnceASecond } from './once-a-second.js';

/** Answers shorter than this (in characters) are not counted. */
export const MIN_COUNTED_LENGTH = 4 * 1024;
/** Past the bound, connections are closed until the total is under this share of it. */
const SHED_TO = 0.75;
/** How long a connection must have taken nothing of its answers before the bound may close it. */
export const STALE_MS = 2_000;
/** How often, at most, the connections are looked over while the bound is exceeded. */
const SHED_EVERY_MS = 250;

const TOO_BUSY_MESSAGE =
  'The service holds as many answers as clients have left unread as it may ' +
  '(UNREAD_ANSWERS_MB); retry in a moment.';
const BODY_REFUSED_MESSAGE =
  'The service holds as much of answers left unread and bodies still arriving as it may ' +
  '(UNREAD_ANSWERS_MB): this body was not read; retry in a moment.';
const OVER_SHARE_MESSAGE =
  'The service holds as many answers this client address has left unread as one ' +
  'address may (UNREAD_ANSWERS_PER_ADDRESS_MB): read them, or retry in a moment.';

/** What one payload weighs, in O(1): a string by its length, a Buffer by its bytes. */
function payloadWeight(payload: unknown): number {
  if (typeof payload === 'string') return payload.length;
  return Buffer.isBuffer(payload) ? payload.length : 0;
}

/** What one connection holds: its answers not yet taken, and since when it took nothing. */
interface Held {
  weight: number;
  /** When it began to hold answers, or last had one taken. */
  since: number;
  /** Releases each answer it holds (its connection's close releases them all). */
  answers: Set<() => void>;
}

export class UnreadAnswers {
  private total = 0;
  private readonly bySocket = new Map<Socket, Held>();
  /** The weight each client address holds (`unshared` ones not counted). */
  private readonly byAddress = new Map<string, number>();
  /** Sockets whose close this already listens to (once each, however many answers they carry). */
  private readonly watched = new WeakSet<Socket>();
  /** Connections closed by the bound whose close has not released their answers yet. */
  private readonly closing = new WeakSet<Socket>();
  private lastShed = Number.NEGATIVE_INFINITY;
  private readonly closed: OnceASecond;

  /** The most all connections may hold, and one client address (0: no share of its own). */
  readonly maxWeight: number;
  readonly maxPerAddress: number;
  private readonly now: () => number;
  private readonly unshared: (address: string) => boolean;

  constructor(
    bounds: { maxWeight: number; maxPerAddress: number },
    options: {
      /** Told, at most once a second, how many connections the bound closed. */
      say?: (fields: Record<string, number | string>) => void;
      now?: () => number;
      /** The addresses that have no share of their own: loopback by default (and trusted proxies). */
      unshared?: (address: string) => boolean;
    } = {},
  ) {
    this.maxWeight = bounds.maxWeight;
    this.maxPerAddress = bounds.maxPerAddress;
    this.now = options.now ?? (() => performance.now());
    this.unshared = options.unshared ?? isLoopback;
    this.closed = new OnceASecond(options.say ?? (() => undefined), this.now);
  }

  /** The weight of answers built and not yet handed to the kernel, over all connections. */
  get weight(): number {
    return this.total;
  }

  /** Whether the bound is exceeded (then stale connections are closed, at most every SHED_EVERY_MS). */
  get full(): boolean {
    if (this.total <= this.maxWeight) return false;
    if (this.now() - this.lastShed >= SHED_EVERY_MS) this.shed();
    return this.total > this.maxWeight;
  }

  /** Whether any client address holds answers (before `overShare` asks whose request it is). */
  get addressesHold(): boolean {
    return this.byAddress.size > 0;
  }

  /** Whether `address` holds, or with `adding` more would hold, more than its share (never an unshared one). */
  overShare(address: string, adding = 0): boolean {
    if (this.maxPerAddress === 0 || this.unshared(address)) return false;
    return (this.byAddress.get(address) ?? 0) + adding > this.maxPerAddress;
  }

  /**
   * Counts `weight` on `socket`, and on `address`, until `response` is
   * finished or the socket closes (one listener an answer: an answer that
   * does not finish ends with its connection, and a pipelined one still
   * queued then gets no event of its own on every Node version).
   */
  hold(socket: Socket, response: NodeJS.EventEmitter, weight: number, address: string): void {
    let entry = this.bySocket.get(socket);
    if (entry === undefined) {
      entry = { weight: 0, since: this.now(), answers: new Set() };
      this.bySocket.set(socket, entry);
    }
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => {
        for (const release of [...(this.bySocket.get(socket)?.answers ?? [])]) release();
      });
    }
    this.total += weight;
    entry.weight += weight;
    const counted = this.maxPerAddress > 0 && !this.unshared(address);
    if (counted) this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + weight);
    const held = entry;
    const release = (): void => {
      if (!held.answers.delete(release)) return;
      this.total -= weight;
      held.weight -= weight;
      if (counted) {
        const left = (this.byAddress.get(address) ?? weight) - weight;
        if (left > 0) this.byAddress.set(address, left);
        else this.byAddress.delete(address);
      }
      held.since = this.now(); // it took something: not stale
      if (held.answers.size === 0) this.bySocket.delete(socket);
    };
    held.answers.add(release);
    // An answer that never finishes ends with its connection (the close above).
    response.once('finish', release);
  }

  /** Closes stale connections, holding the most first, until the total is under SHED_TO of the bound. */
  private shed(): void {
    const now = this.now();
    this.lastShed = now;
    let left = this.total;
    const stale: [Socket, number][] = [];
    for (const [socket, held] of this.bySocket) {
      if (this.closing.has(socket))
        left -= held.weight; // released on its close
      else if (now - held.since >= STALE_MS) stale.push([socket, held.weight]);
    }
    stale.sort((a, b) => b[1] - a[1]);
    let closed = 0;
    for (const [socket, weight] of stale) {
      if (left <= this.maxWeight * SHED_TO) break;
      left -= weight;
      this.closing.add(socket);
      closed++;
      socket.destroy();
    }
    if (closed > 0) {
      this.closed.note({ unread_weight: this.total, limit: this.maxWeight }, closed);
    }
  }
}

/** The bytes a request's body will take: its Content-Length, MAX_BODY_BYTES if chunked, else 0. */
function declaredBodyBytes(request: FastifyRequest): number {
  const length = request.headers['content-length'];
  if (length !== undefined) return Math.min(Number(length) || 0, MAX_BODY_BYTES);
  return request.headers['transfer-encoding'] === undefined ? 0 : MAX_BODY_BYTES;
}

export function isHealth(request: FastifyRequest): boolean {
  return request.routeOptions.url === '/health';
}

export function isRead(request: FastifyRequest): boolean {
  return request.method === 'GET' || request.method === 'HEAD';
}

/** What the app's onRequest hook asks of the bound, request by request. */
export interface UnreadGate {
  /** Throws TooBusyError, before the body is read, while the bound or the client's share is exceeded. */
  check(request: FastifyRequest, reply: FastifyReply): void;
  /** After a turn waited for (answer-turns.ts), the bound again (a crowd passes `check` all at once): the refusal, or null. */
  refusalAfterTurn(request: FastifyRequest, reply: FastifyReply): TooBusyError | null;
}

/**
 * Counts large answers (onSend), replacing a read's answer by the 503 while
 * the bound is exceeded, and tells `turns` what each answer weighed (see
 * answer-turns.ts); returns the gate for the app's onRequest hook.
 */
export function boundUnreadAnswers(
  app: FastifyInstance,
  unread: UnreadAnswers,
  turns: AnswerTurns,
): UnreadGate {
  const refusal = (request: FastifyRequest, body: number): string | null => {
    if (unread.full) return TOO_BUSY_MESSAGE;
    const overShare = (unread.addressesHold || body > 0) && unread.overShare(request.ip, body);
    if (overShare) return OVER_SHARE_MESSAGE;
    return body > 0 && unread.weight + body > unread.maxWeight ? BODY_REFUSED_MESSAGE : null;
  };
  app.addHook('onSend', function weighAnswer(request, reply, payload, done) {
    const weight = payloadWeight(payload);
    turns.built(weight);
    if (weight < MIN_COUNTED_LENGTH) {
      done(null, payload);
      return;
    }
    if (isRead(request) && !isHealth(request) && unread.full) {
      for (const name of Object.keys(reply.getHeaders())) reply.removeHeader(name);
      reply.code(503).header('retry-after', '1').type('application/json; charset=utf-8');
      done(null, JSON.stringify({ error: 'too_busy', message: TOO_BUSY_MESSAGE }));
      return;
    }
    unread.hold(request.raw.socket, reply.raw, weight, request.ip);
    done(null, payload);
  });
  return {
    check(request, reply) {
      if (isHealth(request)) return;
      // A small body is not counted, as a small answer is not.
      const declared = declaredBodyBytes(request);
      const body = declared >= MIN_COUNTED_LENGTH ? declared : 0;
      const message = refusal(request, body);
      if (message === null) {
        // Held from the headers until the answer is finished (or the connection closes).
        if (body > 0) unread.hold(request.raw.socket, reply.raw, body, request.ip);
        return;
      }
      reply.header('retry-after', '1');
      // Its body is never read: the connection cannot carry another request.
      if (body > 0) reply.header('connection', 'close');
      throw new TooBusyError(message);
    },
    refusalAfterTurn(request, reply) {
      const message = unread.weight === 0 ? null : refusal(request, 0);
      if (message === null) return null;
      reply.header('retry-after', '1');
      return new TooBusyError(message);
    },
  };
}
