/**
 * `npm run bench -- --sweep [--sweep-sessions N] [--sweep-rate R]`: the
 * expiry sweep at scale (docs/design/expiry-and-retention.md, decision 3).
 * N sessions (1,000,000) are written straight to disk (datasets.ts), the
 * newest tenth of them expiring, by their lifetime and by idle time in turn,
 * spread over one minute that starts once the service is up. Then:
 *
 *   restart   the takeover, a clean stop, and the boot from the snapshot with
 *             the expiring sessions in it (none due yet): time to /health
 *   baseline  GET /sessions/:id of sessions that never expire, at a steady R
 *             requests/s (2,000), for 20 s before anything is due
 *   sweep     the same load from the first expiry until the sweep has removed
 *             every expiring session (expired_sessions in /state)
 *
 * Each window gives the requests' p99 (autocannon, at a fixed rate so the
 * figure is the service's latency, not a queue the load made) and the
 * service's event-loop delay, min, max and p99 (prom-client's
 * monitorEventLoopDelay, read from /metrics: each read resets it, so a read
 * before the window starts it). Node records the whole interval between its
 * 10 ms timer's callbacks, so the min is about 10 ms: a stall is what a
 * figure has beyond it.
 */
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { utcTimestamp } from '../src/domain/time.js';
import { type StartedService, spawnService } from '../tools/service-process.js';
import { writeDataset } from './datasets.js';

/** A takeover of a million files takes longer than a test's boot may. */
const BOOT = { bootTimeoutMs: 600_000 };
const BASELINE_SECONDS = 20;
const SPREAD_SECONDS = 60;

export interface SweepWindow {
  seconds: number;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  loopMinMs: number;
  loopMaxMs: number;
  loopP99Ms: number;
}

export interface SweepResult {
  sessions: number;
  expiring: number;
  rate: number;
  takeoverSeconds: number;
  restartSeconds: number;
  /** Seconds the bench waited for the first expiry once the baseline had run (its margin). */
  waitedSeconds: number;
  baseline: SweepWindow;
  sweep: SweepWindow;
  /** From the last expiry until expired_sessions counted every expiring session (polled each 250 ms). */
  sweptAfterLastSeconds: number;
  /** The machine's load average (1 minute) at the end: what else shared the cores. */
  loadAverage: number;
}

/** The event-loop delay prom-client gathered since the last read (the read resets it). */
async function loopDelay(base: string): Promise<{ minMs: number; maxMs: number; p99Ms: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const ms = (seconds: number) => Math.round(seconds * 10_000) / 10;
  return {
    minMs: ms(gauge('nodejs_eventloop_lag_min_seconds')),
    maxMs: ms(gauge('nodejs_eventloop_lag_max_seconds')),
    p99Ms: ms(gauge('nodejs_eventloop_lag_p99_seconds')),
  };
}

async function expiredCount(base: string): Promise<number> {
  const state = (await (await fetch(`${base}/state`)).json()) as { expired_sessions: number };
  return state.expired_sessions;
}

/** GETs of `ids` at random at `rate` a second for `seconds`, with the event-loop delay meanwhile. */
async function window(
  service: StartedService,
  ids: readonly string[],
  rate: number,
  seconds: number,
): Promise<SweepWindow> {
  await loopDelay(service.url); // resets it: what follows is this window's
  const result = await autocannon({
    url: service.url,
    connections: 8,
    overallRate: rate,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({
          ...request,
          path: `/sessions/${ids[Math.floor(Math.random() * ids.length)]}`,
        }),
      },
    ],
  });
  const loop = await loopDelay(service.url);
  return {
    seconds,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
    p50: result.latency.p50,
    p99: result.latency.p99,
    loopMinMs: loop.minMs,
    loopMaxMs: loop.maxMs,
    loopP99Ms: loop.p99Ms,
  };
}

