/**
 * Reads a data directory offline, strictly read-only: it takes no lock and
 * repairs nothing, so it is safe with the service running or stopped. What a
 * crash left behind (a torn event-log tail, unreadable or temp files) is
 * reported, never fatal. Sessions are shown as the service would serve them:
 * the files with the journal's changes applied. Uses the file store's
 * readers, so the disk format is defined once.
 *
 * Memory does not grow with what sessions hold: a first pass reads each file
 * once and keeps only what orders it (id, seq, created_at: about 150 bytes a
 * session); the report then reads again, one at a time in creation order as
 * it is written out, the sessions it shows (with a session limit, the first
 * and the last that many: a page of files, not every one a second time).
 */
import { readdir, stat } from 'node:fs/promises';
import type { InstanceMarker, Stats } from '../domain/counters.js';
import type { ServiceEvent } from '../domain/event.js';
import { expiryOf, expiryReason } from '../domain/expiry.js';
import type { Session } from '../domain/session.js';
import {
  currentBootId,
  dataDirectoryHazards,
  dataLayout,
  type EventLogScan,
  NO_EVENT_LOG,
  readMarker,
  readStats,
  type SessionsAsServed,
  scanEventLog,
  sessionsAsServed,
  TEMP_SUFFIX,
  trustedSeal,
  type UnreadableSession,
} from '../store/file/index.js';
import { describeHazard, hazardAt, hidesSessions } from './hazards.js';

export class NotADataDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotADataDirectoryError';
  }
}

/** A session expired and not yet swept, as the report lists it. */
export interface ExpiredSession {
  id: string;
  name: string;
  expires_at: string;
  /** What ran out: its lifetime, or its idle timeout. */
  reason: 'lifetime' | 'idle';
}

/**
 * Sessions past their expires_at that no sweep has removed yet (the service
 * stopped before its sweep ran, or is running and about to): the service
 * serves none of them, and its sweep removes each with its session_expired
 * event. Not damage: reported apart from the problems.
 */
export interface ExpiredSessions {
  count: number;
  /** The first MAX_LISTED_EXPIRED of them, in creation order. */
  sessions: ExpiredSession[];
}

/** How many expired sessions a report lists one by one (their count is always whole). */
export const MAX_LISTED_EXPIRED = 20;

export function expiredSession(session: Session): ExpiredSession {
  const expiry = expiryOf(session);
  return {
    id: session.id,
    name: session.name,
    expires_at: session.expires_at ?? '',
    reason: expiry === null ? 'lifetime' : expiryReason(expiry),
  };
}

/** What the inspector reports of a store, whatever holds it. */
export interface StoreReport {
  stats: Stats | null;
  problems: string[];
  sessionCount: number;
  /**
   * The sessions in creation order, read as they are iterated: with the
   * report's session limit, only the first and the last that many.
   */
  sessions(): Iterable<Session>;
  unreadableSessions: UnreadableSession[];
  events: ServiceEvent[];
  /** Every event ever logged (the position of the last). */
  eventCount: number;
  /** Events the retention policy dropped, the oldest first (positions 1 to this); 0: none. */
  eventsDropped: number;
  lastInstance: InstanceMarker | null;
  /** Changes in journal/ that sessions/ does not have yet; `sessions` shows them applied. */
  journalChanges: number;
  /** Sessions expired (by the inspector's clock) and not yet swept; `sessions` still shows them. */
  expired: ExpiredSessions;
}

export interface DataDirectoryReport extends StoreReport {
  dataDir: string;
}

/** What the report shows of what a hazard keeps it from reading: nothing. */
const NOTHING_SERVED: SessionsAsServed = {
  count: 0,
  unreadable: [],
  tempFiles: [],
  segments: [],
  pendingChanges: 0,
  *sessions() {},
  expired: () => ({ count: 0, sessions: [] }),
};

function describeEventLogDamage(scan: EventLogScan): string[] {
  const problems: string[] = [];
  if (scan.validEnd < scan.size) {
    problems.push(
      `events.jsonl ends with ${scan.size - scan.validEnd} bytes of a torn or damaged last line ` +
        '(the service cuts them off at its next start)',
    );
  }
  if (scan.corruptLinesInTail > 0) {
    problems.push(
      `events.jsonl has ${scan.corruptLinesInTail} unreadable lines among its last events`,
    );
  }
  return problems;
}

