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
 * writeback: 55-80 µs here) may stall the event loop (docs/design/storage-measurements.md).
 *
 * Nothing is written through a symlink: a temp file is created new
 * (O_CREAT|O_EXCL), a spare is written only when it is a regular file with
 * no other name (safe-open.ts), and a target or temp name that holds
 * something the service never writes there (a symlink, a FIFO, a folder) is
 * moved to quarantine/ first, never deleted (see SetAside).
 */
import {
  closeSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FROM_SOURCE_FLAGS, RUNS_FROM_SOURCE } from '../../project-root.js';
import { TEMP_SUFFIX } from './layout.js';
import {
  checkDirectorySync,
  checkRegularFileSync,
  createNewFileSync,
  lstatIfPresentSync,
  notARegularFile,
  openOwnFileForWritingSync,
  UnsafeFileError,
} from './safe-open.js';
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

/**
 * Something found at a target or temp name that the service never writes
 * there (a symlink, a FIFO, a folder), moved to quarantine/ before the
 * write: `path` where it was, `savedAs` where it is now.
 */
export interface SetAside {
  path: string;
  problem: string;
  savedAs: string;
}

/** The synchronous calls the writes are made with (a seam for tests). */
export interface SyncFileCalls extends SpareCalls {
  /** Creates `path`, which must not exist (EEXIST: never through a link), and writes `content` whole. */
  writeFileSync(path: string, content: string, mode: number): void;
  /**
   * Writes `content` over the existing file `path` of `bytesBefore` bytes,
   * from its start, and cuts it to that length if it held more (its blocks
   * stay allocated: see spare-files.ts). Refuses (UnsafeFileError) a path
   * that is not a regular file with this one name.
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
  writeFileSync: (path, content, mode) =>
    writeWholeAndClose(createNewFileSync(path, mode), content, 0),
  overwriteSync: (path, content, bytesBefore) =>
    writeWholeAndClose(openOwnFileForWritingSync(path), content, bytesBefore),
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
 * Where the writes of one batch move what they must not write through or
 * delete (see SetAside); null: such a thing fails the write instead.
 */
class Foreign {
  readonly setAside: SetAside[] = [];

  constructor(
    private readonly calls: SyncFileCalls,
    private readonly quarantineDir: string | null,
  ) {}

