/**
 * Unsynced file writes, many at a time: the checkpoint's session files, whose
 * content the journal and the snapshot hold durably. Each is written to
 * `<target>.tmp` and renamed over the target (a reader sees the old file or
 * the new one, never a mix; a kill keeps it; only a power loss can lose it),
 * or removed with its temp file. Made with synchronous calls on a worker
 * thread (unsynced-writes-worker.ts): a threadpool round trip a call costs
 * three to five times the call here; and neither a synchronous `open` that
 * creates a file (it can wait behind the journal's fdatasync) nor a rename
 * over a file (it starts the new file's writeback: 55-80 µs here) may stall
 * the event loop (docs/design/storage.md).
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TEMP_SUFFIX } from './layout.js';
import type { UnsyncedBatch, UnsyncedBatchDone } from './unsynced-writes-worker.js';

/** A file to write (`content`) or to remove with its temp file (`content: null`). */
export interface UnsyncedWrite {
  target: string;
  content: string | null;
}

/** The synchronous calls the writes are made with (a seam for tests). */
export interface SyncFileCalls {
  /** Creates or truncates `path` and writes `content` whole. */
  writeFileSync(path: string, content: string, mode: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

export const nodeSyncCalls: SyncFileCalls = {
  writeFileSync(path, content, mode) {
    const fd = openSync(path, 'w', mode);
    try {
      const bytes = Buffer.from(content, 'utf8');
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    } finally {
      closeSync(fd);
    }
  },
  renameSync,
  unlinkSync,
};

/** The temp file of unsynced writes of `target`. */
export function unsyncedTempPath(target: string): string {
  return `${target}${TEMP_SUFFIX}`;
}

function unlinkIfPresent(calls: SyncFileCalls, path: string): void {
  try {
    calls.unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Makes `writes` in order; stops at the first failure and throws it (with
 * `path` set to the target), its temp file removed. Those before it stand.
 */
export function applyUnsyncedWrites(writes: readonly UnsyncedWrite[], calls: SyncFileCalls): void {
  for (const { target, content } of writes) {
    const temp = unsyncedTempPath(target);
    try {
      if (content === null) {
        unlinkIfPresent(calls, target);
        // What a kill during an earlier write of it may have left.
        unlinkIfPresent(calls, temp);
      } else {
        calls.writeFileSync(temp, content, 0o644);
        calls.renameSync(temp, target);
      }
    } catch (error) {
      if (content !== null) {
        try {
          calls.unlinkSync(temp);
        } catch {
          // The next write of this file overwrites it; a start removes it.
        }
      }
      (error as NodeJS.ErrnoException).path = target;
      throw error;
    }
  }
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

const writer = new UnsyncedWriter();

/** Makes `writes` on the worker thread (nodeFileSystem.writeUnsynced). */
export function writeUnsyncedOnWorker(writes: readonly UnsyncedWrite[]): Promise<void> {
  return writer.write(writes);
}