function expiredOf(served: SessionsAsServed, now: Date): ExpiredSessions {
  const { count, sessions } = served.expired(now, MAX_LISTED_EXPIRED);
  return { count, sessions: sessions.map(expiredSession) };
}

/** Throws NotADataDirectoryError unless `dataDir` looks like a data directory; returns its entries. */
export async function assertDataDirectory(dataDir: string): Promise<string[]> {
  let isDirectory = false;
  try {
    isDirectory = (await stat(dataDir)).isDirectory();
  } catch {
    throw new NotADataDirectoryError(`No data directory at ${dataDir}.`);
  }
  if (!isDirectory) throw new NotADataDirectoryError(`${dataDir} is not a directory.`);
  const entries = await readdir(dataDir);
  if (!['stats.json', 'events.jsonl', 'sessions'].some((name) => entries.includes(name))) {
    throw new NotADataDirectoryError(
      `${dataDir} does not look like a data directory: it has no stats.json, events.jsonl or sessions/.`,
    );
  }
  return entries;
}

/**
 * `sessionLimit`: read only the first and the last that many session files
 * (null: every one), so a report of a million sessions reads a page of them
 * a second time, not every one.
 */
export async function readDataDirectory(
  dataDir: string,
  eventLimit: number,
  sessionLimit: number | null = null,
): Promise<DataDirectoryReport> {
  const layout = dataLayout(dataDir);
  const entries = await assertDataDirectory(dataDir);

  // A symlinked folder, a FIFO as a file: reported, never followed or opened;
  // what it holds is left out of the report.
  const hazards = dataDirectoryHazards(layout);
  const problems: string[] = hazards.map(describeHazard);
  const statsRead = hazardAt(hazards, 'stats.json')
    ? ({ kind: 'missing' } as const)
    : await readStats(layout.statsFile);
  if (statsRead.kind === 'missing' && !hazardAt(hazards, 'stats.json')) {
    problems.push('stats.json is missing');
  }
  if (statsRead.kind === 'corrupt') problems.push(`stats.json is unreadable: ${statsRead.problem}`);

  const served = hidesSessions(hazards)
    ? NOTHING_SERVED
    : sessionsAsServed(
        layout.sessionsDir,
        layout.journalDir,
        !hazardAt(hazards, 'instance.json') &&
          trustedSeal(await readMarker(layout.markerFile), currentBootId()) !== null,
      );
  const { segments, unreadable } = served;
  const temps = [
    ...entries.filter((name) => name.endsWith(TEMP_SUFFIX)),
    ...served.tempFiles.map((file) => `sessions/${file}`),
  ];

  for (const bad of unreadable) {
    problems.push(`sessions/${bad.file} is unreadable: ${bad.problem}`);
  }
  if (temps.length > 0) problems.push(`temp files of unfinished writes: ${temps.join(', ')}`);
  for (const segment of segments) {
    if (segment.damagedBytes > 0) {
      problems.push(
        `journal/${segment.file} has ${segment.damagedBytes} bytes that are not changes ` +
          '(the service moves the segment to quarantine/ at its next start)',
      );
    }
  }

  const scan = hazardAt(hazards, 'events.jsonl')
    ? NO_EVENT_LOG
    : await scanEventLog(layout.eventsFile, eventLimit);
  problems.push(...describeEventLogDamage(scan));
  const markerRead = hazardAt(hazards, 'instance.json')
    ? ({ kind: 'missing' } as const)
    : await readMarker(layout.markerFile);

  return {
    dataDir,
    stats: statsRead.kind === 'ok' ? statsRead.stats : null,
    problems,
    sessionCount: served.count,
    sessions: () => served.sessions(sessionLimit),
    unreadableSessions: unreadable,
    events: scan.tail,
    eventCount: scan.count,
    eventsDropped: scan.head.dropped,
    lastInstance: markerRead.kind === 'ok' ? markerRead.marker : null,
    journalChanges: served.pendingChanges,
    expired: expiredOf(served, new Date()),
  };
}
