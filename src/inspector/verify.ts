/**
 * `stateful inspect --verify`: checks a data directory the way fsck checks a
 * file system, read-only. Every session file must parse and match the
 * session schema; every line of the event log must be an event (a torn tail
 * is told apart from corruption in the middle, which is reported with its
 * line number); journal segments must hold whole lines; the counters must
 * agree with the contents; and no temp or quarantined files may linger (while
 * a live service holds the directory, its temp files are writes in progress).
 * Findings that `--repair` can fix say so. Session files and event lines are
 * read one at a time, and so is snapshot.jsonl (the sessions the service
 * serves when there is one: only the ids the journal touches are held); the
 * journal is read whole, as a start reads it.
 */
import { readdir } from 'node:fs/promises';
import type { Stats } from '../domain/counters.js';
import {
  basesFromFiles,
  type DataLayout,
  dataDirectoryHazards,
  dataLayout,
  describeIds,
  firstBadLine,
  isLockHeld,
  type JournalSegmentRead,
  type MarkerRead,
  parseEventLine,
  readdirIfPresent,
  readJournal,
  readLogLines,
  readMarker,
  readStats,
  replayJournal,
  type SnapshotScan,
  scanEventLog,
  scanSnapshot,
  sessionFileEntries,
  sessionsPatchedFirst,
  TEMP_SUFFIX,
} from '../store/file/index.js';
import type { Finding } from './finding.js';
import { describeHazard } from './hazards.js';
import { assertDataDirectory } from './read-data-dir.js';
import { type ServedView, servedView } from './served-view.js';

export interface VerifyReport {
  dataDir: string;
  findings: Finding[];
  checked: { sessionFiles: number; eventLines: number };
}

const MAX_LISTED_BAD_LINES = 20;
/** Findings of one kind (unreadable session files, temp files) listed one by one; the rest are counted. */
const MAX_LISTED_FILES = 100;

interface EventLogContents {
  lines: number;
  badLines: number[];
  badLineCount: number;
  kinds: Map<string, number>;
  /** Of the sessions `watched`, those the log has a session_created for. */
  createdWatched: Set<string>;
}

/**
 * Reads every complete line up to `end`, noting the lines that are not
 * events, and which of the `watched` sessions the log records as created.
 */
async function readEveryEvent(
  path: string,
  end: number,
  watched: ReadonlySet<string>,
): Promise<EventLogContents> {
  const contents: EventLogContents = {
    lines: 0,
    badLines: [],
    badLineCount: 0,
    kinds: new Map(),
    createdWatched: new Set(),
  };
  for await (const line of readLogLines(path, end)) {
    contents.lines++;
    const event = parseEventLine(line);
    if (event === null) {
      contents.badLineCount++;
      if (contents.badLines.length < MAX_LISTED_BAD_LINES) contents.badLines.push(contents.lines);
      continue;
    }
    contents.kinds.set(event.event, (contents.kinds.get(event.event) ?? 0) + 1);
    if (event.event === 'session_created' && watched.has(String(event.session_id))) {
      contents.createdWatched.add(String(event.session_id));
    }
  }
  return contents;
}

export async function verifyDataDirectory(dataDir: string): Promise<VerifyReport> {
  await assertDataDirectory(dataDir);
  const layout = dataLayout(dataDir);
  // A symlinked folder, a FIFO as a file: reported, never followed or opened.
  const hazards = dataDirectoryHazards(layout);
  if (hazards.length > 0) {
    const problems = hazards.map((hazard) => ({ problem: describeHazard(hazard) }));
    return { dataDir, findings: problems, checked: { sessionFiles: 0, eventLines: 0 } };
  }
  const findings: Finding[] = [];
  const statsRead = await readStats(layout.statsFile);
  if (statsRead.kind === 'missing') findings.push({ problem: 'stats.json is missing' });
  if (statsRead.kind === 'corrupt') {
    findings.push({ problem: `stats.json is unreadable: ${statsRead.problem}` });
  }
  const marker = await readMarker(layout.markerFile);
  const sessions = await checkSessions(layout, marker, findings);
  await checkTempFiles(layout, sessions.temps, findings);
  for (const segment of sessions.segments) {
    if (segment.damagedBytes > 0) {
      findings.push({
        problem: `journal/${segment.file} has ${segment.damagedBytes} bytes that are not changes`,
        repair: 'roll the journal forward and move the segment to quarantine/',
      });
    }
  }
  const logEnd = await checkLogTail(layout, sessions.snapshot, findings);
  const createdInJournal = createdIn(sessions.segments);
  const events = await readEveryEvent(layout.eventsFile, logEnd, createdInJournal);
  if (events.badLineCount > 0) {
    const more = events.badLineCount > events.badLines.length ? ' …' : '';
    findings.push({
      problem: `events.jsonl has ${events.badLineCount} corrupt lines in the middle (line ${events.badLines.join(', ')}${more})`,
    });
  }
  if (statsRead.kind === 'ok') {
    const served = sessions.asServed;
    checkCounters(statsRead.stats, { events, marker, createdInJournal, served }, findings);
  }
  if (marker.kind === 'corrupt') findings.push({ problem: 'instance.json is unreadable' });
  const quarantined = await readdirIfPresent(layout.quarantineDir);
  if (quarantined.length > 0) {
    findings.push({
      problem: `${quarantined.length} files in quarantine/ (${quarantined.slice(0, 5).join(', ')}): look at them, then delete them`,
      forReview: true,
    });
  }
  return {
    dataDir,
    findings,
    checked: { sessionFiles: sessions.files, eventLines: events.lines },
  };
}

