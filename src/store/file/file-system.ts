/**
 * Every file-system call by which the file store changes the data directory,
 * at boot (recovery, takeover) and while it serves: the seam where tests
 * inject disk-full, I/O and out-of-descriptor errors, and where the power-loss
 * test records what reached which file in which order. Reading goes to
 * node:fs directly.
 *
 * The `…Sync` calls serve writes that only reach the page cache, a few
 * microseconds each: the appends of the journal and the event log (their
 * fdatasync stays asynchronous) and the checkpoint's unsynced session files.
 * On this kind of machine a threadpool round trip costs four to five times the
 * system call it wraps (docs/design/storage.md).
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, unlink } from 'node:fs/promises';

export interface WritableFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  /**
   * Writes `data` from `offset` on to the end of `path` through `handle`
   * (opened to append); returns how many bytes were written.
   */
  appendSync(handle: FileHandle, path: string, data: Uint8Array, offset: number): number;
  /** Creates or truncates `path` and writes `content` whole, without a sync. */
  writeFileSync(path: string, content: string, mode: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

function writeFileSync(path: string, content: string, mode: number): void {
  const fd = openSync(path, 'w', mode);
  try {
    const bytes = Buffer.from(content, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written);
  } finally {
    closeSync(fd);
  }
}

export const nodeFileSystem: WritableFileSystem = {
  open,
  appendSync: (handle, _path, data, offset) =>
    writeSync(handle.fd, data, offset, data.length - offset),
  rename,
  unlink,
  rm,
  mkdir,
  writeFileSync,
  renameSync,
  unlinkSync,
};
