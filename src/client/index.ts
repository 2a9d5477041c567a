/**
 * The typed client of the HTTP API: one method an endpoint, on the
 * platform's fetch (Node 18+ and browsers alike). The CLI is built on it,
 * and it is a package of its own, `stateful-service-client` (client/, built
 * from this folder alone by its tsconfig.json: it imports nothing else of
 * ours and needs no dependency); the service's package exports it too, as
 * `stateful-service/client`.
 *
 * An answer with an error status throws ApiError (its `status`, the body's
 * `error` code and `message`); no answer at all throws UnreachableError; an
 * answer no service of ours gives (larger than `maxAnswerBytes`, not the
 * shape of the call's answer, a page cursor that repeats, an event page whose
 * positions cannot be) throws UntrustedAnswerError. The server is not trusted: the admin token goes
 * only to the route that needs it.
 */
import {
  isAnyObject,
  isCrashAnswer,
  isDeleted,
  isHealth,
  isSession,
  isSessionListing,
  isSessionPage,
  isState,
} from './answer-shapes.js';
import { ApiError, UnreachableError, UntrustedAnswerError } from './errors.js';
import { type EventPage, eventPage, type PositionedEvent } from './event-pages.js';
import type {
  CrashAnswer,
  Deleted,
  Health,
  JsonObject,
  LoggedEvent,
  Session,
  SessionInput,
  SessionListing,
  SessionPage,
  State,
} from './wire.js';

export { ApiError, UnreachableError, UntrustedAnswerError } from './errors.js';
export type { EventPage, PositionedEvent } from './event-pages.js';
export type {
  CrashAnswer,
  Deleted,
  EventPageAnswer,
  Health,
  HealthStatus,
  JsonObject,
  LoggedEvent,
  Session,
  SessionInput,
  SessionListing,
  SessionPage,
  State,
} from './wire.js';

export interface ClientOptions {
  /** Where the service answers, e.g. `http://127.0.0.1:8091`. */
  url: string;
  /**
   * Sent as `Authorization: Bearer …` with POST /crash only (what it needs
   * when ADMIN_TOKEN is set), never to the other routes.
   */
  token?: string;
  /** How long one request may take before it is given up (default 30 s). */
  timeoutMs?: number;
  /**
   * The largest answer read, in bytes (default 64 MiB, far above a page at
   * the service's default PAGE_MAX_KB of 4 MiB): a larger one is given up,
   * never held. Not applied to `listSessions()`, the whole listing, whose
   * size has no bound but the store's (about 150 MB at a million sessions).
   */
  maxAnswerBytes?: number;
}

/** The default of ClientOptions.maxAnswerBytes. */
export const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export interface PageOptions {
  /** Sessions on the page, 1 to 1,000 (default 100). */
  limit?: number;
  /** The `next` of the previous page. */
  after?: string | null;
  /** Newest first instead of creation order. */
  newest?: boolean;
  /** Only sessions whose name contains this (any case) or whose id starts with it. */
  search?: string;
}

export interface EventOptions {
  /** Events on the page, 1 to 10,000 (default 50). */
  limit?: number;
  /**
   * The page that ends just before this position (an event's position, its
   * SSE id; a page's `next`). One beyond the log gives its last page.
   */
  before?: number;
}

/**
 * A merge patch (RFC 7396) of a session: `data` keys set to null are
 * removed; `ttl_seconds` and `idle_seconds` set its expiry as on a create
 * (null: none of that kind; absent: kept).
 */
export interface SessionPatch {
  name?: string;
  data?: JsonObject;
  ttl_seconds?: number | null;
  idle_seconds?: number | null;
}

/**
 * What is wrong with `url` as the service's address, or null: http(s), a
 * host, and no query, fragment or credentials (the client adds paths to it,
 * so `?x=1` would turn /health into a query; fetch refuses credentials).
 */
