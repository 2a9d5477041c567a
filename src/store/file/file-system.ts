/**
 * Every file-system call by which the file store changes the data directory,
 * at boot (recovery, takeover) and while it serves: the seam where tests
 * inject disk-full, I/O and out-of-descriptor errors, and where the power-loss
 * test records what reached which file in which order. Reading goes to
 * node:fs directly.
 *
 * Two calls are not threadpool round trips, which cost three to five times the
 * system call they wrap on this kind of machine (docs/design/storage-measurements.md):
 * `writeSync`, for the appends of the journal and the event log (to the page
 * cache, a few microseconds; their fdatasync stays asynchronous), and
 * `writeUnsynced`, for the checkpoint's session files (a worker thread makes
 * them with synchronous calls, see unsynced-writes.ts).
 */
import { writeSync } from 'node:fs';
import { type FileHandle, mkdir, rename, rm, unlink } from 'node:fs/promises';
import { openNoFollow } from './safe-open.js';
import type { SparePool } from './spare-files.js';
import { type SetAside, type UnsyncedWrite, writeUnsyncedOnWorker } from './unsynced-writes.js';

export interface WritableFileSystem {
  /**
   * As fs.open (flags 'r', 'r+', 'w', 'wx', 'a'), but never through a
   * symlink and never onto a FIFO or a device (safe-open.ts: openNoFollow).
   */
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
  /**
   * See applyUnsyncedWrites: rejects with the first failure, `path` set to
   * its target. `spares`: where replaced files are kept to be written into
   * again (spare-files.ts), null for none. `quarantineDir`: where what is
   * at a target or temp name and is no regular file (a symlink) is moved,
   * resolved with (null: it fails the write).
   */
  writeUnsynced(
    writes: readonly UnsyncedWrite[],
    spares: SparePool | null,
    quarantineDir?: string | null,
  ): Promise<SetAside[]>;
}

export const nodeFileSystem: WritableFileSystem = {
  open: openNoFollow,
  rename,
  unlink,
  rm,
  mkdir,
  writeSync: (handle, _path, data, offset, position) =>
    writeSync(handle.fd, data, offset, data.length - offset, position),
  writeUnsynced: writeUnsyncedOnWorker,
};
