/**
 * What a clean stop leaves in the data directory, recorded so the next start
 * can tell in O(1) whether another program (the original implementation, a
 * person with a shell, a restored backup) changed it meanwhile: the identity
 * (inode, size, modification and change times, in nanoseconds) of
 * `sessions/`, `events.jsonl` and `stats.json`, taken once the stop's last
 * checkpoint and counters are written. The instance marker carries it
 * (instance-marker.ts) while it says `stopped`.
 *
 * Every change by rename, creation or deletion in `sessions/` (how the
 * original writes and deletes, how `mv`, `cp` of a new file, `rm` and `tar`
 * change it) moves the directory's times; every event appended moves the
 * log's size; a rewritten `stats.json` is a new inode. An edit made in place
 * inside an existing session file (an editor that writes the file itself, not
 * a copy renamed over it) moves only that file's times: the seal cannot see
 * it; `stateful inspect --verify` does (it looks at every file), and says how
 * to have a start adopt it.
 */
import { lstatSync } from 'node:fs';
import type { DataLayout } from './layout.js';

/** A file's or directory's identity, as lstat tells it (never following a link). */
export interface FileIdentity {
  ino: string;
  size: string;
  mtime_ns: string;
  ctime_ns: string;
}

export interface DirectorySeal {
  sessions: FileIdentity | null;
  events: FileIdentity | null;
  stats: FileIdentity | null;
}

function identityOf(path: string): FileIdentity | null {
  const stats = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (stats === undefined) return null;
  return {
    ino: String(stats.ino),
    size: String(stats.size),
    mtime_ns: String(stats.mtimeNs),
    ctime_ns: String(stats.ctimeNs),
  };
}

/** The directory's seal as it stands now (three lstat calls). */
export function takeSeal(layout: DataLayout): DirectorySeal {
  return {
    sessions: identityOf(layout.sessionsDir),
    events: identityOf(layout.eventsFile),
    stats: identityOf(layout.statsFile),
  };
}

function sameIdentity(a: FileIdentity | null, b: FileIdentity | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.ino === b.ino && a.size === b.size && a.mtime_ns === b.mtime_ns && a.ctime_ns === b.ctime_ns
  );
}

/** What changed since `seal` was taken: the names of the entries whose identity moved. */
export function changedSinceSeal(seal: DirectorySeal, layout: DataLayout): string[] {
  const now = takeSeal(layout);
  const changed: string[] = [];
  if (!sameIdentity(seal.sessions, now.sessions)) changed.push('sessions/');
  if (!sameIdentity(seal.events, now.events)) changed.push('events.jsonl');
  if (!sameIdentity(seal.stats, now.stats)) changed.push('stats.json');
  return changed;
}

/**
 * The change time from which a session file counts as changed after the
 * seal: `sessions/`'s own change time when sealed (the stop's last rename or
 * removal in it), null when unknown (every file is looked at). The file
 * system stamps times from a coarse clock, so a file written in the same
 * tick as the seal compares equal: such files are looked at too (`>=`).
 */
export function sealedChangeTime(seal: DirectorySeal | null): bigint | null {
  if (seal?.sessions == null) return null;
  return BigInt(seal.sessions.ctime_ns);
}

/**
 * The seal with `sessions/`'s identity made to match nothing, its change
 * time kept: the next start looks at every file changed since the stop, as
 * it does when `sessions/` changed (`inspect --repair` found a change the
 * seal cannot show, an edit in place, and leaves it for the start to adopt).
 */
export function brokenSeal(seal: DirectorySeal): DirectorySeal {
  if (seal.sessions === null) return seal;
  return { ...seal, sessions: { ...seal.sessions, ino: '0', mtime_ns: '0' } };
}

/** Whether `seal` is one brokenSeal made. */
export function isBrokenSeal(seal: DirectorySeal): boolean {
  return seal.sessions !== null && seal.sessions.ino === '0' && seal.sessions.mtime_ns === '0';
}

export function parseSeal(value: unknown): DirectorySeal | null {
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  const identity = (entry: unknown): FileIdentity | null | undefined => {
    if (entry === null) return null;
    if (typeof entry !== 'object' || entry === undefined) return undefined;
    const fields = entry as Record<string, unknown>;
    const keys = ['ino', 'size', 'mtime_ns', 'ctime_ns'] as const;
    if (!keys.every((key) => typeof fields[key] === 'string' && /^\d{1,30}$/.test(fields[key]))) {
      return undefined;
    }
    return {
      ino: fields.ino as string,
      size: fields.size as string,
      mtime_ns: fields.mtime_ns as string,
      ctime_ns: fields.ctime_ns as string,
    };
  };
  const sessions = identity(record.sessions);
  const events = identity(record.events);
  const stats = identity(record.stats);
  if (sessions === undefined || events === undefined || stats === undefined) return null;
  return { sessions, events, stats };
}
