/**
 * The append-only event log with group commit. `append` resolves once the
 * event's line is written and fsynced; events appended while a write is in
 * flight go out together in the next write and share its fsync. A failed
 * write is cut back off the file, so the log never keeps half a batch.
 * The last MAX_EVENT_LIMIT events are kept in memory for `GET /events`.
 */
import type { FileHandle } from 'node:fs/promises';
import { MAX_EVENT_LIMIT, type ServiceEvent } from '../../domain/event.js';
import { storageError } from './durable-file.js';
import type { WritableFileSystem } from './file-system.js';

interface PendingAppend {
  line: string;
  event: ServiceEvent;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class EventLog {
  private pending: PendingAppend[] = [];
  private writing = false;
  /** A failed write may have left part of a batch at the end: cut it before the next one. */
  private mustTruncate = false;
  private recent: ServiceEvent[];
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    /** Bytes known to be durable: the file is cut back to this after a failed write. */
    private size: number,
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
    const handle = await fs.open(path, 'a');
    return new EventLog(handle, size, lineCount, recent);
  }

  append(event: ServiceEvent): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The event log is closed.'));
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${JSON.stringify(event)}\n`, event, resolve, reject });
      if (!this.writing) void this.writeBatches();
    });
  }

  count(): number {
    return this.lineCount;
  }

  /** The last `limit` durable events, oldest first. */
  tail(limit: number): ServiceEvent[] {
    return this.recent.slice(-limit);
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.writing) await new Promise((resolve) => setImmediate(resolve));
    await this.handle.close();
  }

  private async writeBatches(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const bytes = Buffer.from(batch.map((entry) => entry.line).join(''), 'utf8');
      try {
        if (this.mustTruncate) {
          await this.handle.truncate(this.size);
          this.mustTruncate = false;
        }
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written);
          written += bytesWritten;
        }
        await this.handle.datasync();
      } catch (error) {
        const failure = storageError(error, 'appending to events.jsonl');
        this.mustTruncate = true;
        await this.handle
          .truncate(this.size)
          .then(() => {
            this.mustTruncate = false;
          })
          .catch(() => undefined);
        for (const entry of batch) entry.reject(failure);
        continue;
      }
      this.size += bytes.length;
      this.lineCount += batch.length;
      for (const entry of batch) this.recent.push(entry.event);
      if (this.recent.length > 2 * MAX_EVENT_LIMIT)
        this.recent = this.recent.slice(-MAX_EVENT_LIMIT);
      for (const entry of batch) entry.resolve();
    }
    this.writing = false;
  }
}
