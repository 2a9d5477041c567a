/** The session use cases over a store, for tests that drive a store directly. */
import { NEVER } from '../../src/domain/expiry.js';
import { DEFAULT_SESSION_MAX_NODES } from '../../src/domain/session.js';
import { SessionService } from '../../src/service/sessions.js';
import type { Store } from '../../src/store/store.js';

export function sessionsOf(store: Store): SessionService {
  return new SessionService(store, {
    maxNodes: DEFAULT_SESSION_MAX_NODES,
    clock: Date.now,
    expiry: NEVER,
  });
}
