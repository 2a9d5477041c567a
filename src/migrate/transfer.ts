/**
 * `stateful migrate`: moves the data between a data directory and a
 * PostgreSQL database, both ways, so users are never locked in.
 *
 * Into the database: the directory's lock is taken (no live service may be
 * writing), the sessions are read as the service would serve them (files with
 * the journal applied) and the event log line by line, and everything is
 * written in one transaction. The database must be empty or hold an earlier
 * migration of the same directory (its events a prefix of the log): then only
 * what is new is added, so re-running is safe. Out to a directory: a
 * consistent snapshot (one REPEATABLE READ transaction) is written as the
 * original's files, into a directory that must be new or empty. Both check
 * the counts at the end.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { EMPTY_STATS, type Stats } from '../domain/counters.js';
import type { Session } from '../domain/session.js';
import { unstorableIn } from '../domain/text.js';
import {
  acquireInstanceLock,
  assertSafeDataDirectory,
  type DataLayout,
  DurableFiles,
  dataLayout,
  formatSessionFile,
  formatStats,
  headLineAtStart,
  type LogHead,
  parseEventLine,
  readdirIfPresent,
  readLogLines,
  readStats,
  type SessionsAsServed,
  scanEventLog,
  sessionFileEntries,
  sessionFileName,
  sessionsAsServed,
  TEMP_SUFFIX,
} from '../store/file/index.js';
import { inTransaction } from '../store/postgres/database.js';
import { migrate } from '../store/postgres/migrations.js';
import { type CounterRow, toStats } from '../store/postgres/rows.js';
import {
  SESSION_COLUMNS,
  type SessionRow,
  sessionArrayParameters,
  sessionParameters,
  toSession,
} from '../store/postgres/session-codec.js';

export class TransferError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

export interface TransferReport {
  sessions: number;
  events: number;
  /** Events this run added (fewer than `events` when re-running). */
  eventsAdded: number;
  stats: Stats;
}

const BATCH = 5000;
/** Sessions between two progress reports. */
const PROGRESS_EVERY = 1000;

/** How far a migration has got: told every batch of events and every thousand sessions. */
export type ProgressListener = (progress: {
  what: 'sessions' | 'events';
  done: number;
  total: number;
}) => void;