export async function sweepBench(options: {
  dir: (name: string) => Promise<string>;
  sessions: number;
  rate: number;
  log: (line: string) => void;
}): Promise<SweepResult> {
  const { sessions, log } = options;
  const lasting = Math.floor(sessions * 0.9);
  const expiring = sessions - lasting;
  const dir = await options.dir('sweep');
  log(
    `  writing ${sessions.toLocaleString('en')} session files, ${expiring.toLocaleString('en')} of them expiring over ${SPREAD_SECONDS} s…`,
  );
  // The first expiry: set when the first expiring file is written (the
  // newest tenth, written last), after what is left to write, the takeover
  // and restart (at most about 60 s a million here) and the baseline.
  const started = performance.now();
  let firstExpiry = 0;
  const ids = await writeDataset(dir, sessions, 0, undefined, (seq) => {
    if (seq <= lasting) return null;
    if (firstExpiry === 0) {
      const writing = ((performance.now() - started) / 1000) * (expiring / lasting);
      const margin = writing + (sessions / 1_000_000) * 120 + BASELINE_SECONDS + 20;
      firstExpiry = (Math.floor(Date.now() / 1000) + Math.ceil(margin)) * 1000;
    }
    const at = utcTimestamp(
      new Date(firstExpiry + Math.floor(((seq - lasting - 1) / expiring) * SPREAD_SECONDS) * 1000),
    );
    return seq % 2 === 0
      ? { expires_at: at, ends_at: at, idle_seconds: null }
      : { expires_at: at, ends_at: null, idle_seconds: 600 };
  });
  const lastExpiry = firstExpiry + (SPREAD_SECONDS - 1) * 1000;

  const first = await spawnService(dir, { CRASH_ENDPOINT: 'off' }, BOOT);
  const takeoverSeconds = Math.round(first.bootMs) / 1000;
  await first.process.stop();
  const service = await spawnService(dir, { CRASH_ENDPOINT: 'off' }, BOOT);
  const restartSeconds = Math.round(service.bootMs) / 1000;
  log(`  takeover ${takeoverSeconds} s; restart with the expiring sessions ${restartSeconds} s`);
  try {
    const readable = ids.slice(0, lasting);
    const baseline = await window(service, readable, options.rate, BASELINE_SECONDS);
    const waitedSeconds = Math.round(firstExpiry - Date.now()) / 1000;
    if (waitedSeconds < 0) {
      throw new Error(`the first expiry came ${-waitedSeconds} s before the baseline ended`);
    }
    await new Promise((resolve) => setTimeout(resolve, firstExpiry - Date.now()));
    log(`  baseline: p99 ${baseline.p99} ms, event loop max ${baseline.loopMaxMs} ms`);
    // The whole minute, and a few seconds after it for the sweep to finish;
    // meanwhile /state says when the sweep has removed them all.
    const watching = (async () => {
      while (Date.now() < lastExpiry + 120_000) {
        if ((await expiredCount(service.url)) >= expiring) return Date.now();
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      throw new Error(`the sweep removed ${await expiredCount(service.url)} of ${expiring}`);
    })();
    const sweep = await window(service, readable, options.rate, SPREAD_SECONDS + 5);
    const sweptAt = await watching;
    // A session is gone from its expires_at on: the last is due at lastExpiry.
    const sweptAfterLastSeconds = Math.round(sweptAt - lastExpiry) / 1000;
    return {
      sessions,
      expiring,
      rate: options.rate,
      takeoverSeconds,
      restartSeconds,
      waitedSeconds,
      baseline,
      sweep,
      sweptAfterLastSeconds,
      loadAverage: Math.round((loadavg()[0] ?? 0) * 10) / 10,
    };
  } finally {
    await service.process.stop();
  }
}

/** The run in words, for the table's notes and docs/performance.md. */
export function sweepLines(result: SweepResult): string[] {
  const { baseline, sweep } = result;
  return [
    `Sweep at ${result.sessions.toLocaleString('en')} sessions, ${result.expiring.toLocaleString('en')} expiring over ${SPREAD_SECONDS} s, GET /sessions/:id at ${result.rate}/s:`,
    `  event loop (interval of a 10 ms timer) during the sweep: min ${sweep.loopMinMs} ms, p99 ${sweep.loopP99Ms} ms, max ${sweep.loopMaxMs} ms (baseline: min ${baseline.loopMinMs}, p99 ${baseline.loopP99Ms}, max ${baseline.loopMaxMs} ms)`,
    `  request p99 ${sweep.p99} ms during the sweep, ${baseline.p99} ms without (ratio ${(sweep.p99 / Math.max(baseline.p99, 0.001)).toFixed(2)}); p50 ${sweep.p50} and ${baseline.p50} ms; ${sweep.errors + baseline.errors} errors`,
    `  every expiring session removed ${result.sweptAfterLastSeconds} s after the last expiry`,
    `  restart with the expiring sessions in it: ${result.restartSeconds} s to /health (takeover ${result.takeoverSeconds} s; margin before the first expiry ${result.waitedSeconds} s)`,
    `  load average at the end: ${result.loadAverage} (the machine's cores are shared)`,
  ];
}
