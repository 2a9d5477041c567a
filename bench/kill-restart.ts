/**
 * A start after `kill -9` right after a write burst, beside a clean restart
 * of the same directory in the same run: PUTs spread over the sessions at
 * full speed until the journal holds nearly a snapshot's worth
 * (SNAPSHOT_JOURNAL_KB, 64 MiB: what a boot replays at most in steady
 * running), or for at most `maxBurstSeconds`, then SIGKILL, then the time
 * from the spawn to `listening` (ready: /health answers 200 from then on).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { type StartedService, spawnService } from '../tools/service-process.js';
import { putSpreadOver } from './requests.js';

export interface KillRestartResult {
  sessions: number;
  /** A clean stop, then a start: seconds to `listening`. */
  cleanSeconds: number;
  /** Seconds to `listening` after the kill. */
  killSeconds: number;
  burstSeconds: number;
  puts: number;
  /** The journal the start after the kill had to replay. */
  journalMiB: number;
  /** "starting" lines the start after the kill logged. */
  progressLines: number;
}

const SNAPSHOT_JOURNAL_BYTES = 64 * 1024 * 1024;
const ENV = { CRASH_ENDPOINT: 'off' };
const BOOT = { bootTimeoutMs: 600_000 };

async function journalBytes(dataDir: string): Promise<number> {
  const dir = join(dataDir, 'journal');
  let bytes = 0;
  for (const name of await readdir(dir).catch(() => [])) {
    // Segments are written into zeros ahead of their records: count what is
    // before them, roughly (the allocated size is within 1 MiB of it).
    bytes += await stat(join(dir, name)).then(
      (stats) => stats.size,
      () => 0,
    );
  }
  return bytes;
}

/**
 * Takes a running service on `dataDir` holding `ids`, restarts it cleanly,
 * then bursts, kills and starts it again; stops it at the end.
 */
export async function killRestartBench(
  running: StartedService,
  dataDir: string,
  ids: readonly string[],
  options: { connections: number; maxBurstSeconds: number; log: (line: string) => void },
): Promise<KillRestartResult> {
  await running.process.stop();
  const clean = await spawnService(dataDir, ENV, BOOT);
  const target = SNAPSHOT_JOURNAL_BYTES * 0.9;
  const started = performance.now();
  // The kill comes when the journal is nearly full (or the duration ends),
  // with requests in flight; the first refused connection ends the burst.
  const watch = setInterval(() => {
    void journalBytes(dataDir).then((bytes) => {
      if (bytes >= target) clean.process.kill('SIGKILL');
    });
  }, 200);
  const result = await autocannon({
    url: clean.url,
    connections: options.connections,
    duration: options.maxBurstSeconds,
    bailout: 1,
    requests: [putSpreadOver(ids)],
  });
  clearInterval(watch);
  const burstSeconds = Math.round(performance.now() - started) / 1000;
  clean.process.kill('SIGKILL');
  await clean.process.exited;
  const puts = result['2xx'];
  const journal = await journalBytes(dataDir);
  const after = await spawnService(dataDir, ENV, BOOT);
  const state = await fetch(`${after.url}/state`);
  const body = (await state.json()) as { live_sessions?: number };
  if (!state.ok || body.live_sessions !== ids.length) {
    throw new Error(`after the kill: /state ${state.status}, ${body.live_sessions} sessions`);
  }
  const figures: KillRestartResult = {
    sessions: ids.length,
    cleanSeconds: Math.round(clean.bootMs) / 1000,
    killSeconds: Math.round(after.bootMs) / 1000,
    burstSeconds,
    puts,
    journalMiB: Math.round(journal / 2 ** 20),
    progressLines: after.process.lines.filter((line) => line.msg === 'starting').length,
  };
  options.log(
    `  start after kill -9 (${figures.sessions.toLocaleString('en')} sessions, ${figures.puts} PUTs in ${burstSeconds} s, ` +
      `${figures.journalMiB} MiB of journal): ${figures.killSeconds} s to listening, ` +
      `${figures.progressLines} progress lines; clean restart ${figures.cleanSeconds} s`,
  );
  await after.process.stop();
  return figures;
}

/** The report's line. */
export function killRestartLine(figures: KillRestartResult): string {
  return (
    `Start after kill -9 with ${figures.sessions.toLocaleString('en')} sessions, right after ${figures.burstSeconds} s of PUTs ` +
    `(${figures.puts.toLocaleString('en')}; ${figures.journalMiB} MiB of journal to replay): ${figures.killSeconds} s to /health ` +
    `(${figures.progressLines} progress lines), against ${figures.cleanSeconds} s for a clean restart of the same directory in this run.`
  );
}
