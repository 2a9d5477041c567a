/**
 * Every file-system call by which the file store changes the data directory,
 * at boot (recovery, takeover) and while it serves: the seam where tests
 * inject disk-full, I/O and out-of-descriptor errors, and where the power-loss
 * test records what reached which file in which order. Reading goes to
 * node:fs directly.
 *
 * Two calls are not threadpool round trips, which cost three to five times the
 * system call they wrap on this kind of machine (docs/design/storage.md):
 * `writeSync`, for the appends of the journal and the event log (to the page
 * cache, a few microseconds; their fdatasync stays asynchronous), and
 * `writeUnsynced`, for the checkpoint's session files (a worker thread makes
 * them with synchronous calls, see unsynced-writes.ts).
 */
import { writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { UnsyncedWrite } from './unsynced-writes.js';
import type { UnsyncedBatch, UnsyncedBatchDone } from './unsynced-writes-worker.js';

export interface WritableFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  /**
   * Writes `data` from `offset` on to `path` through `handle`, synchronously,
   * at `position` (null: at the end, for a handle opened to append); returns
   * how many bytes were written.
   */
  writeSync(
    handle: FileHandle,
    path: string,
    data: Uint8Array,
    offset: number,
    position: number | null,
  ): number;
  /** See applyUnsyncedWrites: rejects with the first failure, `path` set to its target. */
  writeUnsynced(writes: readonly UnsyncedWrite[]): Promise<void>;
}

/** The worker thread of `writeUnsynced`, started on first use, kept alive only while it works. */
class UnsyncedWriter {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: () => void; reject: (error: Error) => void }
  >();

  write(writes: readonly UnsyncedWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, writes } satisfies UnsyncedBatch);
    });
  }

  private started(): Worker {
    if (this.worker !== null) return this.worker;
    // The thread runs only this module: none of the process's own Node flags apply to it.
    const worker = new Worker(new URL('./unsynced-writes-worker.js', import.meta.url), {
      execArgv: [],
    });
    worker.unref();
    worker.on('message', ({ id, error }: UnsyncedBatchDone) => {
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      if (this.waiting.size === 0) worker.unref();
      if (error === undefined) waiter?.resolve();
      else waiter?.reject(Object.assign(new Error(error.message), error));
    });
    const lost = (error: Error) => {
      this.worker = null;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the file writer thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

const unsyncedWriter = new UnsyncedWriter();

export const nodeFileSystem: WritableFileSystem = {
  open,
  rename,
  unlink,
  rm,
  mkdir,
  writeSync: (handle, _path, data, offset, position) =>
    writeSync(handle.fd, data, offset, data.length - offset, position),
  writeUnsynced: (writes) => unsyncedWriter.write(writes),
};