/** What checking the sessions found besides findings. */
interface SessionsChecked {
  /** Session files read. */
  files: number;
  /** The sessions a start would serve. */
  asServed: number;
  segments: JournalSegmentRead[];
  snapshot: SnapshotScan;
  /** Temp files of unfinished writes, relative to the directory. */
  temps: string[];
}

/**
 * Reads every session file, and the journal and the snapshot over them:
 * what cannot be read, what differs from what a start serves, and how many
 * sessions that is.
 */
async function checkSessions(
  layout: DataLayout,
  marker: MarkerRead,
  findings: Finding[],
): Promise<SessionsChecked> {
  // The journal's changes apply on top of the files: what the service would serve.
  const segments = readJournal(layout.journalDir);
  const { outcome, unresolved } = replayJournal(
    segments,
    basesFromFiles(layout.sessionsDir, sessionsPatchedFirst(segments)),
  );
  // With a snapshot, the service serves it and the journal after it: the
  // files are a view of them, which another program may have changed (a
  // start adopts that) or a power cut left behind (a deleted session's file
  // back, a file empty), until the next start writes it again. Only the ids
  // the journal touches are held, and a digest of each session served.
  const inSnapshot = new Set<string>();
  const snapshot = await scanSnapshot(layout.snapshotFile, (resident) => {
    if (outcome.has(resident.id)) inSnapshot.add(resident.id);
  });
  const served =
    snapshot.kind === 'ok' ? await servedView(layout, snapshot.header, segments, marker) : null;
  const temps = (await readdir(layout.root)).filter((name) => name.endsWith(TEMP_SUFFIX));
  const files = checkSessionFiles(layout, outcome, served, temps, findings);
  let asServed = files.fromFiles;
  for (const last of outcome.values()) if (last !== null) asServed++;
  if (snapshot.kind !== 'ok' && unresolved.length > 0) {
    findings.push({
      problem: `the journal patches ${describeIds(unresolved)} that no session file holds: a start cannot serve them`,
      repair: 'move the journal segments holding their changes to quarantine/',
    });
  }
  if (files.unreadable > MAX_LISTED_FILES) {
    findings.push({
      problem: `${files.unreadable - MAX_LISTED_FILES} more unreadable session files`,
      repair: 'move them to quarantine/',
    });
  }
  if (snapshot.kind === 'ok') {
    asServed = snapshot.count;
    const after = segments.filter((segment) => segment.number >= snapshot.header.journal_from);
    for (const [id, last] of replayJournal(after).outcome) {
      if (last === null && inSnapshot.has(id)) asServed--;
      if (last !== null && !inSnapshot.has(id)) asServed++;
    }
  }
  return { files: files.read, asServed, segments, snapshot, temps };
}

/**
 * Reads every session file once: the unreadable ones, those that differ
 * from what a start serves, and how many sessions the files hold that the
 * journal does not change (and how many are unreadable: the findings list
 * the first MAX_LISTED_FILES). Temp files found are added to `temps`.
 */
function checkSessionFiles(
  layout: DataLayout,
  outcome: ReadonlyMap<string, unknown>,
  served: ServedView | null,
  temps: string[],
  findings: Finding[],
): { read: number; fromFiles: number; unreadable: number } {
  const differences: Finding[] = [];
  let read = 0;
  let fromFiles = 0;
  let unreadable = 0;
  for (const entry of sessionFileEntries(layout.sessionsDir)) {
    if (entry.kind === 'temp') {
      temps.push(`sessions/${entry.file}`);
      continue;
    }
    read++;
    if (entry.kind === 'unreadable') {
      if (++unreadable <= MAX_LISTED_FILES) {
        findings.push({
          problem: `sessions/${entry.file}: ${entry.problem}`,
          repair: 'move it to quarantine/',
        });
      }
      continue;
    }
    // A session the journal touched is counted by what the journal left of it.
    if (!outcome.has(entry.stored.session.id)) fromFiles++;
    const difference = served?.compare(
      entry.stored.session.id,
      JSON.stringify(entry.stored.session),
    );
    if (difference) differences.push(difference);
  }
  if (served !== null) differences.push(...served.missingFiles());
  findings.push(...differences.slice(0, MAX_LISTED_FILES));
  if (differences.length > MAX_LISTED_FILES) {
    findings.push({
      problem: `${differences.length - MAX_LISTED_FILES} more session files differ from what a start serves`,
    });
  }
  return { read, fromFiles, unreadable };
}

