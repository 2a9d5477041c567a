/**
 * Opening what is in the data directory, which is shared ground (the
 * original implementation, people with a shell and backups write it too):
 * nothing here ever follows a symbolic link (O_NOFOLLOW on the last name,
 * `lstat` for directories), opens a FIFO or a device so that the open can
 * hang (O_NONBLOCK, then the type from `fstat` on the descriptor itself), or
 * reads a file whole past a bound. A caller that wants a verdict gets a
 * typed problem (`FileProblem`); one that does not gets `UnsafeFileError`.
 *
 * What O_NOFOLLOW covers is the last name of a path: the directories above
 * it are checked once, at a start or before an offline run (see
 * data-dir-safety.ts), so a symlinked `sessions/` is refused, not followed.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  type ReadStream,
  readSync,
  type Stats,
} from 'node:fs';
import { type FileHandle, lstat, open } from 'node:fs/promises';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW, O_NONBLOCK } =
  constants;

/**
 * The most a file in the data directory may hold to be read whole (a session
 * file, stats.json, instance.json). The largest session the service accepts
 * is 1 MiB as compact JSON (MAX_BODY_BYTES), pretty-printed about four times
 * that at most; 16 MiB leaves room for the original's files and hand edits,
 * and keeps a 180 MB file or `/dev/zero` from being read into memory.
 */
export const MAX_WHOLE_FILE_BYTES = 16 * 1024 * 1024;

/** Why a name in the data directory is not used. */
export type FileProblemKind =
  | 'symlink'
  | 'fifo'
  | 'device'
  | 'socket'
  | 'directory'
  | 'not-a-directory'
  | 'too-big'
  | 'shared'
  | 'not-utf8'
  | 'unreadable';

export interface FileProblem {
  kind: FileProblemKind;
  /** For people: what it is and that it was not used ("is a symbolic link (never followed)"). */
  detail: string;
}

/** Thrown where a caller wants a file or nothing: `code` is EUNSAFE, `path` the name refused. */
export class UnsafeFileError extends Error {
  readonly code = 'EUNSAFE';
  constructor(
    readonly path: string,
    readonly problem: FileProblem,
  ) {
    super(`${path} ${problem.detail}`);
    this.name = 'UnsafeFileError';
  }
}

function problem(kind: FileProblemKind, detail: string): FileProblem {
  return { kind, detail };
}

const SYMLINK = problem('symlink', 'is a symbolic link (never followed)');

/** What is wrong with `stats` where a regular file is wanted; null when it is one. */
export function notARegularFile(stats: Stats): FileProblem | null {
  if (stats.isFile()) return null;
  if (stats.isSymbolicLink()) return SYMLINK;
  if (stats.isFIFO()) return problem('fifo', 'is a FIFO (named pipe), not a file (never opened)');
  if (stats.isCharacterDevice() || stats.isBlockDevice()) {
    return problem('device', 'is a device, not a file (never opened)');
  }
  if (stats.isSocket()) return problem('socket', 'is a socket, not a file (never opened)');
  if (stats.isDirectory()) return problem('directory', 'is a directory, not a file');
  return problem('unreadable', 'is not a regular file');
}

/** What is wrong with `stats` where a directory is wanted; null when it is one. */
export function notADirectory(stats: Stats): FileProblem | null {
  if (stats.isDirectory()) return null;
  if (stats.isSymbolicLink()) return SYMLINK;
  const asFile = notARegularFile(stats);
  return asFile ?? problem('not-a-directory', 'is a file, not a directory');
}

function tooBig(size: number, maxBytes: number): FileProblem {
  return problem(
    'too-big',
    `is ${size} bytes, more than the ${maxBytes} read whole at most (never read)`,
  );
}

