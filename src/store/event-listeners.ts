/** The listeners of Store.onEvent, told each event in log order; shared by the stores. */
import type { ServiceEvent } from '../domain/event.js';
import type { EventListener } from './store.js';

export class EventListeners {
  private readonly listeners = new Set<EventListener>();

  get size(): number {
    return this.listeners.size;
  }

  /** Adds `listener`; returns the unsubscribe. */
  add(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tell(event: ServiceEvent, position: number): void {
    for (const listener of this.listeners) {
      try {
        listener(event, position);
      } catch {
        // A listener's failure is its own; the log has the event either way.
      }
    }
  }
}
