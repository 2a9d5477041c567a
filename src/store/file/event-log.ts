/**
 * The append-only event log: an AppendFile of event lines (group commit, a
 * failed write cut back) that keeps its line count and the last
 * MAX_EVENT_LIMIT events in memory for `GET /events`. Events of session
 * changes are appended with `durable: false`: the journal already holds them
 * durably, and a checkpoint syncs the log before it retires the journal.
 */
import { MAX_EVENT_LIMIT, type ServiceEvent } from '../../domain/event.js';
import { EventListeners } from '../event-listeners.js';
import type { EventListener } from '../store.js';
import { AppendFile } from './append-file.js';
import type { WritableFileSystem } from './file-system.js';

export class EventLog {
  private recent: ServiceEvent[];
  private readonly listeners = new EventListeners();

  private constructor(
    private readonly file: AppendFile<ServiceEvent>,
    private lineCount: number,
    recent: ServiceEvent[],
  ) {
    this.recent = recent.slice(-MAX_EVENT_LIMIT);
  }

  /** Opens the log for appending; `size` must be the end of its last valid line. */
  static async open(
    fs: WritableFileSystem,
    path: string,
    size: number,
    lineCount: number,
    recent: ServiceEvent[],
  ): Promise<EventLog> {
    let log: EventLog | undefined;
    const file = await AppendFile.open<ServiceEvent>(fs, path, size, (events) => {
      log?.committed(events);
    });
    log = new EventLog(file, lineCount, recent);
    return log;
  }

  append(event: ServiceEvent, durable = true): Promise<void> {
    return this.file.append(JSON.stringify(event), event, durable);
  }

  /** Makes every event appended so far durable. */
  sync(): Promise<void> {
    return this.file.sync();
  }

  count(): number {
    return this.lineCount;
  }

  /** Bytes of complete lines written. */
  size(): number {
    return this.file.size();
  }

  /** The last `limit` durable events, oldest first. */
  tail(limit: number): ServiceEvent[] {
    return limit > 0 ? this.recent.slice(-limit) : [];
  }

  close(): Promise<void> {
    return this.file.close();
  }

  /** See Store.onEvent. */
  onEvent(listener: EventListener): () => void {
    return this.listeners.add(listener);
  }

  private committed(events: ServiceEvent[]): void {
    for (const event of events) {
      this.lineCount++;
      this.recent.push(event);
      this.listeners.tell(event, this.lineCount);
    }
    if (this.recent.length > 2 * MAX_EVENT_LIMIT) this.recent = this.recent.slice(-MAX_EVENT_LIMIT);
  }
}
