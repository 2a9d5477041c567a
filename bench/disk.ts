/**
 * `npm run bench -- --disk [--disk-seconds S]`: the data directory's size
 * under writes at full speed with expiry and retention set
 * (docs/design/expiry-and-retention.md, decision 6). The service runs with
 * DISK_SETTINGS; 16 connections send as fast as it answers, half `POST
 * /sessions` (each new session expires after SESSION_TTL) and half `PUT`
 * spread over 1,000 sessions that never expire, for S seconds (300). Every
 * 5 s the bench adds up the blocks each part of the directory takes on disk
 * (sessions/, events.jsonl and its compaction's copy, journal/,
 * snapshot.jsonl and its temp, spare/, the rest). The result: the samples,
 * the largest total, the bound the settings give (diskBound), and how much
 * the largest total of the second half exceeds that of the first (flat:
 * about 0).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnService } from '../tools/service-process.js';

/** Expiry and retention set, and small enough that each part comes and goes within a run. */
export const DISK_SETTINGS = {
  SESSION_TTL: '20s',
  EVENTS_RETAIN_MB: '8',
  SNAPSHOT_JOURNAL_KB: '8192',
  STORAGE_BUDGET_MB: '64',
  SPARE_FILES: '256',
} as const;

const SAMPLE_MS = 5000;
const PARTS = ['sessions', 'events', 'journal', 'snapshot', 'spare', 'other'] as const;
type Part = (typeof PARTS)[number];

export interface DiskSample {
  second: number;
  /** Bytes on disk (allocated blocks), by part, and in all. */
  bytes: Record<Part, number>;
  total: number;
  liveSessions: number;
}

export interface DiskResult {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  errors: number;
  samples: DiskSample[];
  largest: number;
  /** The largest total of the run's second half less that of its first half. */
  growth: number;
  bound: number;
}

/**
 * The most the directory holds with these settings, as operating.md states
 * it: sessions/ (at most budget / 512 sessions, the least footprint of one,
 * each file at least a 4 KiB block, and the bytes of larger files, up to 3 ×
 * the budget: a character the footprint counts as 2 bytes is up to 6 in a
 * file, escaped), snapshot.jsonl and its temp (1.5 × the budget each),
 * twice the journal's setting and a segment's 1 MiB of zeros, 2.5 × the
 * log's bound (half again before a compaction, and its copy), the spare
 * files (8 KiB each), and 1 MiB for the small files.
 */
export function diskBound(settings: typeof DISK_SETTINGS): number {
  const mib = 1024 * 1024;
  const budget = Number(settings.STORAGE_BUDGET_MB) * mib;
  return (
    Math.floor(budget / 512) * 4096 +
    3 * budget +
    3 * budget +
    2 * Number(settings.SNAPSHOT_JOURNAL_KB) * 1024 +
    mib +
    2.5 * Number(settings.EVENTS_RETAIN_MB) * mib +
    Number(settings.SPARE_FILES) * 8192 +
    mib
  );
}

function partOf(name: string): Part {
  if (name === 'sessions') return 'sessions';
  if (name.startsWith('events.jsonl')) return 'events';
  if (name === 'journal') return 'journal';
  if (name.startsWith('snapshot.jsonl')) return 'snapshot';
  if (name === 'spare') return 'spare';
  return 'other';
}

/** Blocks allocated under `path` (a file, or a folder and everything in it); what vanished meanwhile counts 0. */
async function allocated(path: string): Promise<number> {
  try {
    const stats = await lstat(path);
    if (!stats.isDirectory()) return stats.blocks * 512;
    let sum = stats.blocks * 512;
    for (const name of await readdir(path)) sum += await allocated(join(path, name));
    return sum;
  } catch {
    return 0;
  }
}

async function sample(dir: string, url: string, second: number): Promise<DiskSample> {
  const bytes = Object.fromEntries(PARTS.map((part) => [part, 0])) as Record<Part, number>;
  for (const name of await readdir(dir)) bytes[partOf(name)] += await allocated(join(dir, name));
  const state = (await (await fetch(`${url}/state`)).json()) as { live_sessions: number };
  const total = PARTS.reduce((sum, part) => sum + bytes[part], 0);
  return { second, bytes, total, liveSessions: state.live_sessions };
}

export async function diskBench(options: {
  dir: string;
  seconds: number;
  log: (line: string) => void;
}): Promise<DiskResult> {
  const { dir, seconds, log } = options;
  const service = await spawnService(dir, { ...DISK_SETTINGS });
  try {
    const kept: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const answer = await fetch(`${service.url}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `kept-${i}`, data: { i }, ttl_seconds: null }),
      });
      kept.push(((await answer.json()) as { id: string }).id);
    }
    const started = performance.now();
    const samples: DiskSample[] = [];
    const taking: Promise<void>[] = [];
    const sampler = setInterval(() => {
      const second = Math.round((performance.now() - started) / 1000);
      const taken = sample(dir, service.url, second).then((one) => {
        samples.push(one);
        log(
          `disk: ${second} s, ${(one.total / 2 ** 20).toFixed(1)} MiB, ${one.liveSessions} sessions`,
        );
      });
      taking.push(taken);
    }, SAMPLE_MS);
    let result: autocannon.Result;
    try {
      result = await autocannon({
        url: service.url,
        connections: 16,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            path: '/sessions',
            headers: { 'content-type': 'application/json' },
            body: '{"name":"brief","data":{"n":1}}',
          },
          {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({
              ...request,
              path: `/sessions/${kept[Math.floor(Math.random() * kept.length)]}`,
              body: `{"data":{"n":${Math.floor(Math.random() * 1e6)}}}`,
            }),
          },
        ],
      });
    } finally {
      clearInterval(sampler);
      await Promise.allSettled(taking); // before the service stops
    }
    samples.sort((a, b) => a.second - b.second);
    const half = seconds / 2;
    const largestOf = (list: DiskSample[]) => Math.max(0, ...list.map((s) => s.total));
    const first = largestOf(samples.filter((s) => s.second <= half));
    const second = largestOf(samples.filter((s) => s.second > half));
    return {
      seconds,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      errors: result.errors + result.non2xx,
      samples,
      largest: largestOf(samples),
      growth: second - first,
      bound: diskBound(DISK_SETTINGS),
    };
  } finally {
    service.process.kill('SIGTERM');
    await service.process.exited;
  }
}

export function diskLines(result: DiskResult): string[] {
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `disk: ${result.seconds} s at full speed, ${result.requests} writes (${Math.round(result.requestsPerSecond)}/s), ${result.errors} errors`,
    `  settings: ${Object.entries(DISK_SETTINGS)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}`,
    `  second  total      ${PARTS.join('  ')}`,
  ];
  for (const s of result.samples) {
    lines.push(
      `  ${String(s.second).padStart(6)}  ${mib(s.total).padStart(9)}  ${PARTS.map((p) => mib(s.bytes[p])).join('  ')}  (${s.liveSessions} sessions)`,
    );
  }
  lines.push(
    `  largest ${mib(result.largest)}; bound from the settings ${mib(result.bound)}; second half's largest less the first's: ${mib(result.growth)}`,
  );
  return lines;
}
