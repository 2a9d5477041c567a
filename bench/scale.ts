/**
 * `npm run bench -- --scale`: the file store at scale, on directories written
 * straight to disk in the original's layout (one file a session):
 *
 *   takeover   first boot of N sessions and M events (default 1,000,000 and
 *              10,000,000): reads every file, writes snapshot.jsonl
 *   pages      GET /sessions?limit=100 walked by cursor, both orders, and
 *              GET /events?limit=100&before=… from the middle of the log
 *   search     finding the oldest session newest first (the last a search
 *              comes to), by name and by an id prefix, following the
 *              search's pages as the dashboard and the CLI do
 *   restart    a clean stop, then a boot from the snapshot: time to /health, RSS
 *   kill       a clean restart again, PUTs until the journal is nearly full,
 *              kill -9, and the start after it (kill-restart.ts)
 *   shared     starts after another program changed the stopped directory
 *              (shared-directory.ts)
 *   sustained  60 s of PUTs spread at random over 100,000 sessions: the
 *              directory's growth beyond what the data needs, and the
 *              throughput of the first and last 15 s
 */
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnService } from '../tools/service-process.js';
import { writeDataset } from './datasets.js';
import { type KillRestartResult, killRestartBench } from './kill-restart.js';
import { putSpreadOver, residentMiB } from './requests.js';
import { type SharedDirectoryResult, sharedDirectoryBench } from './shared-directory.js';

/** A takeover of a million files takes longer than a test's boot may. */
const BOOT = { bootTimeoutMs: 600_000 };

export interface ScaleResult {
  sessions: number;
  events: number;
  takeover: { seconds: number; residentMiB: number; progressLines: number };
  restart: { stopSeconds: number; seconds: number; residentMiB: number };
  kill: KillRestartResult;
  shared: SharedDirectoryResult;
  pages: { sessionsP50: number; sessionsP99: number; eventsP50: number; eventsP99: number };
  /**
   * Newest first: an old name (90 % of the way), the oldest id's prefix (all
   * the way); after the takeover (the sessions in memory in the order the
   * files were read) and after the restart (in creation order, as the
   * snapshot holds them: a search reads memory in order).
   */
  search: { byNameMs: number; byIdMs: number; pages: number; afterRestart: SearchTimes };
  sustained: {
    seconds: number;
    sessions: number;
    puts: number;
    firstQuarterPerSecond: number;
    lastQuarterPerSecond: number;
    ceiling: number;
    /** Bytes the directory grew by, and what of it the data needs (events.jsonl, sessions/). */
    grewBytes: number;
    dataBytes: number;
    /** journal/ and snapshot.jsonl after the clean stop that ends it. */
    journalBytes: number;
    snapshotBytes: number;
  };
}

function percentile(sorted: number[], p: number): number {
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0) * 10) / 10
  );
}