export function wrongBaseUrl(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the URL cannot be parsed';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return 'it is not http:// or https://';
  if (!/^https?:\/\/[^/]/.test(url)) return 'it names no host';
  if (parsed.search !== '' || url.includes('?')) return 'it has a query (?…)';
  if (parsed.hash !== '' || url.includes('#')) return 'it has a fragment (#…)';
  if (parsed.username !== '' || parsed.password !== '') return 'it holds a user name or password';
  return null;
}

export class StatefulClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxAnswerBytes: number;

  constructor(options: ClientOptions | string) {
    const { url, token, timeoutMs, maxAnswerBytes } =
      typeof options === 'string' ? ({ url: options } as ClientOptions) : options;
    const wrong = wrongBaseUrl(url);
    if (wrong !== null) throw new TypeError(wrong);
    this.url = url.replace(/\/+$/, '');
    this.token = token;
    this.timeoutMs = timeoutMs ?? 30_000;
    this.maxAnswerBytes = maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  }

  health(): Promise<Health> {
    return this.request('GET', '/health', undefined, { check: isHealth });
  }

  state(): Promise<State> {
    return this.request('GET', '/state', undefined, { check: isState });
  }

  /**
   * The last `limit` events, oldest first; with `before`, the page that ends
   * just before that position. Each event's position is in `positions`, and
   * `next` (the `before` of the page older still) is given on every page.
   */
  async events(options: EventOptions = {}): Promise<EventPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.before !== undefined) query.set('before', String(options.before));
    const search = query.toString(); // not query.size: Node 18 has none
    const answer = await this.request('GET', `/events${search === '' ? '' : `?${search}`}`);
    return eventPage(answer, options.before, this.url);
  }

  /**
   * Every event with its position, newest first, from the log's end (or from
   * just before `before`) back to its first event: a page of `limit` (default
   * 1,000) at a time, following each page's `next`. Events logged after it
   * starts are not in it. A `next` that does not go back would loop for
   * ever: UntrustedAnswerError instead (see eventPage).
   */
  async *eventHistory(options: EventOptions = {}): AsyncGenerator<PositionedEvent> {
    const limit = options.limit ?? 1000;
    let before = options.before;
    for (;;) {
      const page = await this.events(before === undefined ? { limit } : { limit, before });
      for (let index = page.events.length - 1; index >= 0; index--) {
        yield {
          position: page.positions[index] as number,
          event: page.events[index] as LoggedEvent,
        };
      }
      if (page.next === null) return;
      before = page.next;
    }
  }

  /** Every session in one answer (the original's listing, any size): prefer pages at scale. */
  listSessions(): Promise<SessionListing> {
    return this.request('GET', '/sessions', undefined, {
      maxAnswerBytes: Infinity,
      check: isSessionListing,
    });
  }

  /** One page of sessions; its `next` is the `after` of the page that follows. */
  sessionPage(options: PageOptions = {}): Promise<SessionPage> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 100) });
    query.set('order', options.newest === true ? 'newest' : 'oldest');
    if (options.search !== undefined) query.set('q', options.search);
    if (options.after !== undefined && options.after !== null) query.set('after', options.after);
    return this.request('GET', `/sessions?${query}`, undefined, { check: isSessionPage });
  }

  /**
   * Every session, a page at a time (`limit` a page, default 1,000). A
   * `next` seen before would loop for ever: UntrustedAnswerError instead.
   */
  async *sessions(options: Omit<PageOptions, 'after'> = {}): AsyncGenerator<Session> {
    for await (const page of this.pages({ limit: 1000, ...options })) yield* page.sessions;
  }

  /**
   * A page of up to `limit` matches of `search`: a search page looks at no
   * more than 20,000 sessions, so this follows its `next` until the page is
   * full, the sessions end, or `deadline` (epoch milliseconds) has passed.
   * `scanned` adds up what the pages looked at; `next` goes on from where it
   * stopped (null: to the end). `onProgress` hears the total after each.
   */
  async searchSessions(
    options: PageOptions & {
      search: string;
      deadline?: number;
      onProgress?: (scanned: number) => void;
    },
  ): Promise<SessionPage & { scanned: number }> {
    const { deadline = Number.POSITIVE_INFINITY, onProgress, ...query } = options;
    const limit = query.limit ?? 100;
    const sessions: Session[] = [];
    let scanned = 0;
    let next: string | null = query.after ?? null;
    for await (const page of this.pages(query, () => limit - sessions.length)) {
      sessions.push(...page.sessions);
      scanned += page.scanned ?? 0;
      next = page.next;
      onProgress?.(scanned);
      if (sessions.length >= limit || Date.now() >= deadline) break;
    }
    return { sessions, count: sessions.length, next, scanned };
  }

  /**
   * The pages from `options.after` on, following `next` (each asking for
   * `limit()` sessions) until it is null; one seen before would loop for
   * ever: UntrustedAnswerError instead.
   */
  private async *pages(
    options: PageOptions,
    limit: () => number = () => options.limit ?? 100,
  ): AsyncGenerator<SessionPage> {
    const seen = new Set<string>();
    let after = options.after ?? null;
    do {
      const page: SessionPage = await this.sessionPage({ ...options, limit: limit(), after });
      yield page;
      after = page.next;
      if (after !== null && seen.has(after)) {
        throw new UntrustedAnswerError(this.url, 'a page cursor (next) repeats');
      }
      if (after !== null) seen.add(after);
    } while (after !== null);
  }

  getSession(id: string): Promise<Session> {
    return this.request('GET', `/sessions/${encodeURIComponent(id)}`, undefined, {
      check: isSession,
    });
  }

  createSession(input: SessionInput = {}): Promise<Session> {
    return this.request('POST', '/sessions', input, { check: isSession });
  }

  /** PUT, as the original: `name` and `data`, when given, replace what the session had. */
  replaceSession(id: string, input: SessionInput): Promise<Session> {
    return this.request('PUT', `/sessions/${encodeURIComponent(id)}`, input, { check: isSession });
  }

  /** PATCH: merges `data` (keys it does not name are kept; null removes one). */
  patchSession(id: string, patch: SessionPatch): Promise<Session> {
    return this.request('PATCH', `/sessions/${encodeURIComponent(id)}`, patch, {
      check: isSession,
    });
  }

  deleteSession(id: string): Promise<Deleted> {
    return this.request('DELETE', `/sessions/${encodeURIComponent(id)}`, undefined, {
      check: isDeleted,
    });
  }

  /** Ends the service on purpose (a supervisor starts a new one): the crash_count it counted. */
  crash(): Promise<CrashAnswer> {
    return this.request('POST', '/crash', undefined, { admin: true, check: isCrashAnswer });
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    {
      admin = false,
      maxAnswerBytes = this.maxAnswerBytes,
      check = isAnyObject,
    }: { admin?: boolean; maxAnswerBytes?: number; check?: (value: unknown) => string | null } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers['content-type'] =
        method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    }
    if (admin && this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await this.readAnswer(response, maxAnswerBytes);
    } catch (error) {
      if (error instanceof UntrustedAnswerError) throw error;
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      throw new UnreachableError(this.url, cause ?? (error as Error).message);
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as it came
    }
    if (!response.ok) {
      const answer = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
        error?: unknown;
        message?: unknown;
      };
      throw new ApiError(
        response.status,
        typeof answer.error === 'string' ? answer.error : `http_${response.status}`,
        typeof answer.message === 'string' ? answer.message : `HTTP ${response.status}`,
        parsed,
      );
    }
    const wrong = check(parsed);
    if (wrong !== null) throw new UntrustedAnswerError(this.url, `${wrong} (${method} ${path})`);
    return parsed as T;
  }

  /** The answer's body as text, read up to `maxBytes` (then given up, the connection closed). */
  private async readAnswer(response: Response, maxBytes: number): Promise<string> {
    const tooLarge = () =>
      new UntrustedAnswerError(this.url, `its answer is over ${maxBytes} bytes`);
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw tooLarge();
    }
    if (response.body === null) return '';
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    let bytes = 0;
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      text += decoder.decode(value, { stream: true });
    }
  }
}
