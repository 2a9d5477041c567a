/**
 * Reads a data directory offline, strictly read-only: it takes no lock and
 * repairs nothing, so it is safe with the service running or stopped. What a
 * crash left behind (a torn event-log tail, unreadable or temp files) is
 * reported, never fatal. Sessions are shown as the service would serve them:
 * the files with the journal's changes applied. Uses the file store's readers, so the disk format is
 * defined once.
 */
import { readdir, stat } from 'node:fs/promises';
import type { InstanceMarker, Stats } from '../domain/counters.js';
import type { ServiceEvent } from '../domain/event.js';
import type { Session } from '../domain/session.js';
import { type EventLogScan, scanEventLog } from '../store/file/event-log-reader.js';
import { readMarker } from '../store/file/instance-marker.js';
import { applyJournalOffline } from '../store/file/journal.js';
import { dataLayout, TEMP_SUFFIX } from '../store/file/layout.js';
import { readSessionFiles, type UnreadableSession } from '../store/file/session-files.js';
import { readStats } from '../store/file/stats-file.js';

export class NotADataDirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotADataDirectoryError';
  }
}

export interface DataDirectoryReport {
  dataDir: string;
  stats: Stats | null;
  problems: string[];
  sessions: Session[];
  unreadableSessions: UnreadableSession[];
  events: ServiceEvent[];
  eventCount: number;
  lastInstance: InstanceMarker | null;
  /** Changes in journal/ that sessions/ does not have yet; `sessions` shows them applied. */
  journalChanges: number;
}

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

export async function readDataDirectory(
  dataDir: string,
  eventLimit: number,
): Promise<DataDirectoryReport> {
  const layout = dataLayout(dataDir);
  const entries = await assertDataDirectory(dataDir);

  const problems: string[] = [];
  const statsRead = await readStats(layout.statsFile);
  if (statsRead.kind === 'missing') problems.push('stats.json is missing');
  if (statsRead.kind === 'corrupt') problems.push(`stats.json is unreadable: ${statsRead.problem}`);

  const loaded = await readSessionFiles(layout.sessionsDir);
  for (const bad of loaded.unreadable) {
    problems.push(`sessions/${bad.file} is unreadable: ${bad.problem}`);
  }
  const temps = [
    ...entries.filter((name) => name.endsWith(TEMP_SUFFIX)),
    ...loaded.tempFiles.map((name) => `sessions/${name}`),
  ];
  if (temps.length > 0) problems.push(`temp files of unfinished writes: ${temps.join(', ')}`);

  const asServed = applyJournalOffline(loaded.sessions, layout.journalDir);
  for (const segment of asServed.segments) {
    if (segment.damagedBytes > 0) {
      problems.push(
        `journal/${segment.file} has ${segment.damagedBytes} bytes that are not changes ` +
          '(the service moves the segment to quarantine/ at its next start)',
      );
    }
  }

  const scan = await scanEventLog(layout.eventsFile, eventLimit);
  problems.push(...describeEventLogDamage(scan));
  const markerRead = await readMarker(layout.markerFile);

  return {
    dataDir,
    stats: statsRead.kind === 'ok' ? statsRead.stats : null,
    problems,
    sessions: asServed.sessions.map((entry) => entry.session),
    unreadableSessions: loaded.unreadable,
    events: scan.tail,
    eventCount: scan.count,
    lastInstance: markerRead.kind === 'ok' ? markerRead.marker : null,
    journalChanges: asServed.pendingChanges,
  };
}
