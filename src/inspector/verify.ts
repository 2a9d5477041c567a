/**
 * `stateful inspect --verify`: checks a data directory the way fsck checks a
 * file system, read-only. Every session file must parse and match the
 * session schema; every line of the event log must be an event (a torn tail
 * is told apart from corruption in the middle, which is reported with its
 * line number); journal segments must hold whole lines; the counters must
 * agree with the contents; and no temp or quarantined files may linger.
 * Findings that `--repair` can fix say so. Session files and event lines are
 * read one at a time and the journal is read whole, so what it holds in
 * memory is the journal and one session, whatever the directory holds.
 */
import { readdir } from 'node:fs/promises';
import {
  dataLayout,
  parseEventLine,
  readdirIfPresent,
  readJournal,
  readLogLines,
  readMarker,
  readStats,
  replayJournal,
  scanEventLog,
  sessionFileEntries,
  TEMP_SUFFIX,
} from '../store/file/format.js';
import { assertDataDirectory } from './read-data-dir.js';

export interface Finding {
  /** What is wrong, naming the file (and line). */
  problem: string;
  /** What `--repair` would do about it; absent when it needs a person. */
  repair?: string;
  /** Files set aside for a person to look at (what a repair leaves behind). */
  forReview?: boolean;
}

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
}

/** Reads every complete line up to `end`, noting the lines that are not events. */
async function readEveryEvent(path: string, end: number): Promise<EventLogContents> {
  const contents: EventLogContents = { lines: 0, badLines: [], badLineCount: 0, kinds: new Map() };
  for await (const line of readLogLines(path, end)) {
    contents.lines++;
    const event = parseEventLine(line);
    if (event === null) {
      contents.badLineCount++;
      if (contents.badLines.length < MAX_LISTED_BAD_LINES) contents.badLines.push(contents.lines);
      continue;
    }
    contents.kinds.set(event.event, (contents.kinds.get(event.event) ?? 0) + 1);
  }
  return contents;
}

export async function verifyDataDirectory(dataDir: string): Promise<VerifyReport> {
  await assertDataDirectory(dataDir);
  const layout = dataLayout(dataDir);
  const findings: Finding[] = [];

  const statsRead = await readStats(layout.statsFile);
  if (statsRead.kind === 'missing') findings.push({ problem: 'stats.json is missing' });
  if (statsRead.kind === 'corrupt') {
    findings.push({ problem: `stats.json is unreadable: ${statsRead.problem}` });
  }

  // The journal's changes apply on top of the files: what the service would serve.
  const segments = readJournal(layout.journalDir);
  const { outcome } = replayJournal(segments);
  let sessionFiles = 0;
  let sessionsAsServed = 0;
  let unreadable = 0;
  const temps = (await readdir(dataDir)).filter((name) => name.endsWith(TEMP_SUFFIX));
  for (const entry of sessionFileEntries(layout.sessionsDir)) {
    if (entry.kind === 'temp') {
      temps.push(`sessions/${entry.file}`);
      continue;
    }
    sessionFiles++;
    if (entry.kind === 'unreadable') {
      if (++unreadable <= MAX_LISTED_FILES) {
        findings.push({
          problem: `sessions/${entry.file}: ${entry.problem}`,
          repair: 'move it to quarantine/',
        });
      }
      continue;
    }
    // A session the journal touched is counted below, by what the journal left of it.
    if (!outcome.has(entry.stored.session.id)) sessionsAsServed++;
  }
  for (const last of outcome.values()) if (last !== null) sessionsAsServed++;
  if (unreadable > MAX_LISTED_FILES) {
    findings.push({
      problem: `${unreadable - MAX_LISTED_FILES} more unreadable session files`,
      repair: 'move them to quarantine/',
    });
  }
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

  for (const segment of segments) {
    if (segment.damagedBytes > 0) {
      findings.push({
        problem: `journal/${segment.file} has ${segment.damagedBytes} bytes that are not changes`,
        repair: 'roll the journal forward and move the segment to quarantine/',
      });
    }
  }

  const tail = await scanEventLog(layout.eventsFile, 1);
  if (tail.validEnd < tail.size) {
    const damaged = tail.size - tail.validEnd > tail.tornBytes;
    findings.push({
      problem: damaged
        ? `events.jsonl ends with ${tail.size - tail.validEnd} damaged bytes`
        : `events.jsonl ends with a torn last line (${tail.tornBytes} bytes, an interrupted append)`,
      repair: damaged ? 'cut them off into quarantine/' : 'drop it',
    });
  }
  const events = await readEveryEvent(layout.eventsFile, tail.validEnd);
  if (events.badLineCount > 0) {
    const more = events.badLineCount > events.badLines.length ? ' …' : '';
    findings.push({
      problem: `events.jsonl has ${events.badLineCount} corrupt lines in the middle (line ${events.badLines.join(', ')}${more})`,
    });
  }

  if (statsRead.kind === 'ok') {
    const { stats } = statsRead;
    // total_sessions reaches stats.json lazily; the service recounts it from
    // the log's session_created events at start, so that is what must hold.
    const created = Math.max(stats.total_sessions, events.kinds.get('session_created') ?? 0);
    if (created < sessionsAsServed) {
      findings.push({
        problem: `total_sessions is ${created} (stats.json and the log) but ${sessionsAsServed} sessions are on disk`,
      });
    }
    const crashes = events.kinds.get('crash_triggered') ?? 0;
    if (stats.crash_count < crashes) {
      findings.push({
        problem: `crash_count is ${stats.crash_count} but the log has ${crashes} crash_triggered events`,
      });
    }
  }

  const marker = await readMarker(layout.markerFile);
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
    checked: {
      sessionFiles,
      eventLines: events.lines,
    },
  };
}
