/**
 * Changes a data directory as the original (Python) implementation does,
 * byte for byte (shared/spec/original-behaviour.md): a session file through
 * `sessions/<id>.tmp` renamed over `sessions/<id>.json`, pretty-printed with
 * an indent of 2 and no trailing newline; a delete unlinks it; every change
 * appends its event line (`json.dumps` spacing, `ts` a float); `stats.json`
 * through `stats.tmp`. What it reads it takes as it is (an update keeps keys
 * it does not know, as `json.load` then `json.dump` do). For tests that hand
 * a directory to the original between two runs of this service.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pythonDumps, pythonFloat } from './original-data-dir.js';

interface OriginalSession {
  id: string;
  name: unknown;
  data: unknown;
  created_at: string;
  last_active: string;
  access_count: number;
  [key: string]: unknown;
}

function timestamp(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

export class OriginalWriter {
  readonly container = randomUUID().slice(0, 8);

  constructor(readonly dir: string) {}

  private async event(kind: string, extra: Record<string, unknown>): Promise<void> {
    const now = new Date();
    const rest = pythonDumps({
      time: timestamp(now),
      event: kind,
      container: this.container,
      ...extra,
    });
    await appendFile(
      join(this.dir, 'events.jsonl'),
      `{"ts": ${pythonFloat(now.getTime() / 1000 + 0.000123)}, ${rest.slice(1)}\n`,
    );
  }

  private async writeJson(target: string, temp: string, value: unknown): Promise<void> {
    await writeFile(temp, pythonDumps(value, 2));
    await rename(temp, target);
  }

  private async stats(change: (stats: Record<string, number>) => void): Promise<void> {
    const path = join(this.dir, 'stats.json');
    const stats = JSON.parse(await readFile(path, 'utf8')) as Record<string, number>;
    change(stats);
    await this.writeJson(path, join(this.dir, 'stats.tmp'), stats);
  }

  private sessionPath(id: string): string {
    return join(this.dir, 'sessions', `${id}.json`);
  }

  /** A start of the original: startup_count up by one, its `startup` line. */
  async startup(): Promise<void> {
    let counts = { startup_count: 0, crash_count: 0 };
    await this.stats((stats) => {
      stats.startup_count = (stats.startup_count ?? 0) + 1;
      counts = { startup_count: stats.startup_count, crash_count: stats.crash_count ?? 0 };
    });
    await this.event('startup', counts);
  }

  async create(name: string, data: Record<string, unknown> = {}): Promise<OriginalSession> {
    const now = timestamp(new Date());
    const session: OriginalSession = {
      id: randomUUID(),
      name,
      data,
      created_at: now,
      last_active: now,
      access_count: 0,
    };
    await this.writeJson(
      this.sessionPath(session.id),
      join(this.dir, 'sessions', `${session.id}.tmp`),
      session,
    );
    await this.stats((stats) => {
      stats.total_sessions = (stats.total_sessions ?? 0) + 1;
    });
    await this.event('session_created', { session_id: session.id, name });
    return session;
  }

  async update(
    id: string,
    change: { name?: string; data?: Record<string, unknown> },
  ): Promise<OriginalSession> {
    const session = JSON.parse(await readFile(this.sessionPath(id), 'utf8')) as OriginalSession;
    if (change.name !== undefined) session.name = change.name;
    if (change.data !== undefined) session.data = change.data;
    session.last_active = timestamp(new Date());
    session.access_count += 1;
    await this.writeJson(this.sessionPath(id), join(this.dir, 'sessions', `${id}.tmp`), session);
    await this.event('session_updated', { session_id: id });
    return session;
  }

  async delete(id: string): Promise<void> {
    await unlink(this.sessionPath(id));
    await this.event('session_deleted', { session_id: id });
  }
}
