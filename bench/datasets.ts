/**
 * Writes data directories of a given size straight to disk, in the service's
 * own format (the store's formatters), so the benchmark can measure reads and
 * boots against large data without creating it through the API. The data is
 * on the disk when `writeDataset` returns (`sync -f`), so what is measured
 * next does not share the disk with the writeback of its own setup (a
 * million files, gigabytes of blocks). The sessions are `user-1` (the oldest)
 * to `user-N` unless `nameOf` names them (a test that looks for particular
 * ones); the ids it returns are in that order. `expiryOf` gives a session
 * the expiry keys (after access_count, as the service writes them), or none.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeEvent } from '../src/domain/event.js';
import type { SessionExpiry } from '../src/domain/expiry.js';
import { formatSessionFile } from '../src/store/file/session-files.js';
import { formatStats } from '../src/store/file/stats-file.js';

export async function writeDataset(
  dir: string,
  sessions: number,
  events: number,
  nameOf: (seq: number) => string = (seq) => `user-${seq}`,
  expiryOf: (seq: number) => SessionExpiry | null = () => null,
): Promise<string[]> {
  await mkdir(join(dir, 'sessions'), { recursive: true });
  const ids: string[] = [];
  const created = '2026-02-21T10:00:00Z';
  let next = 0;
  const writer = async () => {
    while (next < sessions) {
      const seq = ++next;
      const id = randomUUID();
      ids.push(id);
      const session = {
        id,
        name: nameOf(seq),
        data: { note: 'benchmark session', plan: seq % 3 === 0 ? 'pro' : 'free', visits: seq % 17 },
        created_at: created,
        last_active: created,
        access_count: 0,
        ...expiryOf(seq),
      };
      await writeFile(join(dir, 'sessions', `${id}.json`), formatSessionFile({ session, seq }));
    }
  };
  await Promise.all(Array.from({ length: 32 }, writer));

  const log = createWriteStream(join(dir, 'events.jsonl'));
  const when = new Date('2026-02-21T10:00:00Z');
  for (let i = 0; i < events; i++) {
    const id = ids[i % Math.max(ids.length, 1)] ?? randomUUID();
    const line = `${JSON.stringify(makeEvent('session_updated', 'bench000', { session_id: id }, when))}\n`;
    if (!log.write(line)) await new Promise<void>((resolve) => log.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    log.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  await writeFile(
    join(dir, 'stats.json'),
    formatStats({
      startup_count: 1,
      crash_count: 0,
      total_sessions: sessions,
      total_requests: 0,
      expired_sessions: 0,
    }),
  );
  // syncfs(2) of the file system holding `dir` (GNU coreutils).
  await promisify(execFile)('sync', ['-f', dir]);
  return ids;
}