/** The log's lines up to byte `end` in batches, each checked to be an event. */
async function* eventLineBatches(
  path: string,
  end: number,
  start: number,
): AsyncGenerator<string[]> {
  let batch: string[] = [];
  let number = 0;
  for await (const line of readLogLines(path, end, start)) {
    number++;
    if (parseEventLine(line) === null) {
      throw new TransferError(
        `events.jsonl line ${number} is not an event; run \`stateful inspect --verify\` first.`,
      );
    }
    batch.push(line);
    if (batch.length === BATCH) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * What retention dropped from the database's events (its oldest position
 * less one), and the first line that says so in an exported log ('' when
 * nothing was dropped).
 */
async function droppedHead(
  client: pg.Client,
  eventTotal: number,
  stats: Stats,
): Promise<{ dropped: number; headLine: string }> {
  const { rows } = await client.query<{ oldest: string | null }>(
    'SELECT min(position) AS oldest FROM events',
  );
  const oldest = rows[0]?.oldest ?? null;
  const dropped = oldest === null ? eventTotal : Number(oldest) - 1;
  if (dropped === 0) return { dropped, headLine: '' };
  const kept = await keptCounts(client);
  const { line } = headLineAtStart(
    'migrate',
    {
      count: dropped,
      created: Math.max(0, stats.total_sessions - kept.created),
      expired: Math.max(0, stats.expired_sessions - kept.expired),
    },
    new Date(),
  );
  return { dropped, headLine: `${line}\n` };
}

/** The `session_created` and `session_expired` events the database keeps. */
async function keptCounts(client: pg.Client): Promise<{ created: number; expired: number }> {
  const { rows } = await client.query<{ created: string; expired: string }>(
    `SELECT count(*) FILTER (WHERE line::json->>'event' = 'session_created') AS created,
            count(*) FILTER (WHERE line::json->>'event' = 'session_expired') AS expired
     FROM events`,
  );
  return { created: Number(rows[0]?.created ?? 0), expired: Number(rows[0]?.expired ?? 0) };
}

/** Copies a data directory into a database (see above). */
export async function importDataDirectory(
  dataDir: string,
  databaseUrl: string,
  onProgress: ProgressListener = () => undefined,
): Promise<TransferReport> {
  const layout = dataLayout(dataDir);
  // A symlinked folder, a FIFO as a file: refused, never followed.
  assertSafeDataDirectory(layout);
  const lock = acquireInstanceLock(layout.lockFile);
  try {
    const source = await readForImport(layout);
    const { served, total, stats } = source;
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    try {
      await migrate(pool);
      let eventsAdded = 0;
      await inTransaction(await pool.connect(), async (client) => {
        eventsAdded = await copyEvents(client, layout, source, onProgress);
        await copySessions(client, served, onProgress);
        await client.query(
          `UPDATE counters SET startup_count = $1, crash_count = $2, total_sessions = $3,
             total_requests = $4, event_count = $5, expired_sessions = $6`,
          [
            stats.startup_count,
            stats.crash_count,
            stats.total_sessions,
            stats.total_requests,
            total,
            stats.expired_sessions,
          ],
        );
      });
      await checkCopied(pool, served.count, total);
      return { sessions: served.count, events: total, eventsAdded, stats };
    } finally {
      await pool.end();
    }
  } finally {
    lock.release();
  }
}

/** What an import copies: the sessions as a start serves them, the log's extent, the counters. */
interface ImportSource {
  served: SessionsAsServed;
  /** Where the log's whole lines end, and how many events were ever logged. */
  logEnd: number;
  total: number;
  /** What retention dropped before the first line kept (NO_HEAD: nothing). */
  head: LogHead;
  stats: Stats;
}

/** Reads the directory for an import, refusing what a repair must mend first. */
async function readForImport(layout: DataLayout): Promise<ImportSource> {
  // Streamed: only the sessions' creation keys are held (see sessionsAsServed).
  const served = sessionsAsServed(layout.sessionsDir, layout.journalDir);
  if (served.unreadable.length > 0) {
    throw new TransferError(
      `${served.unreadable.length} session files are unreadable; run \`stateful inspect --repair\` first.`,
    );
  }
  const scan = await scanEventLog(layout.eventsFile, 0);
  if (scan.validEnd < scan.size) {
    throw new TransferError(
      'events.jsonl ends with a torn line; run `stateful inspect --repair` first.',
    );
  }
  const statsRead = await readStats(layout.statsFile);
  if (statsRead.kind === 'corrupt') {
    throw new TransferError('stats.json is unreadable; run `stateful inspect --repair` first.');
  }
  const base = statsRead.kind === 'ok' ? statsRead.stats : EMPTY_STATS;
  // As a start would: total_sessions and expired_sessions reach stats.json
  // lazily, the log has every create and every expiry.
  const stats: Stats = {
    ...base,
    total_sessions: Math.max(base.total_sessions, scan.createdEvents, served.count),
    expired_sessions: Math.max(base.expired_sessions, scan.expiredEvents),
  };
  return { served, logEnd: scan.validEnd, total: scan.count, head: scan.head, stats };
}

/**
 * Streams the log through in batches: what the database has must match it
 * line for line, what it lacks is added. Returns how many were added.
 */
async function copyEvents(
  client: pg.PoolClient,
  layout: DataLayout,
  source: ImportSource,
  onProgress: ProgressListener,
): Promise<number> {
  const { total } = source;
  const { rows } = await client.query<{ event_count: string }>(
    'SELECT event_count FROM counters FOR UPDATE',
  );
  const existing = Number(rows[0]?.event_count ?? 0);
  if (existing > total) {
    throw new TransferError(
      `the database has ${existing} events and the directory ${total}: it holds other data, or moved on since an earlier migration.`,
    );
  }
  // A compacted log: its events begin after those retention dropped, which
  // a database holding some of them cannot be checked against.
  const { head } = source;
  if (existing > 0 && existing < head.dropped) {
    throw new TransferError(
      `the database has ${existing} events, and the directory's log no longer holds its first ${head.dropped} (dropped by its retention policy): they cannot be checked against each other.`,
    );
  }
  let eventsAdded = 0;
  let position = head.dropped;
  for await (const batch of eventLineBatches(layout.eventsFile, source.logEnd, head.length)) {
    const first = position + 1;
    const known = Math.max(0, Math.min(batch.length, existing - position));
    if (known > 0) {
      const { rows: present } = await client.query<{ position: string; line: string }>(
        'SELECT position, line FROM events WHERE position >= $1 AND position < $2 ORDER BY position',
        [first, first + known],
      );
      for (const row of present) {
        if (row.line !== batch[Number(row.position) - first]) {
          throw new TransferError(
            `event ${row.position} in the database differs from the directory's: the database holds other data.`,
          );
        }
      }
    }
    if (known < batch.length) {
      const added = batch.slice(known);
      await client.query(
        `INSERT INTO events (position, line)
         SELECT * FROM unnest($1::bigint[], $2::text[])`,
        [added.map((_, i) => first + known + i), added],
      );
      eventsAdded += added.length;
    }
    position += batch.length;
    onProgress({ what: 'events', done: position, total });
  }
  if (position !== total) {
    throw new TransferError(
      `events.jsonl changed while it was read (${position} lines, ${total} before); is a service running on it?`,
    );
  }
  return eventsAdded;
}

/**
 * The directory is the truth: its sessions replace the database's, in its
 * creation order (inserted in that order, so the database's sequence keeps it).
 */
async function copySessions(
  client: pg.PoolClient,
  served: SessionsAsServed,
  onProgress: ProgressListener,
): Promise<void> {
  await client.query('DELETE FROM sessions');
  let copied = 0;
  let batch: Session[] = [];
  const flush = async () => {
    await client.query(
      `INSERT INTO sessions (${SESSION_COLUMNS})
       SELECT * FROM unnest(${sessionArrayParameters()})`,
      sessionParameters(batch),
    );
    copied += batch.length;
    batch = [];
    onProgress({ what: 'sessions', done: copied, total: served.count });
  };
  for (const session of served.sessions()) {
    // The file store holds what an older version or another program
    // wrote; PostgreSQL cannot hold U+0000 (text.ts): said, not a raw error.
    const problem = unstorableIn(session);
    if (problem !== null) {
      throw new TransferError(
        `session ${session.id}: ${problem}; PostgreSQL cannot store it. Change that session (PUT or PATCH) or delete it, then migrate again.`,
      );
    }
    batch.push(session);
    if (batch.length === PROGRESS_EVERY) await flush();
  }
  if (batch.length > 0) await flush();
  if (copied !== served.count) {
    throw new TransferError(
      `session files changed while they were read (${copied} copied, ${served.count} before); is a service running on it?`,
    );
  }
}

/**
 * Counts what the database holds after the copy against what was copied:
 * every event ever logged counted, and each from the oldest kept on there.
 */
async function checkCopied(pool: pg.Pool, sessions: number, events: number): Promise<void> {
  const check = await pool.query<{
    sessions: string;
    events: string;
    rows: string;
    oldest: string;
  }>(
    `SELECT (SELECT count(*) FROM sessions) AS sessions,
            (SELECT event_count FROM counters) AS events,
            (SELECT count(*) FROM events) AS rows,
            coalesce((SELECT min(position) FROM events), (SELECT event_count FROM counters) + 1) AS oldest`,
  );
  const counted = check.rows[0];
  const kept = events - Number(counted?.oldest) + 1;
  if (
    Number(counted?.sessions) !== sessions ||
    Number(counted?.events) !== events ||
    Number(counted?.rows) !== kept
  ) {
    throw new TransferError(
      `after the copy the database has ${counted?.sessions} sessions and ${counted?.rows} events; expected ${sessions} and ${kept}.`,
    );
  }
}

/** Writes a database out as a data directory (see above). */
export async function exportToDataDirectory(
  databaseUrl: string,
  dataDir: string,
  onProgress: ProgressListener = () => undefined,
): Promise<TransferReport> {
  const existing = await readdirIfPresent(dataDir);
  if (existing.length > 0) {
    throw new TransferError(`${dataDir} is not empty: export only into a new or empty directory.`);
  }
  const layout = dataLayout(dataDir);
  await mkdir(layout.sessionsDir, { recursive: true });
  const files = new DurableFiles();
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows: counters } = await client.query<CounterRow>('SELECT * FROM counters');
    const row = counters[0];
    if (row === undefined) throw new TransferError('the database has no counters: not ours?');
    const stats = toStats(row);
    const eventTotal = Number(row.event_count);
    const { rows: sessionRows } = await client.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY seq`,
    );
    let seq = 0;
    for (const row of sessionRows) {
      if (seq % PROGRESS_EVERY === 0) {
        onProgress({ what: 'sessions', done: seq, total: sessionRows.length });
      }
      const stored = { session: toSession(row), seq: ++seq };
      await files.write(
        join(layout.sessionsDir, sessionFileName(stored.session.id)),
        formatSessionFile(stored),
      );
    }
    onProgress({ what: 'sessions', done: seq, total: sessionRows.length });
    const { dropped, headLine } = await droppedHead(client, eventTotal, stats);
    // The log is written batch by batch to a temp file, synced, then renamed
    // into place: never held in memory whole, never seen half-written.
    const temp = `${layout.eventsFile}${TEMP_SUFFIX}`;
    const log = await open(temp, 'wx', 0o644);
    let events = 0;
    try {
      if (headLine !== '') await log.write(headLine);
      for (let from = dropped; ; from += BATCH) {
        const { rows } = await client.query<{ line: string }>(
          'SELECT line FROM events WHERE position > $1 AND position <= $2 ORDER BY position',
          [from, from + BATCH],
        );
        if (rows.length === 0) break;
        await log.write(rows.map(({ line }) => `${line}\n`).join(''));
        events += rows.length;
        onProgress({ what: 'events', done: events, total: eventTotal });
      }
      await log.datasync();
    } finally {
      await log.close();
    }
    await client.query('COMMIT');
    await rename(temp, layout.eventsFile);
    await files.syncDirectory(dataDir);
    await files.write(layout.statsFile, formatStats(stats));

    let sessionsBack = 0;
    for (const entry of sessionFileEntries(layout.sessionsDir)) {
      if (entry.kind === 'session') sessionsBack++;
    }
    const scan = await scanEventLog(layout.eventsFile, 0);
    if (sessionsBack !== sessionRows.length || scan.count !== dropped + events) {
      throw new TransferError(
        `after the export the directory has ${sessionsBack} sessions and ${scan.count} events; expected ${sessionRows.length} and ${dropped + events}.`,
      );
    }
    return { sessions: sessionRows.length, events: dropped + events, eventsAdded: events, stats };
  } finally {
    await client.end();
  }
}
