/**
 * Finds what another program changed in `sessions/` while this service was
 * stopped (the original implementation, a person with a shell, a restored
 * backup), so a start adopts it instead of serving what it held before. Two
 * ways to look, both reading only the files that may differ:
 *
 * - `logged`: the sessions events.jsonl names in changes no journal segment
 *   holds (the original logs every create, update and delete it makes): one
 *   file read a change.
 * - `every-file`: after a clean stop whose seal (directory-seal.ts) shows
 *   `sessions/` changed with nothing logged (hand edits, a backup unpacked
 *   over it): one pass over the names, an lstat each, and a read of the files
 *   changed since the seal, of the names the store does not hold, and of none
 *   else; a session held whose file is gone was deleted.
 *
 * A file that cannot be a session (not JSON, not a session, its id not its
 * name, a link, a FIFO, a device, too big) is reported for quarantine, never
 * adopted; the session the store held under that name stays as it was.
 * Synchronous on purpose: it runs at boot, before anything is served, like
 * the takeover's reading of every file (session-files.ts says why).
 */
import { type Dir, lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionId } from '../../domain/session.js';
import { isSessionFileName, sessionFileName, TEMP_SUFFIX } from './layout.js';
import { readSessionFile, type StoredSession } from './session-files.js';

/** What the store holds of a session, to compare a file with. */
export interface HeldSession {
  /** The session as compact JSON, in the canonical key order. */
  json: string;
}

export type ForeignChange =
  | { kind: 'created' | 'updated'; id: string; stored: StoredSession }
  | { kind: 'deleted'; id: string };

export interface ForeignChanges {
  changes: ForeignChange[];
  /** Files in sessions/ that cannot be sessions: to be moved to quarantine/. */
  unusable: { file: string; problem: string }[];
  /** Session files read. */
  filesRead: number;
}

export type ForeignScope =
  | { kind: 'logged'; ids: Iterable<string> }
  /** `since`: the change time (ns) from which a file may differ from what the store holds. */
  | { kind: 'every-file'; since: bigint };

/** How often the pass over every name reports its progress. */
const PROGRESS_EVERY = 100_000;

export function findForeignChanges(
  sessionsDir: string,
  held: ReadonlyMap<string, HeldSession>,
  scope: ForeignScope,
  progress: (namesSeen: number) => void = () => undefined,
): ForeignChanges {
  const found: ForeignChanges = { changes: [], unusable: [], filesRead: 0 };
  const look = (id: string, name: string): void => {
    found.filesRead++;
    const entry = readSessionFile(sessionsDir, name);
    const current = held.get(id);
    if (entry === null) {
      if (current !== undefined) found.changes.push({ kind: 'deleted', id });
    } else if (entry.kind === 'session') {
      const json = JSON.stringify(entry.stored.session);
      if (current === undefined) found.changes.push({ kind: 'created', id, stored: entry.stored });
      else if (current.json !== json) {
        found.changes.push({ kind: 'updated', id, stored: entry.stored });
      }
    } else if (entry.kind === 'unreadable') {
      found.unusable.push({ file: name, problem: entry.problem });
    }
  };

  if (scope.kind === 'logged') {
    for (const id of new Set(scope.ids)) look(id, sessionFileName(id));
    return found;
  }

  let dir: Dir;
  try {
    dir = opendirSync(sessionsDir, { bufferSize: 256 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    for (const id of held.keys()) found.changes.push({ kind: 'deleted', id });
    return found;
  }
  const seen = new Set<string>();
  let names = 0;
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      if (++names % PROGRESS_EVERY === 0) progress(names);
      const name = entry.name;
      // Temp files are unfinished writes, and other names no reader takes for a session.
      if (name.endsWith(TEMP_SUFFIX) || !isSessionFileName(name)) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isSessionId(id)) {
        found.unusable.push({ file: name, problem: 'its name is not <session id>.json' });
        continue;
      }
      if (held.has(id)) {
        seen.add(id);
        const stats = lstatSync(join(sessionsDir, name), { bigint: true, throwIfNoEntry: false });
        if (stats?.isFile() && stats.ctimeNs < scope.since) continue;
      }
      look(id, name);
    }
  } finally {
    dir.closeSync();
  }
  for (const id of held.keys()) {
    if (!seen.has(id)) found.changes.push({ kind: 'deleted', id });
  }
  return found;
}
