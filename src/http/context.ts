/** What the routes need from the running service, handed in by the lifecycle. */
import type { Store } from '../store/store.js';

export interface ServiceContext {
  store: Store;
  /** performance.now() at process start. */
  startedAt: number;
  /** Counts a request in requests_this_instance and total_requests. */
  countRequest(): void;
  requestsThisInstance(): number;
  /** Counts the crash durably (marker, crash_count, event); resolves with the new crash_count. */
  recordCrash(): Promise<number>;
  /** Called once the crash answer is on the wire: ends the process hard. */
  exitAfterCrash(): void;
}

export function uptimeSeconds(context: ServiceContext): number {
  return Math.round((performance.now() - context.startedAt) / 100) / 10;
}
