import type { ServiceEvent } from '../../src/domain/event.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * Logs `event` as the store logs its own, durably: how a test fills the log
 * without a change to log it. Not on the port (no use case logs an event
 * without a change), so each store's own way.
 */
export function appendEvent(store: Store, event: ServiceEvent): Promise<void> {
  if (store instanceof FileStore) return store.events.append(event);
  if (store instanceof PostgresStore) return store.appendEvent(event);
  throw new Error('appendEvent: a store this helper does not know');
}
