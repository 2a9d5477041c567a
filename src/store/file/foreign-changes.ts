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
 * Its calls are synchronous (session-files.ts says why), a thousand names at
 * a time, the event loop running between them (the start's progress, the
 * port's "starting" answers).
 */
import { type Dir, lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { isSessionId } from '../../domain/session.js';
import { yieldToEventLoop } from './boot-progress.js';
import {
  changedSinceSeal,
  type DirectorySeal,
  isBrokenSeal,
  sealedChangeTime,
} from './directory-seal.js';
import { type DataLayout, isSessionFileName, sessionFileName, TEMP_SUFFIX } from './layout.js';
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
  | { kind: 'logged'; ids: ReadonlySet<string> }
  /** `since`: the change time (ns) from which a file may differ from what the store holds. */
  | { kind: 'every-file'; since: bigint };

/**
 * Where a start looks for what another program changed in sessions/ since
 * this service last wrote it, or null when nothing says anything changed
 * (one rule for the start, `inspect --verify` and `--repair`'s advice):
 *
 * - a seal `inspect --repair` broke (it found an edit the seal cannot show):
 *   every file changed since the stop;
 * - else the sessions events.jsonl names in changes of another program (the
 *   original logs every change it makes; after a kill, or a machine restart,
 *   with no seal to trust, that is all a start can know): O(changes), even if
 *   a person changed other files in the same window (verify reports those);
 * - else, after a clean stop whose seal shows sessions/ moved, every file
 *   changed since the seal.
 *
 * `seal` is the one a start may trust (instance-marker.ts, trustedSeal).
 */
export function whereToLook(
  layout: DataLayout,
  seal: DirectorySeal | null,
  loggedIds: Iterable<string>,
): { scope: ForeignScope; changed: string[] } | null {
  const logged = new Set(loggedIds);
  const changed = seal === null ? [] : changedSinceSeal(seal, layout);
  const everyFile = { kind: 'every-file', since: sealedChangeTime(seal) ?? 0n } as const;
  if (seal !== null && isBrokenSeal(seal)) return { scope: everyFile, changed };
  if (logged.size > 0) return { scope: { kind: 'logged', ids: logged }, changed };
  if (seal === null || !changed.includes('sessions/')) return null;
  return { scope: everyFile, changed };
}

/**
 * Whether `scope` has a start read the file of `id` (whose session the
 * start holds or not); `changeTime` is the file's lstat change time
 * (undefined when there is none).
 */
export function startLooksAt(
  scope: ForeignScope | null,
  id: string,
  held: boolean,
  changeTime: bigint | undefined,
): boolean {
  if (scope === null) return false;
  if (scope.kind === 'logged') return scope.ids.has(id);
  return !held || changeTime === undefined || changeTime >= scope.since;
}

/** How often the pass over every name reports its progress and lets the event loop run. */
const YIELD_EVERY = 1000;

export async function findForeignChanges(
  sessionsDir: string,
  held: ReadonlyMap<string, HeldSession>,
  scope: ForeignScope,
  progress: (namesSeen: number) => void = () => undefined,
): Promise<ForeignChanges> {
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
    for (const id of scope.ids) look(id, sessionFileName(id));
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
      if (++names % YIELD_EVERY === 0) {
        progress(names);
        await yieldToEventLoop();
      }
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