/** Bytes under `path` (du: the directory holds up to a million files). */
function diskBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function timeGets(urls: string[]): Promise<number[]> {
  const times: number[] = [];
  for (const url of urls) {
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

/**
 * A search newest first (`limit` 50, the dashboard's page) followed page by
 * page until it finds something: how long it took, and in how many pages.
 */
async function timeSearch(base: string, text: string): Promise<{ ms: number; pages: number }> {
  const started = performance.now();
  let next: string | null = null;
  for (let pages = 1; ; pages++) {
    const after = next === null ? '' : `&after=${encodeURIComponent(next)}`;
    const response = await fetch(
      `${base}/sessions?limit=50&order=newest&q=${encodeURIComponent(text)}${after}`,
    );
    const body = (await response.json()) as { count: number; next: string | null };
    if (body.count > 0 || body.next === null) {
      if (body.count === 0) throw new Error(`a search for ${text} found nothing`);
      return { ms: Math.round(performance.now() - started), pages };
    }
    next = body.next;
  }
}

interface SearchTimes {
  byNameMs: number;
  byIdMs: number;
  pages: number;
}

/**
 * The oldest sessions are the last a newest-first search comes to: the
 * oldest id, and the oldest name no later one holds (user-K with K > N/10:
 * no user-K0 exists), 90 % of the way.
 */
async function searchTimes(base: string, sessions: number, oldestId: string): Promise<SearchTimes> {
  const byName = await timeSearch(base, `user-${Math.floor(sessions / 10) + 1}`);
  const byId = await timeSearch(base, oldestId.slice(0, 8));
  return { byNameMs: byName.ms, byIdMs: byId.ms, pages: byName.pages };
}

/** Walks `pages` pages of `limit` by their `next` cursors, timing each. */
async function walkPages(base: string, query: string, pages: number): Promise<number[]> {
  const times: number[] = [];
  let next: string | null = null;
  for (let i = 0; i < pages; i++) {
    const url = `${base}/sessions?limit=100${query}${next === null ? '' : `&after=${encodeURIComponent(next)}`}`;
    const started = performance.now();
    const response = await fetch(url);
    const body = (await response.json()) as { next: string | null };
    times.push(performance.now() - started);
    if (body.next === null) break;
    next = body.next;
  }
  return times;
}

export async function scaleBench(options: {
  dir: (name: string) => Promise<string>;
  sessions: number;
  events: number;
  measureCeiling: (seconds: number) => Promise<number>;
  connections: number;
  log: (line: string) => void;
}): Promise<ScaleResult> {
  const { log } = options;
  const big = await options.dir('scale');
  log(
    `  writing ${options.sessions.toLocaleString('en')} session files and ${options.events.toLocaleString('en')} events…`,
  );
  const bigIds = await writeDataset(big, options.sessions, options.events);

  // Takeover: the first boot reads every file.
  const first = await spawnService(big, { CRASH_ENDPOINT: 'off' }, BOOT);
  const takeover = {
    seconds: Math.round(first.bootMs) / 1000,
    residentMiB: await residentMiB(first.process.child.pid ?? 0),
    progressLines: first.process.stdout.split('\n').filter((line) => line.includes('taking over'))
      .length,
  };
  log(
    `  takeover: ${takeover.seconds} s, ${takeover.residentMiB} MiB resident, ${takeover.progressLines} progress lines`,
  );

  // Pages at scale.
  const forward = await walkPages(first.url, '', 100);
  const backward = await walkPages(first.url, '&order=newest', 100);
  const sessionTimes = [...forward, ...backward].sort((a, b) => a - b);
  const middle = Math.floor(options.events / 2);
  const eventTimes = await timeGets(
    Array.from(
      { length: 100 },
      (_, i) => `${first.url}/events?limit=100&before=${middle - Math.floor((i * middle) / 200)}`,
    ),
  );
  const pages = {
    sessionsP50: percentile(sessionTimes, 0.5),
    sessionsP99: percentile(sessionTimes, 0.99),
    eventsP50: percentile(eventTimes, 0.5),
    eventsP99: percentile(eventTimes, 0.99),
  };
  log(
    `  pages of 100: sessions p50 ${pages.sessionsP50} ms p99 ${pages.sessionsP99} ms; events p50 ${pages.eventsP50} ms p99 ${pages.eventsP99} ms`,
  );
  const searched = await searchTimes(first.url, options.sessions, bigIds[0] as string);
  log(
    `  search newest first for an old session: by name ${searched.byNameMs} ms (${searched.pages} pages), the oldest by id prefix ${searched.byIdMs} ms`,
  );

  // Restart: a clean stop, then a boot from the snapshot.
  const stopping = performance.now();
  await first.process.stop();
  const stopSeconds = Math.round(performance.now() - stopping) / 1000;
  const second = await spawnService(big, { CRASH_ENDPOINT: 'off' }, BOOT);
  const restart = {
    stopSeconds,
    seconds: Math.round(second.bootMs) / 1000,
    residentMiB: await residentMiB(second.process.child.pid ?? 0),
  };
  log(
    `  restart: stop ${restart.stopSeconds} s, boot ${restart.seconds} s, ${restart.residentMiB} MiB resident`,
  );
  const afterRestart = await searchTimes(second.url, options.sessions, bigIds[0] as string);
  log(
    `  search after the restart: by name ${afterRestart.byNameMs} ms, by id prefix ${afterRestart.byIdMs} ms`,
  );
  const search = { ...searched, afterRestart };
  const kill = await killRestartBench(second, big, bigIds, {
    connections: options.connections,
    maxBurstSeconds: 120,
    log,
  });
  const shared = await sharedDirectoryBench(big, bigIds, log);

  // Sustained writes: PUTs spread over 100,000 sessions for 60 s.
  const spread = await options.dir('sustained');
  const spreadSessions = 100_000;
  const ids = await writeDataset(spread, spreadSessions, 0);
  const service = await spawnService(spread, { CRASH_ENDPOINT: 'off' }, BOOT);
  const before = diskBytes(spread);
  const eventsBefore = await sizeOf(join(spread, 'events.jsonl'));
  const sessionsBefore = diskBytes(join(spread, 'sessions'));
  const ceiling = await options.measureCeiling(5);
  const seconds = 60;
  const perSecond = new Array<number>(seconds + 1).fill(0);
  const started = performance.now();
  const result = await autocannon({
    url: service.url,
    connections: options.connections,
    duration: seconds,
    requests: [
      putSpreadOver(ids, () => {
        const second = Math.min(seconds, Math.floor((performance.now() - started) / 1000));
        perSecond[second] = (perSecond[second] ?? 0) + 1;
      }),
    ],
  });
  const quarter = seconds / 4;
  const sum = (from: number, to: number) =>
    perSecond.slice(from, to).reduce((total, count) => total + count, 0) / (to - from);
  await service.process.stop(); // du cannot count a directory whose temp files come and go
  const after = diskBytes(spread);
  const journalDir = join(spread, 'journal');
  let journalBytes = 0;
  for (const name of await readdir(journalDir))
    journalBytes += await sizeOf(join(journalDir, name));
  const sustained = {
    seconds,
    sessions: spreadSessions,
    puts: result.requests.total,
    firstQuarterPerSecond: Math.round(sum(0, quarter)),
    lastQuarterPerSecond: Math.round(sum(seconds - quarter, seconds)),
    ceiling: Math.round(ceiling),
    grewBytes: after - before,
    dataBytes:
      (await sizeOf(join(spread, 'events.jsonl'))) -
      eventsBefore +
      diskBytes(join(spread, 'sessions')) -
      sessionsBefore,
    journalBytes,
    snapshotBytes: await sizeOf(join(spread, 'snapshot.jsonl')),
  };
  log(
    `  sustained PUTs over ${spreadSessions.toLocaleString('en')} sessions: ${sustained.puts} in ${seconds} s, ` +
      `first 15 s ${sustained.firstQuarterPerSecond}/s, last 15 s ${sustained.lastQuarterPerSecond}/s, ceiling ${sustained.ceiling}/s; ` +
      `grew ${(sustained.grewBytes / 2 ** 20).toFixed(0)} MiB (data ${(sustained.dataBytes / 2 ** 20).toFixed(0)} MiB, ` +
      `journal ${(journalBytes / 2 ** 20).toFixed(0)} MiB)`,
  );
  return {
    sessions: options.sessions,
    events: options.events,
    takeover,
    restart,
    kill,
    shared,
    pages,
    search,
    sustained,
  };
}
