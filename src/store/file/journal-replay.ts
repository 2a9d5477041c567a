/**
 * Replaying journal segments (see journal.ts) over the sessions they change:
 * a start's replay over the snapshot, a roll-forward over the session files,
 * the inspector's view of the sessions as the service would serve them. A
 * patch applies to the last put before it or, failing that, to a base (the
 * snapshot's session or the file's); one with neither is not guessed.
 */
import { type ServiceEvent, serializeEvent } from '../../domain/event.js';
import { isExpired } from '../../domain/expiry.js';
import { applySessionPatch, type Session, type SessionPatch } from '../../domain/session.js';
import { type JournalSegmentRead, readJournal, recordSessionId } from './journal-records.js';
import { sessionFileName } from './layout.js';
import { openNoFollow } from './safe-open.js';
import {
  type CreationKey,
  compareCreationOrder,
  compareStoredSessions,
  creationKeyOf,
  readSessionFile,
  type StoredSession,
  sessionFileEntries,
  type UnreadableSession,
} from './session-files.js';
import type { ResidentSession } from './snapshot.js';

export interface Replay {
  /**
   * What the journal leaves of each session it touches: the session after
   * its last change, or null when its last change deletes it. Memory is the
   * journal's, whatever the directory holds.
   */
  outcome: Map<string, StoredSession | null>;
  /**
   * Sessions the journal patches with nothing to patch: no put before the
   * patch and no base held them (another program removed the file or the
   * snapshot the patch applies to). Not in `outcome`.
   */
  unresolved: string[];
  /** Events of the changes that were not reverted, in journal order. */
  events: ServiceEvent[];
  records: number;
}

/**
 * The sessions whose first change in `segments` is a patch: those a replay
 * needs as they were before the segments (from the snapshot, or from their
 * files when rolling forward).
 */
export function sessionsPatchedFirst(segments: readonly JournalSegmentRead[]): Set<string> {
  const seen = new Set<string>();
  const patchedFirst = new Set<string>();
  for (const segment of segments) {
    for (const record of segment.records) {
      const id = recordSessionId(record);
      if (seen.has(id)) continue;
      seen.add(id);
      if (record.op === 'patch') patchedFirst.add(id);
    }
  }
  return patchedFirst;
}

/** The files of `ids` that hold a session: the bases a roll-forward patches. */
export function basesFromFiles(
  sessionsDir: string,
  ids: Iterable<string>,
): Map<string, StoredSession> {
  const bases = new Map<string, StoredSession>();
  for (const id of ids) {
    const entry = readSessionFile(sessionsDir, sessionFileName(id));
    if (entry?.kind === 'session') bases.set(id, entry.stored);
  }
  return bases;
}

/** The sessions of a snapshot among `ids`, parsed: the bases a start patches. */
export function basesFromSnapshot(
  residents: Iterable<ResidentSession>,
  ids: ReadonlySet<string>,
): Map<string, StoredSession> {
  const bases = new Map<string, StoredSession>();
  if (ids.size === 0) return bases;
  for (const resident of residents) {
    if (ids.has(resident.id)) {
      bases.set(resident.id, { session: JSON.parse(resident.json) as Session, seq: resident.seq });
    }
  }
  return bases;
}

/** "N sessions (a, b, c, …)": ids named in a report, the first three of them. */
export function describeIds(ids: readonly string[]): string {
  const shown = ids.slice(0, 3).join(', ');
  return `${ids.length} ${ids.length === 1 ? 'session' : 'sessions'} (${shown}${ids.length > 3 ? ', …' : ''})`;
}

/** Patches of a session whose base the segments do not hold, in order. */
interface Unbased {
  patches: SessionPatch[];
}

/** A session the replay has patched: its own copy, patched in place. */
interface Patched {
  stored: StoredSession;
}

/**
 * Reads the segments' changes in order: what they leave of each session, and
 * their events. A patch applies to the session as the replay left it, or, at
 * a session's first change, to its base in `bases` (see
 * sessionsPatchedFirst; without one the session is `unresolved`). A session
 * patched is copied once, then patched in place: a replay costs the changes'
 * size, whatever the sessions weigh.
 */
