/**
 * What a start costs when another program changed the stopped service's
 * directory, beside a clean restart of the same directory in the same run:
 *
 *   original   the original implementation updated one session (its file
 *              through a temp file renamed over it, its `session_updated`
 *              line in events.jsonl): the start reads the files the log names
 *   by hand    a session file replaced by rename, nothing logged: the start
 *              makes one pass over the names (an lstat each) and reads the
 *              files changed since the clean stop's seal
 *
 * Each is the time from the spawn to `listening`, and the service is stopped
 * cleanly after each, so each start begins from a sealed directory.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnService } from '../tools/service-process.js';

export interface SharedDirectoryResult {
  sessions: number;
  cleanSeconds: number;
  originalSeconds: number;
  byHandSeconds: number;
}

const ENV = { CRASH_ENDPOINT: 'off' };
const BOOT = { bootTimeoutMs: 600_000 };

async function startAndStop(dataDir: string): Promise<number> {
  const service = await spawnService(dataDir, ENV, BOOT);
  await service.process.stop();
  return Math.round(service.bootMs) / 1000;
}

/** Rewrites a session file as the original does (temp file, rename); its name changed. */
async function rewrite(dataDir: string, id: string, name: string, temp: string): Promise<void> {
  const path = join(dataDir, 'sessions', `${id}.json`);
  const session = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  session.name = name;
  // JSON.stringify with an indent of 2 writes what Python's json.dump does for ASCII.
  await writeFile(temp, JSON.stringify(session, null, 2));
  await rename(temp, path);
}

/** The result as a line of the bench's report. */
export function sharedDirectoryLine(result: SharedDirectoryResult): string {
  const more = (seconds: number) => {
    const difference = seconds - result.cleanSeconds;
    return `${difference < 0 ? '-' : '+'}${Math.abs(difference).toFixed(2)}`;
  };
  return (
    `Start after another program changed the stopped directory, ${result.sessions.toLocaleString('en')} sessions: ` +
    `clean restart ${result.cleanSeconds} s; the original changed one session ${result.originalSeconds} s ` +
    `(${more(result.originalSeconds)} s); a hand edit by rename, nothing logged, ${result.byHandSeconds} s ` +
    `(${more(result.byHandSeconds)} s: one pass over the names).`
  );
}

/** `dataDir` is stopped and holds `ids`. */
export async function sharedDirectoryBench(
  dataDir: string,
  ids: readonly string[],
  log: (line: string) => void,
): Promise<SharedDirectoryResult> {
  await startAndStop(dataDir); // a clean stop of this version seals the directory
  const cleanSeconds = await startAndStop(dataDir);

  const changed = ids[Math.floor(ids.length / 2)] as string;
  await rewrite(
    dataDir,
    changed,
    'changed-by-the-original',
    join(dataDir, 'sessions', `${changed}.tmp`),
  );
  const now = Date.now() / 1000;
  await appendFile(
    join(dataDir, 'events.jsonl'),
    `{"ts": ${now}, "time": "${new Date().toISOString().slice(0, 19)}Z", "event": "session_updated", ` +
      `"container": "${randomUUID().slice(0, 8)}", "session_id": "${changed}"}\n`,
  );
  const originalSeconds = await startAndStop(dataDir);

  const edited = ids[Math.floor(ids.length / 3)] as string;
  await rewrite(dataDir, edited, 'edited-by-hand', join(dataDir, `${edited}.edit`));
  const byHandSeconds = await startAndStop(dataDir);

  log(
    `  shared directory, ${ids.length.toLocaleString('en')} sessions: clean restart ${cleanSeconds} s; ` +
      `after the original changed one session ${originalSeconds} s; after a hand edit by rename ${byHandSeconds} s`,
  );
  return { sessions: ids.length, cleanSeconds, originalSeconds, byHandSeconds };
}