/** Temp files of unfinished writes, unless a live service holds the directory. */
async function checkTempFiles(
  layout: DataLayout,
  temps: string[],
  findings: Finding[],
): Promise<void> {
  // A live service's writes in progress (a checkpoint, a snapshot) have temp
  // files for a moment: only with none running are they left over.
  if (isLockHeld(layout.lockFile)) return;
  for (const temp of temps.slice(0, MAX_LISTED_FILES)) {
    findings.push({
      problem: `${temp} is the temp file of an unfinished write`,
      repair: 'remove it',
    });
  }
  if (temps.length > MAX_LISTED_FILES) {
    findings.push({
      problem: `${temps.length - MAX_LISTED_FILES} more temp files of unfinished writes`,
      repair: 'remove them',
    });
  }
}

/** Creates the journal holds; the log may not have their events yet (a start restores them). */
function createdIn(segments: readonly JournalSegmentRead[]): Set<string> {
  const created = new Set<string>();
  for (const segment of segments) {
    for (const record of segment.records) {
      if (record.event?.event === 'session_created') {
        created.add(String(record.event.session_id));
      }
    }
  }
  return created;
}

/** How events.jsonl ends; returns where its whole events end. */
async function checkLogTail(
  layout: DataLayout,
  snapshot: SnapshotScan,
  findings: Finding[],
): Promise<number> {
  const tail = await scanEventLog(layout.eventsFile, 1);
  // After the point snapshot.jsonl was taken at, the log may end in writes a
  // crash or power cut left unsynced (zeros, pages out of order): a start
  // cuts them off, from the first line that is not an event (the journal
  // holds every change that was acknowledged).
  // The snapshot's point is in the log's whole history (log-positions.ts).
  const mark = snapshot.kind === 'ok' ? snapshot.header.events.offset - tail.head.base : -1;
  const badAfterSnapshot =
    mark >= tail.head.length && tail.validEnd >= mark
      ? await firstBadLine(layout.eventsFile, mark)
      : null;
  if (badAfterSnapshot !== null) {
    findings.push({
      problem: `events.jsonl ends, after the point snapshot.jsonl was taken at, in ${tail.size - badAfterSnapshot} bytes that are not all events (writes a crash left unsynced)`,
      repair: 'cut them off into quarantine/ (the journal holds every acknowledged change)',
    });
    return badAfterSnapshot;
  }
  if (tail.validEnd < tail.size) {
    const damaged = tail.size - tail.validEnd > tail.tornBytes;
    findings.push({
      problem: damaged
        ? `events.jsonl ends with ${tail.size - tail.validEnd} damaged bytes`
        : `events.jsonl ends with a torn last line (${tail.tornBytes} bytes, an interrupted append)`,
      repair: damaged ? 'cut them off into quarantine/' : 'drop it',
    });
  }
  return tail.validEnd;
}

/** Whether the counters agree with the log, the journal and the sessions served. */
function checkCounters(
  stats: Stats,
  seen: {
    events: EventLogContents;
    marker: MarkerRead;
    createdInJournal: ReadonlySet<string>;
    served: number;
  },
  findings: Finding[],
): void {
  const { events, marker, createdInJournal, served } = seen;
  // total_sessions reaches stats.json lazily; a start recounts it as the
  // sessions counted before the log had them (the marker keeps how many)
  // and the session_created events of the log and the journal.
  const inLog = events.kinds.get('session_created') ?? 0;
  const beforeLog =
    marker.kind === 'ok' && marker.sessionsBeforeLog !== null
      ? marker.sessionsBeforeLog
      : Math.max(0, stats.total_sessions - inLog);
  const onlyInJournal = createdInJournal.size - events.createdWatched.size;
  const created = Math.max(stats.total_sessions, beforeLog + inLog + onlyInJournal);
  if (created < served) {
    findings.push({
      problem: `total_sessions is ${created} (stats.json, the log and the journal) but ${served} sessions are served`,
    });
  }
  const crashes = events.kinds.get('crash_triggered') ?? 0;
  if (stats.crash_count < crashes) {
    findings.push({
      problem: `crash_count is ${stats.crash_count} but the log has ${crashes} crash_triggered events`,
    });
  }
}