export function replayJournal(
  segments: readonly JournalSegmentRead[],
  bases: ReadonlyMap<string, StoredSession> = new Map(),
): Replay {
  const state = new Map<string, StoredSession | Patched | Unbased | null>();
  const expected: { event: ServiceEvent; cancelled: boolean }[] = [];
  // Each session's events not cancelled yet, newest last: a revert cancels
  // the newest (a batch's failed changes are reverted the last first).
  const uncancelled = new Map<string, { event: ServiceEvent; cancelled: boolean }[]>();
  let records = 0;
  for (const segment of segments) {
    for (const record of segment.records) {
      records++;
      const id = recordSessionId(record);
      if (record.op === 'patch') {
        const current = state.get(id);
        if (current === undefined) state.set(id, { patches: [record.patch] });
        else if (current === null) {
          // Never written (a patch needs the session); a later put or delete settles it.
        } else if ('patches' in current) current.patches.push(record.patch);
        else if ('stored' in current) applySessionPatch(current.stored.session, record.patch);
        else state.set(id, { stored: patchedCopy(current, [record.patch]) });
      } else {
        state.set(id, record.op === 'put' ? { session: record.session, seq: record.seq } : null);
      }
      if (record.revert === true) {
        const reverted = uncancelled.get(id)?.pop();
        if (reverted !== undefined) reverted.cancelled = true;
      } else if (record.event !== undefined) {
        const entry = { event: record.event, cancelled: false };
        expected.push(entry);
        const pending = uncancelled.get(id);
        if (pending === undefined) uncancelled.set(id, [entry]);
        else pending.push(entry);
      }
    }
  }
  const outcome = new Map<string, StoredSession | null>();
  const unresolved: string[] = [];
  for (const [id, current] of state) {
    if (current === null) outcome.set(id, null);
    else if ('stored' in current) outcome.set(id, current.stored);
    else if (!('patches' in current)) outcome.set(id, current);
    else {
      const base = bases.get(id);
      if (base === undefined) unresolved.push(id);
      else outcome.set(id, patchedCopy(base, current.patches));
    }
  }
  return {
    outcome,
    unresolved,
    events: expected.filter((entry) => !entry.cancelled).map((entry) => entry.event),
    records,
  };
}

/** A copy of `stored` (its own to patch in place) with `patches` applied. */
function patchedCopy(stored: StoredSession, patches: readonly SessionPatch[]): StoredSession {
  const session = structuredClone(stored.session);
  for (const patch of patches) applySessionPatch(session, patch);
  return { session, seq: stored.seq };
}

/**
 * The `expected` events that are not among the lines of `eventsFile` between
 * `from` and `end` (each line matches one expected event at most).
 */
export async function findMissingEvents(
  eventsFile: string,
  from: number,
  end: number,
  expected: readonly ServiceEvent[],
): Promise<ServiceEvent[]> {
  if (expected.length === 0) return [];
  const present = new Map<string, number>();
  const start = Math.min(Math.max(0, from), end);
  if (end > start) {
    const handle = await openNoFollow(eventsFile, 'r');
    try {
      const buffer = Buffer.alloc(end - start);
      await handle.read(buffer, 0, buffer.length, start);
      for (const line of buffer.toString('utf8').split('\n')) {
        if (line !== '') present.set(line, (present.get(line) ?? 0) + 1);
      }
    } finally {
      await handle.close();
    }
  }
  const missing: ServiceEvent[] = [];
  for (const event of expected) {
    // A version that wrote a whole `ts` without `.0` wrote the line as JSON.stringify does.
    const written = serializeEvent(event);
    const line = present.has(written) ? written : JSON.stringify(event);
    const count = present.get(line) ?? 0;
    if (count > 0) present.set(line, count - 1);
    else missing.push(event);
  }
  return missing;
}

/** The sessions from files with what the journal left of them in their place, in creation order. */
export function applyOutcome(
  fromFiles: readonly StoredSession[],
  outcome: ReadonlyMap<string, StoredSession | null>,
): StoredSession[] {
  const sessions = fromFiles.filter((stored) => !outcome.has(stored.session.id));
  for (const last of outcome.values()) if (last !== null) sessions.push(last);
  return sessions.sort(compareStoredSessions);
}

