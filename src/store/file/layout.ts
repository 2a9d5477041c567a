/**
 * The data directory's layout, in one place. The first three entries are the
 * original implementation's format; the rest are ours and are ignored by it.
 *
 *   sessions/<id>.json   one session, pretty-printed JSON
 *   events.jsonl         the append-only event log, one JSON object a line
 *   stats.json           the lifecycle counters
 *   instance.json        what the owning instance said about itself (crash accounting)
 *   instance.lock        held (flock) by the live instance
 *   journal/             the write-ahead log of session changes (see journal.ts)
 *   snapshot.jsonl       every session as of a point in the journal (see snapshot.ts)
 *   quarantine/          unreadable files moved aside, never deleted
 *   spare/               replaced session files kept to be written into again (see spare-files.ts)
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  decodeUtf8,
  type FileProblem,
  isFileProblem,
  MAX_WHOLE_FILE_BYTES,
  readRegularFile,
} from './safe-open.js';

export interface DataLayout {
  root: string;
  sessionsDir: string;
  eventsFile: string;
  statsFile: string;
  markerFile: string;
  lockFile: string;
  journalDir: string;
  snapshotFile: string;
  quarantineDir: string;
  spareDir: string;
}

export function dataLayout(root: string): DataLayout {
  return {
    root,
    sessionsDir: join(root, 'sessions'),
    eventsFile: join(root, 'events.jsonl'),
    statsFile: join(root, 'stats.json'),
    markerFile: join(root, 'instance.json'),
    lockFile: join(root, 'instance.lock'),
    journalDir: join(root, 'journal'),
    snapshotFile: join(root, 'snapshot.jsonl'),
    quarantineDir: join(root, 'quarantine'),
    spareDir: join(root, 'spare'),
  };
}

export function sessionFileName(id: string): string {
  return `${id}.json`;
}

/** Temp files end in `.tmp` (as the original's did) so `*.json` globs never match them. */
export const TEMP_SUFFIX = '.tmp';

/**
 * Whether a temp file's name is one this service makes (`<file>.json.tmp`,
 * `<file>.jsonl.tmp`, or those with a random part before `.tmp`), not the
 * original's (`<id>.tmp`, `stats.tmp`): only ours are deleted when left over.
 */
export function isOwnTempName(name: string): boolean {
  return /\.jsonl?(\.[^.]+)?\.tmp$/.test(name);
}

export function isSessionFileName(name: string): boolean {
  return name.endsWith('.json');
}

/**
 * A small file's text, or null when it does not exist (yet), or what keeps
 * it from being read: it is not a regular file (a symlink is never
 * followed, a FIFO never opened so that it can hang), it is larger than
 * MAX_WHOLE_FILE_BYTES, or it is not UTF-8.
 */
export async function readTextIfPresent(path: string): Promise<string | FileProblem | null> {
  const bytes = await readRegularFile(path, MAX_WHOLE_FILE_BYTES);
  if (bytes === null || isFileProblem(bytes)) return bytes;
  return decodeUtf8(bytes);
}

/** The names in `dir`, or none when it does not exist (yet). */
export async function readdirIfPresent(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
