/**
 * Every file-system call by which the file store changes the data directory,
 * at boot (recovery, takeover) and while it serves: the seam where tests
 * inject disk-full, I/O and out-of-descriptor errors, and where the power-loss
 * test records what reached which file in which order. Reading goes to
 * node:fs directly.
 */
import { type FileHandle, mkdir, open, rename, rm, unlink } from 'node:fs/promises';

export interface WritableFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
}

export const nodeFileSystem: WritableFileSystem = { open, rename, unlink, rm, mkdir };