/** The problem an open's failure means, or null when it is another failure (ENOENT, EIO...). */
function openProblem(error: unknown): FileProblem | null {
  const code = (error as NodeJS.ErrnoException).code;
  // O_NOFOLLOW on a symlink fails with ELOOP on Linux (EMLINK on some BSDs).
  if (code === 'ELOOP' || code === 'EMLINK') return SYMLINK;
  // O_NONBLOCK|O_WRONLY on a FIFO nobody reads.
  if (code === 'ENXIO')
    return problem('fifo', 'is a FIFO or a device without a reader (never opened)');
  return null;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** A regular file opened for reading: its descriptor and its size when opened. */
export interface OpenedFile {
  fd: number;
  size: number;
}

/**
 * Opens `path` for reading without following a link or blocking on a FIFO,
 * and checks what the descriptor is: a regular file of at most `maxBytes`
 * (no bound when omitted: for files read in chunks). Null when it does not
 * exist; a problem when it is not a file to read (the descriptor closed);
 * other failures (EACCES, EIO) are thrown.
 */
export function openRegularFileSync(
  path: string,
  maxBytes = Number.POSITIVE_INFINITY,
): OpenedFile | FileProblem | null {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) return null;
    const found = openProblem(error);
    if (found !== null) return found;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    const wrong =
      notARegularFile(stats) ?? (stats.size > maxBytes ? tooBig(stats.size, maxBytes) : null);
    if (wrong !== null) {
      closeSync(fd);
      return wrong;
    }
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** As openRegularFileSync, for the event loop: a FileHandle and its size. */
export async function openRegularFile(
  path: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<{ handle: FileHandle; size: number } | FileProblem | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) return null;
    const found = openProblem(error);
    if (found !== null) return found;
    throw error;
  }
  try {
    const stats = await handle.stat();
    const wrong =
      notARegularFile(stats) ?? (stats.size > maxBytes ? tooBig(stats.size, maxBytes) : null);
    if (wrong !== null) {
      await handle.close();
      return wrong;
    }
    return { handle, size: stats.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Whether `value` is a problem (not an opened file or text). */
export function isFileProblem(value: unknown): value is FileProblem {
  return typeof value === 'object' && value !== null && 'kind' in value && 'detail' in value;
}

/** Reads an open descriptor whole, at most `maxBytes` (a file that grew past it is too big). */
function readAllSync(fd: number, size: number, maxBytes: number): Buffer | FileProblem {
  // One byte more than the bound tells a file that grew since fstat.
  const limit = Math.min(maxBytes, Number.MAX_SAFE_INTEGER) + 1;
  let buffer = Buffer.allocUnsafe(Math.min(limit, Math.max(size, 0) + 1));
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      if (buffer.length >= limit) return tooBig(length, maxBytes);
      const grown = Buffer.allocUnsafe(Math.min(limit, buffer.length * 2));
      buffer.copy(grown, 0, 0, length);
      buffer = grown;
    }
    const read = readSync(fd, buffer, length, buffer.length - length, null);
    if (read === 0) break;
    length += read;
  }
  if (length > maxBytes) return tooBig(length, maxBytes);
  return buffer.subarray(0, length);
}

/**
 * A file's bytes, read whole if it is a regular file of at most `maxBytes`
 * (see openRegularFileSync); null when it does not exist.
 */
export function readRegularFileSync(
  path: string,
  maxBytes = MAX_WHOLE_FILE_BYTES,
): Buffer | FileProblem | null {
  const opened = openRegularFileSync(path, maxBytes);
  if (opened === null || isFileProblem(opened)) return opened;
  try {
    return readAllSync(opened.fd, opened.size, maxBytes);
  } finally {
    closeSync(opened.fd);
  }
}

/** As readRegularFileSync, for the event loop. */
export async function readRegularFile(
  path: string,
  maxBytes = MAX_WHOLE_FILE_BYTES,
): Promise<Buffer | FileProblem | null> {
  const opened = await openRegularFile(path, maxBytes);
  if (opened === null || isFileProblem(opened)) return opened;
  const { handle, size } = opened;
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(
        Math.max(Math.min(size - total, maxBytes + 1 - total), 64 * 1024),
      );
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) return tooBig(total, maxBytes);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as text, or a problem when they are not UTF-8 (a string would replace them silently). */
export function decodeUtf8(bytes: Uint8Array): string | FileProblem {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return problem('not-utf8', 'is not UTF-8 text');
  }
}

// Writing

/**
 * Creates `path` for writing; it must not exist (O_CREAT|O_EXCL, which never
 * follows a link: a name already there, even a symlink, fails with EEXIST).
 */
export function createNewFileSync(path: string, mode = 0o644): number {
  return openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
}

/**
 * Opens the existing file `path` to write into it again (a spare): refused
 * (UnsafeFileError) unless it is a regular file with no other name than
 * this one, so no write ever lands in a file someone linked elsewhere or
 * reaches past a symlink.
 */
