/**
 * The file-system calls the file store makes to change the data directory
 * while it serves: the seam where tests inject disk-full, I/O and
 * out-of-descriptor errors. Reading at boot goes to node:fs directly.
 */
import { type FileHandle, open, rename, rm, unlink } from 'node:fs/promises';

export interface WritableFileSystem {
  open(path: string, flags: string, mode?: number): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rm(path: string, options?: { force?: boolean }): Promise<void>;
}

export const nodeFileSystem: WritableFileSystem = { open, rename, unlink, rm };
