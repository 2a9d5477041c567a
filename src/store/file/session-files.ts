/**
 * `sessions/<id>.json`: one pretty-printed session a file, in the original's
 * format, plus one key of ours, `seq`, that keeps creation order across
 * restarts (timestamps have one-second resolution). Files the original wrote
 * have no `seq`; they sort first, by `created_at`, then by id.
 */
import { randomBytes } from 'node:crypto';
import { type Dir, opendirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Session } from '../../domain/session.js';
import { parseStoredSession } from '../../domain/stored-session.js';
import type { WritableFileSystem } from './file-system.js';
import { isOwnTempName, isSessionFileName, sessionFileName, TEMP_SUFFIX } from './layout.js';
import {
  checkDirectory,
  checkDirectorySync,
  checkRegularFile,
  decodeUtf8,
  isFileProblem,
  MAX_WHOLE_FILE_BYTES,
  readRegularFileSync,
  UnsafeFileError,
} from './safe-open.js';

export interface StoredSession {
  session: Session;
  /** Creation order; undefined for sessions the original implementation wrote. */
  seq: number | undefined;
}

export interface UnreadableSession {
  file: string;
  problem: string;
}

export function formatSessionFile(stored: StoredSession): string {
  const body = stored.seq === undefined ? stored.session : { ...stored.session, seq: stored.seq };
  return `${JSON.stringify(body, null, 2)}\n`;
}

export function parseSessionFile(
  fileName: string,
  text: string,
): StoredSession | UnreadableSession {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { file: fileName, problem: 'not valid JSON' };
  }
  const session = parseStoredSession(value);
  if (typeof session === 'string') return { file: fileName, problem: session };
  if (sessionFileName(session.id) !== fileName) {
    return { file: fileName, problem: `its id ${session.id} does not match the file name` };
  }
  const seq = (value as { seq?: unknown }).seq;
  return { session, seq: Number.isSafeInteger(seq) ? (seq as number) : undefined };
}

/** What creation order is decided by: `seq`, else (the original's files) `created_at`, then id. */
export interface CreationKey {
  seq: number | undefined;
  id: string;
  created_at: string;
}

export function compareCreationOrder(a: CreationKey, b: CreationKey): number {
  if (a.seq === undefined && b.seq === undefined) {
    if (a.created_at !== b.created_at) return a.created_at < b.created_at ? -1 : 1;
    if (a.id === b.id) return 0;
    return a.id < b.id ? -1 : 1;
  }
  if (a.seq === undefined) return -1;
  if (b.seq === undefined) return 1;
  return a.seq - b.seq;
}

/** A stored session's creation key (it shares the session's strings). */
export function creationKeyOf({ session, seq }: StoredSession): CreationKey {
  return { seq, id: session.id, created_at: session.created_at };
}

/** Sorts stored sessions in creation order. */
export function compareStoredSessions(a: StoredSession, b: StoredSession): number {
  return compareCreationOrder(creationKeyOf(a), creationKeyOf(b));
}

/** One entry of sessions/: a readable session, an unreadable session file, or a temp file. */
export type SessionFileEntry =
  | { kind: 'session'; file: string; stored: StoredSession }
  | { kind: 'unreadable'; file: string; problem: string }
  | { kind: 'temp'; file: string };

/**
 * The entries of sessions/, one file at a time, in directory order: what
 * reading them costs is one session, whatever the directory holds, so the
 * inspector can go through any directory in bounded memory. Synchronously,
 * on purpose: it runs only at boot and offline (inspector, repair), never on
 * a request path, and reading many small files with readFileSync is about six
 * times faster than with fs/promises (100,000 files: 2.5 s against 15 s here).
 */
export function* sessionFileEntries(dir: string): Generator<SessionFileEntry> {
  // opendir follows a symlinked sessions/: refused instead (see data-dir-safety.ts).
  const folder = checkDirectorySync(dir);
  if (folder === 'missing') return;
  if (folder !== 'ok') throw new UnsafeFileError(dir, folder);
  let handle: Dir;
  try {
    handle = opendirSync(dir, { bufferSize: 256 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    for (let entry = handle.readSync(); entry !== null; entry = handle.readSync()) {
      const name = entry.name;
      if (name.endsWith(TEMP_SUFFIX)) {
        yield { kind: 'temp', file: name };
        continue;
      }
      if (!isSessionFileName(name)) continue;
      const read = readSessionFile(dir, name);
      if (read !== null) yield read;
    }
  } finally {
    handle.closeSync();
  }
}

/**
 * Reads and checks one session file; null when it is gone (deleted while we
 * read: the inspector runs live). What is not a regular file of at most
 * MAX_WHOLE_FILE_BYTES of UTF-8 (a symlink, a FIFO, a device, a folder) is
 * never followed, opened so that it can hang, or read: it is unreadable.
 */
export function readSessionFile(dir: string, name: string): SessionFileEntry | null {
  let bytes: ReturnType<typeof readRegularFileSync>;
  try {
    bytes = readRegularFileSync(join(dir, name), MAX_WHOLE_FILE_BYTES);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    return { kind: 'unreadable', file: name, problem: `cannot be read (${code ?? String(error)})` };
  }
  if (bytes === null) return null;
  const text = isFileProblem(bytes) ? bytes : decodeUtf8(bytes);
  if (isFileProblem(text)) return { kind: 'unreadable', file: name, problem: text.detail };
  const parsed = parseSessionFile(name, text);
  return 'session' in parsed
    ? { kind: 'session', file: name, stored: parsed }
    : { kind: 'unreadable', ...parsed };
}

/** Moves a file into the quarantine folder under a name that says where it came from. */
export async function quarantineFile(
  fs: WritableFileSystem,
  source: string,
  quarantineDir: string,
  label: string,
): Promise<string> {
  await fs.mkdir(quarantineDir, { recursive: true });
  // mkdir accepts a symlink to a folder: never move anything through one.
  const folder = await checkDirectory(quarantineDir);
  if (folder !== 'ok') {
    throw new UnsafeFileError(
      quarantineDir,
      folder === 'missing' ? { kind: 'unreadable', detail: 'is gone' } : folder,
    );
  }
  // The time, and a random part: two files of one label in one millisecond never meet.
  const stamp = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const target = join(quarantineDir, `${stamp}-${label}`);
  await fs.rename(source, target);
  return target;
}

/**
 * Removes the temp file an unfinished write of ours left at `path`. Only a
 * regular file under a name we make is one of ours: anything else at a temp
 * name (a symlink, a FIFO, the original's `<id>.tmp`) is moved to
 * quarantine/, never deleted. Returns where it went, or null.
 */
export async function removeTempFile(
  fs: WritableFileSystem,
  path: string,
  quarantineDir: string,
  label: string,
): Promise<string | null> {
  const kind = await checkRegularFile(path);
  if (kind === 'missing') return null;
  if (kind === 'ok' && isOwnTempName(basename(path))) {
    await fs.rm(path, { force: true });
    return null;
  }
  return quarantineFile(fs, path, quarantineDir, label);
}
