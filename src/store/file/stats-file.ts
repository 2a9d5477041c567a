/**
 * `stats.json`: the lifecycle counters, in the original's format (four
 * integers, pretty-printed), and `expired_sessions` after them once a
 * session has expired (the original's inspector prints every key: before the
 * first expiry the file is byte for byte the original's). Written whole through `DurableFiles.write`, so a
 * reader sees the old counters or the new ones.
 */

import { EMPTY_STATS, type Stats } from '../../domain/counters.js';
import { readTextIfPresent } from './layout.js';
import { isFileProblem } from './safe-open.js';

const KEYS = [
  'startup_count',
  'crash_count',
  'total_sessions',
  'total_requests',
  'expired_sessions',
] as const;

export type StatsRead =
  | { kind: 'missing' }
  | { kind: 'ok'; stats: Stats }
  | { kind: 'corrupt'; problem: string };

export function parseStats(text: string): StatsRead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', problem: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'corrupt', problem: 'not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const stats: Stats = { ...EMPTY_STATS };
  for (const key of KEYS) {
    const counter = record[key];
    if (counter === undefined) continue; // an older file without this counter starts it at 0
    if (!Number.isSafeInteger(counter) || (counter as number) < 0) {
      return { kind: 'corrupt', problem: `"${key}" is not a non-negative integer` };
    }
    stats[key] = counter as number;
  }
  return { kind: 'ok', stats };
}

export async function readStats(path: string): Promise<StatsRead> {
  const text = await readTextIfPresent(path);
  if (text === null) return { kind: 'missing' };
  if (isFileProblem(text)) return { kind: 'corrupt', problem: `it ${text.detail}` };
  return parseStats(text);
}

export function formatStats(stats: Stats): string {
  const ordered: Partial<Stats> = {
    startup_count: stats.startup_count,
    crash_count: stats.crash_count,
    total_sessions: stats.total_sessions,
    total_requests: stats.total_requests,
  };
  if (stats.expired_sessions > 0) ordered.expired_sessions = stats.expired_sessions;
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