  /**
   * Moves what is at `path` to quarantine/ when it is not a regular file;
   * returns whether a regular file is there (false: nothing is, now).
   */
  clear(path: string): boolean {
    const stats = lstatIfPresentSync(path);
    if (stats === 'missing') return false;
    const problem = notARegularFile(stats);
    if (problem === null) return true;
    if (this.quarantineDir === null) throw new UnsafeFileError(path, problem);
    mkdirSync(this.quarantineDir, { recursive: true });
    const folder = checkDirectorySync(this.quarantineDir);
    if (folder !== 'ok' && folder !== 'missing') {
      throw new UnsafeFileError(this.quarantineDir, folder);
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const savedAs = join(this.quarantineDir, `${stamp}-session-${basename(path)}`);
    // A rename moves a symlink itself, never what it points to.
    this.calls.renameSync(path, savedAs);
    this.setAside.push({ path, problem: problem.detail, savedAs });
    return false;
  }
}

/**
 * Creates `temp` with `content`. A temp file an earlier write left (a kill)
 * is removed first; anything else at that name is set aside.
 */
function writeTemp(calls: SyncFileCalls, foreign: Foreign, temp: string, content: string): void {
  try {
    calls.writeFileSync(temp, content, 0o644);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  if (foreign.clear(temp)) unlinkIfPresent(calls, temp);
  calls.writeFileSync(temp, content, 0o644);
}

/**
 * Writes `content` to a spare of `spares` (one replaced long enough ago) or
 * else to `temp`; returns the file written. A spare that is gone (removed by
 * a stop while this writer kept it), or that is no longer a file of its own
 * (something else put at its name), is skipped.
 */
function writeSource(
  calls: SyncFileCalls,
  foreign: Foreign,
  spares: SpareFiles | null,
  temp: string,
  content: string,
): string {
  for (let spare = spares?.take(); spare !== undefined; spare = spares?.take()) {
    try {
      calls.overwriteSync(spare.path, content, spare.bytes);
      return spare.path;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EUNSAFE') continue;
      unlinkQuietly(calls, spare.path);
      throw error;
    }
  }
  writeTemp(calls, foreign, temp, content);
  return temp;
}

/**
 * Makes `writes` in order; stops at the first failure and throws it (with
 * `path` set to the target), the file it was writing removed. Those before
 * it stand. With `spares`, a replaced file is kept in the pool and files are
 * written into spares when there are (see spare-files.ts). With
 * `quarantineDir`, what is at a target or temp name and is not a regular
 * file is moved there first (returned); without, it fails the write.
 */
export function applyUnsyncedWrites(
  writes: readonly UnsyncedWrite[],
  calls: SyncFileCalls,
  spares: SpareFiles | null = null,
  quarantineDir: string | null = null,
): SetAside[] {
  const foreign = new Foreign(calls, quarantineDir);
  for (const { target, content, staleTemp, fresh } of writes) {
    const temp = unsyncedTempPath(target);
    if (content === null) {
      try {
        if (foreign.clear(target)) unlinkIfPresent(calls, target);
        // What a kill during an earlier write of it may have left.
        if (foreign.clear(temp)) unlinkIfPresent(calls, temp);
      } catch (error) {
        (error as NodeJS.ErrnoException).path = target;
        throw error;
      }
      continue;
    }
    let source: string | null = null;
    let kept: Spare | null = null;
    try {
      // A symlink (or a FIFO, a folder) at the target is moved aside, not
      // renamed over: it never becomes a spare, and it is never deleted.
      const exists = foreign.clear(target);
      source = writeSource(calls, foreign, spares, temp, content);
      kept = fresh === true || !exists ? null : (spares?.link(calls, target) ?? null);
      calls.renameSync(source, target);
    } catch (error) {
      // `kept` still names the live file: it must never become a spare.
      if (kept !== null) unlinkQuietly(calls, kept.path);
      // A temp file half written goes; what is not a regular file is not ours.
      const written = source ?? temp;
      if (lstatIfPresentSync(written) !== 'missing' && checkRegularFileSync(written) === 'ok') {
        unlinkQuietly(calls, written);
      }
      (error as NodeJS.ErrnoException).path = target;
      throw error;
    }
    if (kept !== null) spares?.add(kept);
    if (staleTemp === true && source !== temp) {
      try {
        if (foreign.clear(temp)) unlinkIfPresent(calls, temp);
      } catch (error) {
        (error as NodeJS.ErrnoException).path = target;
        throw error;
      }
    }
  }
  return foreign.setAside;
}

/** The worker thread of `writeUnsynced`, started on first use, kept alive only while it works. */
class UnsyncedWriter {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (setAside: SetAside[]) => void; reject: (error: Error) => void }
  >();

  write(
    writes: readonly UnsyncedWrite[],
    spares: SparePool | null,
    quarantineDir: string | null,
  ): Promise<SetAside[]> {
    if (writes.length === 0) return Promise.resolve([]);
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, writes, spares, quarantineDir } satisfies UnsyncedBatch);
    });
  }

  private started(): Worker {
    if (this.worker !== null) return this.worker;
    // The thread runs only this module: none of the process's own Node flags apply to
    // it. Except when Node runs the TypeScript sources themselves (one test file without
    // a build, docs/development.md): the thread then needs the flags that let it.
    const worker = new Worker(
      new URL(`./unsynced-writes-worker.${RUNS_FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url),
      { execArgv: RUNS_FROM_SOURCE ? [...FROM_SOURCE_FLAGS] : [] },
    );
    worker.unref();
    worker.on('message', ({ id, error, setAside }: UnsyncedBatchDone) => {
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      if (this.waiting.size === 0) worker.unref();
      if (error === undefined) waiter?.resolve(setAside ?? []);
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
  quarantineDir: string | null = null,
): Promise<SetAside[]> {
  return writer.write(writes, spares, quarantineDir);
}