export interface SessionsAsServed {
  /** How many sessions the service would serve (the files with the journal applied). */
  count: number;
  /** Session files that cannot be read, and temp files of unfinished writes. */
  unreadable: UnreadableSession[];
  tempFiles: string[];
  segments: JournalSegmentRead[];
  /** Journal lines that a start would replay. */
  pendingChanges: number;
  /**
   * The sessions, in creation order, one at a time: only their creation
   * keys are held, each file is read again when its turn comes (a file
   * deleted since is left out; one changed since shows as it is now). With
   * `limit`, only the first and the last `limit` of them are read.
   */
  sessions(limit?: number | null): Generator<Session>;
  /**
   * The sessions expired at `now` that no sweep has removed yet (the service
   * serves none of them): how many, and the first `limit` in creation order.
   */
  expired(now: Date, limit: number): { count: number; sessions: Session[] };
}

/** A creation key and, for a session that expires, when: what tells expired ones apart. */
type ServedKey = CreationKey & { expires_at?: string };

/** Only a session that expires pays for the extra key (a never-expiring million pays nothing). */
function servedKeyOf(stored: StoredSession): ServedKey {
  const key: ServedKey = creationKeyOf(stored);
  if (stored.session.expires_at !== undefined) key.expires_at = stored.session.expires_at;
  return key;
}

/**
 * The sessions as the service would serve them, read offline in memory that
 * grows with their number by a creation key each, not by their data.
 * `filesCurrent`: the last instance stopped cleanly and sealed the
 * directory, so the files hold every change the journal does, and whatever
 * differs is another program's change a start adopts: the journal is not
 * applied over them.
 */
export function sessionsAsServed(
  sessionsDir: string,
  journalDir: string,
  filesCurrent = false,
): SessionsAsServed {
  const segments = readJournal(journalDir);
  // The files are the base of the sessions the journal patches first.
  const patchedFirst = filesCurrent ? new Set<string>() : sessionsPatchedFirst(segments);
  const bases = new Map<string, StoredSession>();
  const fromFiles: ServedKey[] = [];
  const unreadable: UnreadableSession[] = [];
  const tempFiles: string[] = [];
  for (const entry of sessionFileEntries(sessionsDir)) {
    if (entry.kind === 'temp') tempFiles.push(entry.file);
    else if (entry.kind === 'unreadable') unreadable.push(entry);
    else {
      fromFiles.push(servedKeyOf(entry.stored));
      if (patchedFirst.has(entry.stored.session.id))
        bases.set(entry.stored.session.id, entry.stored);
    }
  }
  const replay = replayJournal(segments, bases);
  const { records } = replay;
  const outcome: ReadonlyMap<string, StoredSession | null> = filesCurrent
    ? new Map()
    : replay.outcome;
  const keys = fromFiles.filter((key) => !outcome.has(key.id));
  for (const last of outcome.values()) if (last !== null) keys.push(servedKeyOf(last));
  keys.sort(compareCreationOrder);
  // The session as served: the journal's last change of it, else its file as it is now.
  const read = (key: ServedKey): Session | undefined => {
    const fromJournal = outcome.get(key.id);
    if (fromJournal) return fromJournal.session;
    const entry = readSessionFile(sessionsDir, sessionFileName(key.id));
    return entry?.kind === 'session' ? entry.stored.session : undefined;
  };
  return {
    count: keys.length,
    unreadable,
    tempFiles,
    segments,
    // After a sealed clean stop the files hold every change the journal does.
    pendingChanges: filesCurrent ? 0 : records,
    *sessions(limit = null) {
      const shown =
        limit === null || keys.length <= 2 * limit
          ? keys
          : [...keys.slice(0, limit), ...keys.slice(keys.length - limit)];
      for (const key of shown) {
        const session = read(key);
        if (session !== undefined) yield session;
      }
    },
    expired(now, limit) {
      const due = keys.filter((key) => isExpired(key.expires_at, now));
      const sessions = due.slice(0, limit).flatMap((key) => {
        const session = read(key);
        // Read again, it may have been written since: shown only if still expired.
        return session !== undefined && isExpired(session.expires_at, now) ? [session] : [];
      });
      return { count: due.length, sessions };
    },
  };
}
