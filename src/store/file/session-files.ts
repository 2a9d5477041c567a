/**
 * `sessions/<id>.json`: one pretty-printed session a file, in the original's
 * format, plus one key of ours, `seq`, that keeps creation order across
 * restarts (timestamps have one-second resolution). Files the original wrote
 * have no `seq`; they sort first, by `created_at`, then by id.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { parseStoredSession, type Session } from '../../domain/session.js';
import { isSessionFileName, sessionFileName, TEMP_SUFFIX } from './layout.js';

export interface StoredSession {
  session: Session;
  /** Creation order; undefined for sessions the original implementation wrote. */
  seq: number | undefined;
}

export interface UnreadableSession {
  file: string;
  problem: string;
}

export function formatSessionFile(stored: StoredSession): string {
  const body = stored.seq === undefined ? stored.session : { ...stored.session, seq: stored.seq };
  return `${JSON.stringify(body, null, 2)}\n`;
}

export function parseSessionFile(
  fileName: string,
  text: string,
): StoredSession | UnreadableSession {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { file: fileName, problem: 'not valid JSON' };
  }
  const session = parseStoredSession(value);
  if (typeof session === 'string') return { file: fileName, problem: session };
  if (sessionFileName(session.id) !== fileName) {
    return { file: fileName, problem: `its id ${session.id} does not match the file name` };
  }
  const seq = (value as { seq?: unknown }).seq;
  return { session, seq: Number.isSafeInteger(seq) ? (seq as number) : undefined };
}

export function compareCreationOrder(a: StoredSession, b: StoredSession): number {
  if (a.seq === undefined && b.seq === undefined) {
    if (a.session.created_at !== b.session.created_at) {
      return a.session.created_at < b.session.created_at ? -1 : 1;
    }
    return a.session.id < b.session.id ? -1 : 1;
  }
  if (a.seq === undefined) return -1;
  if (b.seq === undefined) return 1;
  return a.seq - b.seq;
}

/**
 * Reads every session file, sorted in creation order. Synchronously, on
 * purpose: it runs only at boot and offline (inspector, repair), never on a
 * request path, and reading many small files with readFileSync is about six
 * times faster than with fs/promises (100,000 files: 2.5 s against 15 s here).
 */
export async function readSessionFiles(
  dir: string,
): Promise<{ sessions: StoredSession[]; unreadable: UnreadableSession[]; tempFiles: string[] }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { sessions: [], unreadable: [], tempFiles: [] };
    }
    throw error;
  }
  const sessions: StoredSession[] = [];
  const unreadable: UnreadableSession[] = [];
  const tempFiles = names.filter((name) => name.endsWith(TEMP_SUFFIX));
  for (const name of names) {
    if (!isSessionFileName(name)) continue;
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // deleted while we read (the inspector runs live)
      unreadable.push({ file: name, problem: `cannot be read (${code ?? String(error)})` });
      continue;
    }
    const parsed = parseSessionFile(name, text);
    if ('session' in parsed) sessions.push(parsed);
    else unreadable.push(parsed);
  }
  sessions.sort(compareCreationOrder);
  return { sessions, unreadable, tempFiles };
}

/** Moves a file into the quarantine folder under a name that says where it came from. */
export async function quarantineFile(
  source: string,
  quarantineDir: string,
  label: string,
): Promise<string> {
  await mkdir(quarantineDir, { recursive: true });
  const target = join(quarantineDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${label}`);
  await rename(source, target);
  return target;
}
