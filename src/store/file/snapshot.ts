/**
 * `snapshot.jsonl`: every session as of one point in the journal, in one
 * file, so a boot reads one file instead of one file a session (1,000,000
 * sessions: about 2 s against 80 s). Ours; the original ignores it.
 *
 *   {"snapshot":1,"journal_from":N,"events":{…},"sessions":M}   the header
 *   <seq>\t<id>\t<created_at>\t<footprint>\t<session as compact JSON>   M lines, creation order
 *   {"end":M}                                                   the trailer
 *
 * The tab-separated prefix lets a boot index a session without parsing its
 * JSON (JSON.stringify never writes a raw tab or newline); the JSON is parsed
 * when the session is read. `journal_from` is the first journal segment the
 * snapshot does not cover: a boot loads the snapshot and replays the segments
 * from there. `events` is where events.jsonl stood when the snapshot began
 * (its byte offset, line count, `session_created` lines and line index), so a
 * boot counts only the lines after it.
 *
 * It is written to a temp file, fdatasynced, renamed over the old one and the
 * directory fsynced: a kill leaves the old snapshot or the new one. A
 * snapshot without its trailer, or with a line that does not parse, is not
 * used (the boot then reads the session files, as it does a directory the
 * original wrote).
 */
import type { ReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { expiresAtInSessionJson, isSessionId, type SessionJson } from '../../domain/session.js';
import { cleanUpAfter } from '../cleanup.js';
import { storageError } from './durable-file.js';
import type { LogMark } from './event-log-reader.js';
import type { WritableFileSystem } from './file-system.js';
import { TEMP_SUFFIX } from './layout.js';
import { openReadStream } from './safe-open.js';

export const SNAPSHOT_FORMAT = 1;

export interface SnapshotHeader {
  snapshot: typeof SNAPSHOT_FORMAT;
  /** The first journal segment the snapshot does not cover. */
  journal_from: number;
  /** Where events.jsonl stood when the snapshot began. */
  events: LogMark;
  sessions: number;
}

/**
 * A session as the store holds it: its creation key, its footprint (see
 * domain/footprint.ts) and its compact JSON, parsed when it is read (a
 * listing or a page sends it as it is).
 */
export interface ResidentSession {
  /** Creation order; undefined for sessions the original implementation wrote. */
  seq: number | undefined;
  id: string;
  created_at: string;
  footprint: number;
  json: SessionJson;
  /** When it expires (epoch ms; its JSON's expires_at), undefined for never. */
  expiresAt: number | undefined;
}

/** Bytes written at a time; the event loop runs between writes. */
const WRITE_CHUNK_BYTES = 1 << 20;
const READ_CHUNK_BYTES = 8 << 20;

export function snapshotLine(resident: ResidentSession): string {
  return `${resident.seq ?? ''}\t${resident.id}\t${resident.created_at}\t${resident.footprint}\t${resident.json}\n`;
}

/**
 * Writes a snapshot durably: `sessions` yields the sessions in creation order
 * in batches (the event loop runs between them). Resolves with how many were
 * written once the new snapshot has replaced the old one.
 */
export async function writeSnapshot(
  fs: WritableFileSystem,
  path: string,
  header: Omit<SnapshotHeader, 'snapshot' | 'sessions'>,
  sessions: AsyncIterable<readonly ResidentSession[]>,
  syncDirectory: () => Promise<void>,
): Promise<number> {
  const temp = `${path}${TEMP_SUFFIX}`;
  let written = 0;
  try {
    const handle = await fs.open(temp, 'w', 0o644);
    try {
      // The header's session count is not known until the end: the trailer carries it.
      let buffer = `${JSON.stringify({ snapshot: SNAPSHOT_FORMAT, ...header, sessions: -1 })}\n`;
      for await (const batch of sessions) {
        for (const resident of batch) {
          buffer += snapshotLine(resident);
          written++;
        }
        if (buffer.length >= WRITE_CHUNK_BYTES) {
          await handle.write(buffer);
          buffer = '';
        }
      }
      await handle.write(`${buffer}${JSON.stringify({ end: written })}\n`);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
  } catch (error) {
    const failure = storageError(error, 'writing snapshot.jsonl');
    await cleanUpAfter(failure, () => fs.rm(temp, { force: true }));
    throw failure;
  }
  await syncDirectory();
  return written;
}

export type SnapshotRead =
  | { kind: 'missing' }
  | { kind: 'unusable'; problem: string }
  | { kind: 'ok'; header: SnapshotHeader; sessions: ResidentSession[] };

export type SnapshotScan =
  | { kind: 'missing' }
  | { kind: 'unusable'; problem: string }
  | { kind: 'ok'; header: SnapshotHeader; count: number };

/**
 * Reads a snapshot in chunks; each session keeps its JSON as a slice of the
 * chunk it was read in (no copy, no parse), each counted into `progress`.
 */
export async function readSnapshot(
  path: string,
  progress: { sessionsRead: number } = { sessionsRead: 0 },
): Promise<SnapshotRead> {
  const sessions: ResidentSession[] = [];
  const scan = await scanSnapshot(path, (resident) => {
    sessions.push(resident);
    progress.sessionsRead++;
  });
  return scan.kind === 'ok' ? { kind: 'ok', header: scan.header, sessions } : scan;
}

/**
 * Reads a snapshot in chunks and shows each session to `visit`, holding none
 * of them: what a reader that needs less than the whole of it (the ids, a
 * count) holds is up to it. A snapshot found unusable may have shown some.
 */
export async function scanSnapshot(
  path: string,
  visit: (resident: ResidentSession) => void,
): Promise<SnapshotScan> {
  // Never through a symlink, never a FIFO (the open would hang): see safe-open.ts.
  let stream: ReadStream | null;
  try {
    stream = await openReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  } catch (error) {
    return { kind: 'unusable', problem: `it cannot be read (${(error as Error).message})` };
  }
  if (stream === null) return { kind: 'missing' };
  const decoder = new StringDecoder('utf8');
  let count = 0;
  let header: SnapshotHeader | null = null;
  let trailer: number | null = null;
  let partial = '';
  let problem: string | null = null;
  const take = (line: string): void => {
    if (header === null) {
      header = parseHeader(line);
      if (header === null) problem = 'its header is not one this version writes';
      return;
    }
    if (trailer !== null) {
      problem = 'lines follow its trailer';
      return;
    }
    if (line.startsWith('{"end":')) {
      const end = (JSON.parse(line) as { end?: unknown }).end;
      trailer = typeof end === 'number' ? end : -1;
      return;
    }
    const resident = parseLine(line);
    if (resident === null) {
      problem = `line ${count + 2} is not a session`;
      return;
    }
    count++;
    visit(resident);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = partial + decoder.write(chunk);
      let from = 0;
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', from)) {
        take(text.slice(from, newline));
        from = newline + 1;
        if (problem !== null) break;
      }
      if (problem !== null) break;
      partial = text.slice(from);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unusable', problem: `it cannot be read (${String(error)})` };
  } finally {
    stream.destroy();
  }
  if (problem !== null) return { kind: 'unusable', problem };
  if (header === null) return { kind: 'unusable', problem: 'it is empty' };
  if (trailer === null || partial !== '') {
    return { kind: 'unusable', problem: 'it ends before its trailer' };
  }
  if (trailer !== count) {
    return {
      kind: 'unusable',
      problem: `its trailer counts ${trailer} sessions, it holds ${count}`,
    };
  }
  return { kind: 'ok', header, count };
}

function parseHeader(line: string): SnapshotHeader | null {
  try {
    const value = JSON.parse(line) as Partial<SnapshotHeader>;
    const events = value.events;
    if (
      value.snapshot !== SNAPSHOT_FORMAT ||
      !Number.isSafeInteger(value.journal_from) ||
      typeof events !== 'object' ||
      events === null ||
      !Number.isSafeInteger(events.offset) ||
      !Number.isSafeInteger(events.count) ||
      !Number.isSafeInteger(events.created) ||
      (events.expired !== undefined && !Number.isSafeInteger(events.expired)) ||
      (events.lineStartsFrom !== undefined && !Number.isSafeInteger(events.lineStartsFrom)) ||
      !Array.isArray(events.lineStarts)
    ) {
      return null;
    }
    return value as SnapshotHeader;
  } catch {
    return null;
  }
}

function parseLine(line: string): ResidentSession | null {
  const a = line.indexOf('\t');
  const b = line.indexOf('\t', a + 1);
  const c = line.indexOf('\t', b + 1);
  const d = line.indexOf('\t', c + 1);
  if (a === -1 || b === -1 || c === -1 || d === -1 || line.charCodeAt(d + 1) !== 0x7b) return null;
  const seqText = line.slice(0, a);
  const seq = seqText === '' ? undefined : Number(seqText);
  const id = line.slice(a + 1, b);
  const footprint = Number(line.slice(c + 1, d));
  if ((seq !== undefined && !Number.isSafeInteger(seq)) || !isSessionId(id)) return null;
  if (!Number.isSafeInteger(footprint)) return null;
  const json = line.slice(d + 1);
  return {
    seq,
    id,
    created_at: line.slice(b + 1, c),
    footprint,
    json,
    expiresAt: expiresAtInSessionJson(json),
  };
}
