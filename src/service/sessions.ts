/**
 * The session use cases, written once for every store and every door (HTTP
 * today): what a create starts with and logs, what an update replaces and
 * counts, what a delete logs. The store makes each change and its event
 * durable as one.
 */

import {
  sessionCreatedEvent,
  sessionDeletedEvent,
  sessionTouchedEvent,
  sessionUpdatedEvent,
} from '../domain/event.js';
import type { ExpiryDefaults } from '../domain/expiry.js';
import type { Page, PageQuery } from '../domain/page.js';
import {
  createSession,
  patchSession,
  type Session,
  type SessionJson,
  sessionNotFound,
  touchSession,
  updateSession,
  validatePatchInput,
  validateSessionInput,
} from '../domain/session.js';
import type { Clock } from '../domain/time.js';
import type { Store } from '../store/store.js';

export interface SessionRules {
  /** SESSION_MAX_NODES: the most values and keys a session's data may hold. */
  maxNodes: number;
  /** Now (the store's clock). */
  clock: Clock;
  /** The expiry a create gives when the request asks for none. */
  expiry: ExpiryDefaults;
}

export class SessionService {
  private readonly maxNodes: number;
  /** The read touches being written, by session (see get). */
  private readonly touching = new Map<string, Promise<Session>>();

  constructor(
    private readonly store: Store,
    private readonly rules: SessionRules,
  ) {
    this.maxNodes = rules.maxNodes;
  }

  private now(): Date {
    return new Date(this.rules.clock());
  }

  /** Creates a session from a request body (throws InvalidInputError, SessionTooLargeError). */
  async create(body: unknown): Promise<Session> {
    const input = validateSessionInput(body, this.maxNodes);
    const session = createSession(input, this.now(), this.rules.expiry);
    await this.store.insertSession(session, sessionCreatedEvent(this.store.instanceId, session));
    return session;
  }

  /**
   * Throws NotFoundError. With SESSION_TOUCH=reads a read is a touch: it
   * moves an idle expiry, written when it moves it by a tenth of the idle
   * timeout or more (a `session_touched` event), never otherwise.
   */
  async get(id: string): Promise<Session> {
    const session = await this.store.getSession(id);
    if (session === undefined) throw sessionNotFound(id);
    if (this.rules.expiry.touch !== 'reads') return session;
    const now = this.now();
    const touched = touchSession(session, now);
    if (touched === null) return session;
    // Reads of one session that come due for a touch together share one:
    // a burst of them is one write, not one each.
    const pending = this.touching.get(id);
    if (pending !== undefined) return pending;
    const dueTo = touched.expires_at;
    const touch = this.store
      .changeSession(
        id,
        // Under the session's lock, from its latest version: a write since may
        // have moved it, or a touch that finished after this read began (then
        // nothing is written, and the read answers that version).
        (current) => {
          const next = touchSession(current, now);
          // Only the touch its event names (a write may have changed the idle timeout).
          if (next === null || next.expires_at !== dueTo) return null;
          return { session: next, patch: null };
        },
        sessionTouchedEvent(this.store.instanceId, touched as { id: string; expires_at: string }),
      )
      .finally(() => this.touching.delete(id));
    this.touching.set(id, touch);
    return touch;
  }

  /**
   * GET /sessions/:id's answer as JSON, as it is held (no parse and no
   * serialize a read); null when reads touch (SESSION_TOUCH=reads: `get`
   * answers, with the session it may have touched). Throws NotFoundError.
   */
  async getJson(id: string): Promise<SessionJson | null> {
    if (this.rules.expiry.touch === 'reads') return null;
    const json = await this.store.getSessionJson(id);
    if (json === undefined) throw sessionNotFound(id);
    return json;
  }

  /** A PUT: replaces the fields the body names and counts the access. Throws NotFoundError. */
  update(id: string, body: unknown): Promise<Session> {
    const input = validateSessionInput(body, this.maxNodes);
    return this.store.changeSession(
      id,
      (current) => updateSession(current, input, this.now()),
      sessionUpdatedEvent(this.store.instanceId, id),
    );
  }

  /**
   * A PATCH: a JSON Merge Patch (RFC 7396) of the session's name and data;
   * counts the access and logs the change as a PUT does. Throws NotFoundError,
   * InvalidInputError, SessionTooLargeError.
   */
  patch(id: string, body: unknown): Promise<Session> {
    const input = validatePatchInput(body, this.maxNodes);
    return this.store.changeSession(
      id,
      (current) => patchSession(current, input, this.maxNodes, this.now()),
      sessionUpdatedEvent(this.store.instanceId, id),
    );
  }

  /** Throws NotFoundError. */
  delete(id: string): Promise<void> {
    return this.store.removeSession(id, sessionDeletedEvent(this.store.instanceId, id));
  }

  /** Every session in creation order, as JSON, `batchSize` at a time (see Store.sessionBatches). */
  batches(batchSize: number): AsyncIterable<readonly SessionJson[]> {
    return this.store.sessionBatches(batchSize);
  }

  /** A page of sessions, as JSON, and the cursor of the next (see domain/page.ts). */
  async page(query: PageQuery): Promise<Page<SessionJson>> {
    return this.store.sessionPage(query);
  }

  /** See InProcessFacts.sessionsVersion; null when the store cannot know (other replicas write too). */
  version(): number | null {
    return this.store.inProcess?.sessionsVersion() ?? null;
  }
}
