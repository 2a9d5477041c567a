/**
 * Unsynced file writes, many at a time: the checkpoint's session files, whose
 * content the journal and the snapshot hold durably. Each is written to a
 * spare (spare-files.ts) or to `<target>.tmp`, and renamed over the target (a
 * reader sees the old file or the new one, never a mix; a kill keeps it; only
 * a power loss can lose it), or removed with its temp file. Made with
 * synchronous calls on a worker thread (unsynced-writes-worker.ts): a
 * threadpool round trip a call costs three to five times the call here; and
 * neither a synchronous `open` that creates a file (it can wait behind the
 * journal's fdatasync) nor a rename over a file (it can start the new file's
 * writeback: 55-80 µs here) may stall the event loop (docs/design/storage.md).
 */
import {
  closeSync,
  ftruncateSync,
  linkSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TEMP_SUFFIX } from './layout.js';
import type { Spare, SpareCalls, SpareFiles, SparePool } from './spare-files.js';
import type { UnsyncedBatch, UnsyncedBatchDone } from './unsynced-writes-worker.js';

/** A file to write (`content`) or to remove with its temp file (`content: null`). */
export interface UnsyncedWrite {
  target: string;
  content: string | null;
  /**
   * A temp file an earlier write of the target left may be there (a boot
   * after a kill, a rewrite of every file after a power cut): removed even
   * when a spare, not the temp file, is written.
   */
  staleTemp?: boolean;
  /**
   * The target does not exist yet (a session created since the last
   * checkpoint): there is no replaced file to keep as a spare, so none is
   * looked for. Only a hint: a file that is there after all is replaced
   * without being kept.
   */
  fresh?: boolean;
}

/** The synchronous calls the writes are made with (a seam for tests). */
export interface SyncFileCalls extends SpareCalls {
  /** Creates or truncates `path` and writes `content` whole. */
  writeFileSync(path: string, content: string, mode: number): void;
  /**
   * Writes `content` over the existing file `path` of `bytesBefore` bytes,
   * from its start, and cuts it to that length if it held more (its blocks
   * stay allocated: see spare-files.ts).
   */
  overwriteSync(path: string, content: string, bytesBefore: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

/**
 * Writes `content` whole from the start of the open file `fd`, cuts the file
 * to that length if it held more (`bytesBefore`), and closes it.
 */
function writeWholeAndClose(fd: number, content: string, bytesBefore: number): void {
  try {
    const bytes = Buffer.from(content, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, undefined, written);
    if (bytesBefore > bytes.length) ftruncateSync(fd, bytes.length);
  } finally {
    closeSync(fd);
  }
}

export const nodeSyncCalls: SyncFileCalls = {
  writeFileSync: (path, content, mode) => writeWholeAndClose(openSync(path, 'w', mode), content, 0),
  overwriteSync: (path, content, bytesBefore) =>
    writeWholeAndClose(openSync(path, 'r+'), content, bytesBefore),
  linkSync,
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

function unlinkQuietly(calls: SyncFileCalls, path: string): void {
  try {
    calls.unlinkSync(path);
  } catch {
    // A temp file: the store's next write of its file removes it (the files
    // of a failed batch are written with staleTemp; `inspect --repair`
    // removes what a stop left). A spare: never written through again; a
    // start or a clean stop removes it.
  }
}

/**
 * Writes `content` to a spare of `spares` (one replaced long enough ago) or
 * else to `temp`; returns the file written. A spare that is gone (removed by
 * a stop while this writer kept it) is skipped.
 */
function writeSource(
  calls: SyncFileCalls,
  spares: SpareFiles | null,
  temp: string,
  content: string,
): string {
  for (let spare = spares?.take(); spare !== undefined; spare = spares?.take()) {
    try {
      calls.overwriteSync(spare.path, content, spare.bytes);
      return spare.path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      unlinkQuietly(calls, spare.path);
      throw error;
    }
  }
  calls.writeFileSync(temp, content, 0o644);
  return temp;
}

/**
 * Makes `writes` in order; stops at the first failure and throws it (with
 * `path` set to the target), the file it was writing removed. Those before
 * it stand. With `spares`, a replaced file is kept in the pool and files are
 * written into spares when there are (see spare-files.ts).
 */
export function applyUnsyncedWrites(
  writes: readonly UnsyncedWrite[],
  calls: SyncFileCalls,
  spares: SpareFiles | null = null,
): void {
  for (const { target, content, staleTemp, fresh } of writes) {
    const temp = unsyncedTempPath(target);
    if (content === null) {
      try {
        unlinkIfPresent(calls, target);
        // What a kill during an earlier write of it may have left.
        unlinkIfPresent(calls, temp);
      } catch (error) {
        (error as NodeJS.ErrnoException).path = target;
        throw error;
      }
      continue;
    }
    let source: string | null = null;
    let kept: Spare | null = null;
    try {
      source = writeSource(calls, spares, temp, content);
      kept = fresh === true ? null : (spares?.link(calls, target) ?? null);
      calls.renameSync(source, target);
    } catch (error) {
      // `kept` still names the live file: it must never become a spare.
      if (kept !== null) unlinkQuietly(calls, kept.path);
      unlinkQuietly(calls, source ?? temp);
      (error as NodeJS.ErrnoException).path = target;
      throw error;
    }
    if (kept !== null) spares?.add(kept);
    if (staleTemp === true && source !== temp) {
      try {
        unlinkIfPresent(calls, temp);
      } catch (error) {
        (error as NodeJS.ErrnoException).path = target;
        throw error;
      }
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

  write(writes: readonly UnsyncedWrite[], spares: SparePool | null): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, writes, spares } satisfies UnsyncedBatch);
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
export function writeUnsyncedOnWorker(
  writes: readonly UnsyncedWrite[],
  spares: SparePool | null,
): Promise<void> {
  return writer.write(writes, spares);
}
