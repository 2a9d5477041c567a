/**
 * Expiry in the power-loss run (powerloss.ts): the run's clock, moved by the
 * run and never by the wall, so what expires and when is the seed's; the
 * expiry a create or a PUT asks for; the wait for the sweep to remove what
 * came due; and what a boot at a clock at or after the run's last time must
 * serve (nothing expired by then, swept or not).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Session } from '../../src/domain/schemas.js';
import type { FileStore } from '../../src/store/file/file-store.js';
import { type LogHead, NO_HEAD, parseLogHead } from '../../src/store/file/log-positions.js';

/** What must survive of a session: its fields and, when it has them, its expiry keys. */
export type Kept = Pick<Session, 'name' | 'data' | 'access_count'> &
  Partial<Pick<Session, 'expires_at' | 'ends_at' | 'idle_seconds'>>;

export function kept(session: Session): Kept {
  const { name, data, access_count, expires_at, ends_at, idle_seconds } = session;
  // Each expiry key only when the session has it: one without must come
  // back without it, not with it undefined.
  const out: Kept = { name, data, access_count };
  if (expires_at !== undefined) out.expires_at = expires_at;
  if (ends_at !== undefined) out.ends_at = ends_at;
  if (idle_seconds !== undefined) out.idle_seconds = idle_seconds;
  return out;
}

/** The run's clock (epoch ms): the store and the service both read it. */
export class RunClock {
  private at: number;

  constructor(start: number) {
    // A whole second, as every time the store writes.
    this.at = Math.floor(start / 1000) * 1000;
  }

  readonly now = (): number => this.at;

  advance(seconds: number): void {
    this.at += seconds * 1000;
  }
}

/** What a create or a PUT asks for: mostly nothing, else a lifetime, an idle timeout, or both. */
export function expiryAsked(next: () => number): { ttl_seconds?: number; idle_seconds?: number } {
  const roll = next();
  if (roll < 0.6) return {};
  const ttl = 5 + Math.floor(next() * 60);
  const idle = 3 + Math.floor(next() * 30);
  if (roll < 0.75) return { ttl_seconds: ttl };
  if (roll < 0.9) return { idle_seconds: idle };
  return { ttl_seconds: ttl, idle_seconds: idle };
}

/** Whether `session` has expired at `now` (the store's rule: from its second on). */
export function expiredAt(session: Kept, now: number): boolean {
  return session.expires_at !== undefined && Date.parse(session.expires_at) <= now;
}

/** `sessions` as a store whose clock reads `now` serves them: without the expired ones. */
export function servedAt(sessions: ReadonlyMap<string, Kept>, now: number): Map<string, Kept> {
  return new Map([...sessions].filter(([, session]) => !expiredAt(session, now)));
}

/**
 * Waits until the store's sweep (its own timer, once a second) has removed
 * every one of `ids`. Memory changes only once the removal and its
 * session_expired event are on disk (commits.ts), so when none is held the
 * sweep's work is durable and may be acknowledged.
 */
export async function sweptAll(store: FileStore, ids: readonly string[]): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (ids.some((id) => store.table.has(id))) {
    if (performance.now() > deadline) {
      const left = ids.filter((id) => store.table.has(id));
      throw new Error(`the sweep left ${left.length} expired sessions held after 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The session_expired events in `dir`'s log: each one's session and the instance that logged it. */
export function expiredEvents(dir: string): { session: string; container: string }[] {
  const found: { session: string; container: string }[] = [];
  let text: string;
  try {
    text = readFileSync(join(dir, 'events.jsonl'), 'utf8');
  } catch {
    return found;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"session_expired"')) continue;
    try {
      const event = JSON.parse(line) as { event?: string; session_id?: string; container?: string };
      if (event.event === 'session_expired') {
        found.push({ session: String(event.session_id), container: String(event.container) });
      }
    } catch {
      // a torn last line: the boot cuts it, and it counts nothing
    }
  }
  return found;
}

/** What `dir`'s log says retention dropped before its first line kept (NO_HEAD: nothing). */
export function logHead(dir: string): LogHead {
  try {
    return parseLogHead(readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n', 1)[0] ?? '');
  } catch {
    return NO_HEAD;
  }
}

/** expired_sessions in `dir`'s stats.json (absent: 0, the original's four keys). */
export function expiredInStats(dir: string): number {
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8')) as {
    expired_sessions?: number;
  };
  return stats.expired_sessions ?? 0;
}

/** The sessions `store` serves (its table also holds the expired ones not yet swept). */
export function served(store: FileStore): Map<string, Kept> {
  const live = store.table.list().filter((session) => store.table.get(session.id) !== undefined);
  return new Map(live.map((session) => [session.id, kept(session)]));
}

/**
 * Expiry right after a boot: no session the log says was swept is held,
 * the live count leaves out what has expired, and expired_sessions is the
 * log's session_expired events (plus any the boot's own sweep has logged,
 * counted once it is durable).
 */
export function expiryAtBoot(store: FileStore, dir: string): string[] {
  const problems: string[] = [];
  const events = expiredEvents(dir);
  const before = events.filter((event) => event.container !== store.instanceId);
  for (const event of before) {
    if (store.table.has(event.session)) problems.push(`swept session ${event.session} is back`);
  }
  const counted = store.instance.stats().expired_sessions;
  if (counted < before.length || counted > events.length + logHead(dir).expired) {
    problems.push(`expired_sessions ${counted} at boot, ${before.length} swept in the log`);
  }
  const live = served(store).size;
  if (store.table.liveCount() !== live) {
    problems.push(`live_sessions ${store.table.liveCount()}, ${live} served`);
  }
  return problems;
}
