/**
 * The typed client of the HTTP API (`import { StatefulClient } from
 * 'stateful-service/client'`): one method an endpoint, typed by the same
 * schemas the service answers with, on the platform's fetch (Node 18+ and
 * browsers alike). The CLI is built on it.
 *
 * An answer with an error status throws ApiError (its `status`, the body's
 * `error` code and `message`); no answer at all throws UnreachableError.
 */
import type { JsonObject, Session, SessionInput } from '../domain/schemas.js';
import type {
  CrashAnswer,
  Deleted,
  EventPage,
  Health,
  LoggedEvent,
  SessionListing,
  SessionPage,
  State,
} from '../http/schemas.js';

export type {
  CrashAnswer,
  Deleted,
  EventPage,
  Health,
  JsonObject,
  LoggedEvent,
  Session,
  SessionInput,
  SessionListing,
  SessionPage,
  State,
};

export interface ClientOptions {
  /** Where the service answers, e.g. `http://127.0.0.1:8091`. */
  url: string;
  /** Sent as `Authorization: Bearer …` (what POST /crash needs when ADMIN_TOKEN is set). */
  token?: string;
  /** How long one request may take before it is given up (default 30 s). */
  timeoutMs?: number;
}

/** The service answered with an error status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The answer's `error` code (`not_found`, `invalid_input`, …), or `http_<status>`. */
    readonly code: string,
    message: string,
    /** The answer's body as it came (parsed when it was JSON). */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** No answer at all: nothing listens at the URL, or it took longer than timeoutMs. */
export class UnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the service at ${url} (${reason}).`);
    this.name = 'UnreachableError';
  }
}

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
  /** The page that ends just before this position (an event's id; a page's `next`). */
  before?: number;
}

/** A merge patch (RFC 7396) of a session: `data` keys set to null are removed. */
export interface SessionPatch {
  name?: string;
  data?: JsonObject;
}

export class StatefulClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: ClientOptions | string) {
    const { url, token, timeoutMs } = typeof options === 'string' ? { url: options } : options;
    this.url = url.replace(/\/+$/, '');
    this.token = token;
    this.timeoutMs = timeoutMs ?? 30_000;
  }

  health(): Promise<Health> {
    return this.request('GET', '/health');
  }

  state(): Promise<State> {
    return this.request('GET', '/state');
  }

  /** The last `limit` events, oldest first; with `before`, the page that ends before it. */
  events(options: EventOptions = {}): Promise<EventPage> {
    const query = new URLSearchParams();
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    if (options.before !== undefined) query.set('before', String(options.before));
    return this.request('GET', `/events${query.size > 0 ? `?${query}` : ''}`);
  }

  /** Every session in one answer (the original's listing): prefer pages at scale. */
  listSessions(): Promise<SessionListing> {
    return this.request('GET', '/sessions');
  }

  /** One page of sessions; its `next` is the `after` of the page that follows. */
  sessionPage(options: PageOptions = {}): Promise<SessionPage> {
    const query = new URLSearchParams({ limit: String(options.limit ?? 100) });
    query.set('order', options.newest === true ? 'newest' : 'oldest');
    if (options.search !== undefined) query.set('q', options.search);
    if (options.after !== undefined && options.after !== null) query.set('after', options.after);
    return this.request('GET', `/sessions?${query}`);
  }

  /** Every session, a page at a time (`limit` a page, default 1,000). */
  async *sessions(options: Omit<PageOptions, 'after'> = {}): AsyncGenerator<Session> {
    let after: string | null = null;
    do {
      const page: SessionPage = await this.sessionPage({
        limit: 1000,
        ...options,
        after,
      });
      yield* page.sessions;
      after = page.next;
    } while (after !== null);
  }

  getSession(id: string): Promise<Session> {
    return this.request('GET', `/sessions/${encodeURIComponent(id)}`);
  }

  createSession(input: SessionInput = {}): Promise<Session> {
    return this.request('POST', '/sessions', input);
  }

  /** PUT, as the original: `name` and `data`, when given, replace what the session had. */
  replaceSession(id: string, input: SessionInput): Promise<Session> {
    return this.request('PUT', `/sessions/${encodeURIComponent(id)}`, input);
  }

  /** PATCH: merges `data` (keys it does not name are kept; null removes one). */
  patchSession(id: string, patch: SessionPatch): Promise<Session> {
    return this.request('PATCH', `/sessions/${encodeURIComponent(id)}`, patch);
  }

  deleteSession(id: string): Promise<Deleted> {
    return this.request('DELETE', `/sessions/${encodeURIComponent(id)}`);
  }

  /** Ends the service on purpose (a supervisor starts a new one): the crash_count it counted. */
  crash(): Promise<CrashAnswer> {
    return this.request('POST', '/crash');
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) {
      headers['content-type'] =
        method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    }
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
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
    return parsed as T;
  }
}