export function openOwnFileForWritingSync(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    const found = openProblem(error);
    if (found !== null) throw new UnsafeFileError(path, found);
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    const wrong =
      notARegularFile(stats) ??
      (stats.nlink === 1
        ? null
        : problem('shared', `has ${stats.nlink} names (hard links): never written into`));
    if (wrong !== null) throw new UnsafeFileError(path, wrong);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * The numeric flags of an `fs.open` flag string, never following a link nor
 * blocking on a FIFO: what every open of the file store's writer seam
 * (file-system.ts) uses.
 */
export function noFollowFlags(flags: string): number {
  const base: Record<string, number> = {
    r: O_RDONLY,
    'r+': O_RDWR,
    w: O_WRONLY | O_CREAT | O_TRUNC,
    wx: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL,
    a: O_WRONLY | O_CREAT | O_APPEND,
    ax: O_WRONLY | O_CREAT | O_APPEND | O_EXCL,
  };
  const value = base[flags];
  if (value === undefined) throw new Error(`unsupported open flags "${flags}"`);
  return value | O_NOFOLLOW | O_NONBLOCK;
}

/**
 * Opens `path` as `fs.open(path, flags)` does, but never through a symlink
 * and never onto a FIFO, device or socket: the descriptor must be a regular
 * file (or, opened with 'r', a directory: how a directory is fsynced).
 */
export async function openNoFollow(
  path: string,
  flags: string,
  mode?: number,
): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, noFollowFlags(flags), mode);
  } catch (error) {
    const found = openProblem(error);
    if (found !== null) throw new UnsafeFileError(path, found);
    throw error;
  }
  try {
    const stats = await handle.stat();
    const wrong = flags === 'r' && stats.isDirectory() ? null : notARegularFile(stats);
    if (wrong !== null) throw new UnsafeFileError(path, wrong);
    return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** As openNoFollow, synchronously (boot and offline only): a descriptor. */
export function openNoFollowSync(path: string, flags: string, mode?: number): number {
  let fd: number;
  try {
    fd = openSync(path, noFollowFlags(flags), mode);
  } catch (error) {
    const found = openProblem(error);
    if (found !== null) throw new UnsafeFileError(path, found);
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    const wrong = flags === 'r' && stats.isDirectory() ? null : notARegularFile(stats);
    if (wrong !== null) throw new UnsafeFileError(path, wrong);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

// Directories and names

/** What is at `path` without following it: 'missing', or the lstat result. */
export function lstatIfPresentSync(path: string): Stats | 'missing' {
  try {
    return lstatSync(path);
  } catch (error) {
    if (isMissing(error)) return 'missing';
    throw error;
  }
}

/** Whether `path` is a real directory ('missing' when there is nothing; a problem when it is something else). */
export function checkDirectorySync(path: string): 'ok' | 'missing' | FileProblem {
  const stats = lstatIfPresentSync(path);
  if (stats === 'missing') return 'missing';
  return notADirectory(stats) ?? 'ok';
}

/** As checkDirectorySync, for the event loop. */
export async function checkDirectory(path: string): Promise<'ok' | 'missing' | FileProblem> {
  try {
    return notADirectory(await lstat(path)) ?? 'ok';
  } catch (error) {
    if (isMissing(error)) return 'missing';
    throw error;
  }
}

/** Whether `path` is a regular file, for the event loop (see checkRegularFileSync). */
export async function checkRegularFile(path: string): Promise<'ok' | 'missing' | FileProblem> {
  try {
    return notARegularFile(await lstat(path)) ?? 'ok';
  } catch (error) {
    if (isMissing(error)) return 'missing';
    throw error;
  }
}

/** Whether `path` is a regular file ('missing' when there is nothing; a problem when it is something else). */
export function checkRegularFileSync(path: string): 'ok' | 'missing' | FileProblem {
  const stats = lstatIfPresentSync(path);
  if (stats === 'missing') return 'missing';
  return notARegularFile(stats) ?? 'ok';
}

/**
 * A read stream over the regular file `path` (see openRegularFile), from
 * `start` to `end` inclusive; null when it does not exist. Throws
 * UnsafeFileError when it is not a file to read.
 */
export async function openReadStream(
  path: string,
  options: { start?: number; end?: number; highWaterMark?: number; encoding?: BufferEncoding } = {},
): Promise<ReadStream | null> {
  const opened = await openRegularFile(path);
  if (opened === null) return null;
  if (isFileProblem(opened)) throw new UnsafeFileError(path, opened);
  return opened.handle.createReadStream({ ...options, autoClose: true });
}
