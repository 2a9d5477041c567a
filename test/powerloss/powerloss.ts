/**
 * `npm run test:powerloss [-- --states N] [--seed S]`: power cuts, not only
 * kills. A run records the file store through its file-system seam
 * (recording-file-system.ts) while it takes over a directory the original
 * implementation wrote, then creates, replaces, merges and deletes sessions
 * one at a time, with checkpoints and snapshots among them (each snapshot
 * followed by a compaction of the log, which keeps its last 40 events), and stops. Some
 * expire: the run's clock moves now and then, and the store's sweep removes
 * what came due before that step is acknowledged (expiring.ts). Then,
 * for N crash states (a point of the trace and a model of what the disk kept:
 * crash-states.ts), it builds the directory, checks it with `inspect --verify`
 * (everything it finds must be repairable), boots the real store on it as a
 * machine that restarted would, and checks:
 *
 *   - the sessions are exactly those acknowledged up to the point, or those
 *     and the one change in flight, whole (nothing unacknowledged half there);
 *   - total_sessions matches them, and the log holds a session_created for
 *     every session ever created;
 *   - booted at the run's last time or later, nothing expired is served, no
 *     swept session held, expired_sessions the log's session_expired events;
 *   - startup_count and crash_count are exact: the cut instance counted as
 *     crashed unless its clean stop had been acknowledged;
 *   - the boot succeeds, and after it and a clean stop verify finds nothing;
 *   - one state in five: `inspect --repair` on a copy, then a start, serves
 *     the same sessions;
 *   - another state in five: before the boot, the original implementation
 *     (its exact bytes) creates a session in the directory the cut left; the
 *     start adopts it (it logged it), and counts it.
 *
 * Runs of 1,000 states each, each on its own recorded trace (seed, seed+1, …).
 * Exit status 1 on any violation, with the state kept in powerloss-failures/.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Clock } from '../../src/domain/time.js';
import { repairDataDirectory } from '../../src/inspector/repair.js';
import { verifyDataDirectory } from '../../src/inspector/verify.js';
import { StatefulService } from '../../src/service/service.js';
import { FileStore } from '../../src/store/file/file-store.js';
import type { WritableFileSystem } from '../../src/store/file/file-system.js';
import { writeOriginalDataDir } from '../helpers/original-data-dir.js';
import { OriginalWriter } from '../helpers/original-writer.js';
import { seeded } from '../helpers/seeded.js';
import { type CrashModel, DiskModel } from './crash-states.js';
import {
  expiredAt,
  expiredEvents,
  expiredInStats,
  expiryAsked,
  expiryAtBoot,
  type Kept,
  kept,
  logHead,
  RunClock,
  served,
  servedAt,
  sweptAll,
} from './expiring.js';
import { RecordingFileSystem, type Trace } from './recording-file-system.js';

const STATES_PER_RUN = 1000;
const OPERATIONS_PER_RUN = 60;
const MODELS: readonly CrashModel[] = ['lost', 'pages', 'names'];

interface Expected {
  sessions: Map<string, Kept>;
  /** total_sessions: every session ever created. */
  total: number;
}

interface Recorded {
  trace: Trace;
  /** What must be there after the k-th acknowledged operation (0: the directory taken over). */
  expected: Expected[];
  /** The counters of a first boot of the original directory. */
  firstBoot: { startups: number; crashes: number };
  /** session_created lines of the log minus total_sessions (constant through any run). */
  createdMinusTotal: number;
  /** The run's clock when it stopped: every crash state boots at or after it. */
  lastTime: number;
}

const STORE_OPTIONS = {
  // Small, so snapshots (and the journal segments they cover) come and go in a short run.
  snapshotJournalBytes: 8 * 1024,
  checkpointBacklog: 1_000,
  // Replaced session files written again at once, so crash states cut through that too.
  spareMinAgeMs: 0,
  // The log compacted after snapshots, so crash states cut through compactions too.
  retention: { count: 40, maxAgeMs: null, bytes: null },
  retentionMinDropBytes: 1024,
};

async function boot(
  dir: string,
  instanceId: string,
  fs?: WritableFileSystem,
  clock: Clock = Date.now,
) {
  const { store } = await FileStore.open(dir, instanceId, fs, { ...STORE_OPTIONS, clock });
  const service = new StatefulService(store, { sessionMaxNodes: 10_000, clock });
  try {
    const started = await service.start();
    return { store, service, started };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** session_created events of `dir`'s log, those retention dropped included. */
function createdEvents(dir: string): number {
  const text = readFileSync(join(dir, 'events.jsonl'), 'utf8');
  // Ours and the original's (json.dumps spacing) alike, as the head counts them.
  return text.split(/"event": ?"session_created"/).length - 1 + logHead(dir).created;
}

async function firstBootOf(
  original: string,
): Promise<Recorded['firstBoot'] & { created: number; total: number }> {
  const copy = mkdtempSync(join(tmpdir(), 'powerloss-first-'));
  try {
    cpSync(original, copy, { recursive: true });
    const { store, service, started } = await boot(copy, 'f1f1f1f1');
    const total = store.instance.stats().total_sessions;
    await service.stop('first_boot');
    await store.close();
    return {
      startups: started.startupCount,
      crashes: started.crashCount,
      created: createdEvents(copy),
      total,
    };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** The recorded run: a takeover, then OPERATIONS_PER_RUN operations one at a time, then a clean stop. */
async function record(seed: number): Promise<Recorded> {
  const next = seeded(seed);
  const dir = mkdtempSync(join(tmpdir(), 'powerloss-run-'));
  try {
    await writeOriginalDataDir(dir);
    const first = await firstBootOf(dir);
    const recorder = new RecordingFileSystem(dir);
    const clock = new RunClock(Date.now());
    const { store, service } = await boot(dir, 'aaaaaaaa', recorder, clock.now);
    recorder.ack('started');
    const sessions = new Map(store.table.list().map((session) => [session.id, kept(session)]));
    let total = store.instance.stats().total_sessions;
    const expected: Expected[] = [{ sessions: new Map(sessions), total }];
    for (let i = 0; i < OPERATIONS_PER_RUN; i++) {
      const ids = [...sessions.keys()];
      const pick = () => ids[Math.floor(next() * ids.length)] as string;
      const roll = next();
      if (roll < 0.4 || ids.length === 0) {
        const text = 'x'.repeat(Math.floor(next() * 3000)); // some sessions span pages
        const made = await service.sessions.create({
          name: `s${i}`,
          data: { i, text },
          ...expiryAsked(next),
        });
        sessions.set(made.id, kept(made));
        total++;
      } else if (roll < 0.6) {
        const id = pick();
        const body = { data: { put: i }, ...expiryAsked(next) };
        sessions.set(id, kept(await service.sessions.update(id, body)));
      } else if (roll < 0.72) {
        const id = pick();
        sessions.set(
          id,
          kept(await service.sessions.patch(id, { name: `p${i}`, data: { patched: i } })),
        );
      } else if (roll < 0.78) {
        // A count only: journaled as a patch of the access, the file written later.
        const id = pick();
        sessions.set(id, kept(await service.sessions.patch(id, {})));
      } else if (roll < 0.9) {
        const id = pick();
        await service.sessions.delete(id);
        sessions.delete(id);
      } else if (roll < 0.95) {
        await store.writeBehind.checkpoint();
      } else {
        await store.writeBehind.snapshot();
        await store.retention.runIfDue(); // the log's head dropped, as retention asks
      }
      recorder.ack(`op ${i}`);
      expected.push({ sessions: new Map(sessions), total });
      if (next() < 0.15) {
        // Time passes: what came due is swept (by the store's own timer) before the ack.
        clock.advance(2 + Math.floor(next() * 20));
        const due = [...sessions].filter(([, session]) => expiredAt(session, clock.now()));
        await sweptAll(
          store,
          due.map(([id]) => id),
        );
        for (const [id] of due) sessions.delete(id);
        recorder.ack(`swept after op ${i}`);
        expected.push({ sessions: new Map(sessions), total });
      }
    }
    recorder.ack('stopping');
    await service.stop('test_ended');
    recorder.ack('stopped');
    await store.close();
    return {
      trace: recorder.trace(),
      expected,
      firstBoot: { startups: first.startups, crashes: first.crashes },
      createdMinusTotal: first.created - first.total,
      lastTime: clock.now(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the acks before a crash point say must hold. */
function acknowledgedAt(trace: Trace, point: number) {
  let operations = 0;
  let started = false;
  let stopping = false;
  let stopped = false;
  for (const op of trace.ops.slice(0, point)) {
    if (op.op !== 'ack') continue;
    if (op.label === 'started') started = true;
    else if (op.label === 'stopping') stopping = true;
    else if (op.label === 'stopped') stopped = true;
    else operations++;
  }
  return { operations, started, stopping, stopped };
}

function sameSessions(found: Map<string, Kept>, expected: Map<string, Kept>): boolean {
  if (found.size !== expected.size) return false;
  for (const [id, session] of expected) {
    try {
      assert.deepEqual(found.get(id), session);
    } catch {
      return false;
    }
  }
  return true;
}

/** Whether the original could run on `dir`: it needs sessions/ and a stats.json it can read. */
function originalCanRun(dir: string): boolean {
  try {
    JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
    return readdirSync(join(dir, 'sessions')) !== undefined;
  } catch {
    return false;
  }
}

/** Checks one crash state; returns the violations found (none: it held). */
async function check(
  run: Recorded,
  point: number,
  model: CrashModel,
  seed: number,
  dir: string,
  steps: { repair: boolean; original: boolean },
): Promise<string[]> {
  const problems: string[] = [];
  const disk = new DiskModel(run.trace, point);
  disk.materialize(dir, model, seeded(seed));
  // The machine restarted: its boot id is not the one the view was written under.
  try {
    const marker = JSON.parse(readFileSync(join(dir, 'instance.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    if (typeof marker.view_boot_id === 'string') {
      writeFileSync(
        join(dir, 'instance.json'),
        JSON.stringify({ ...marker, view_boot_id: 'an-earlier-boot' }),
      );
    }
  } catch {
    // no marker (yet), or one the boot must cope with as it is
  }
  // The original runs on what the cut left, if it can read it, and creates a session.
  let byOriginal: string | null = null;
  if (steps.original && originalCanRun(dir)) {
    byOriginal = (await new OriginalWriter(dir).create('by-the-original', { after: 'a cut' })).id;
  }
  const before = await verifyDataDirectory(dir);
  for (const finding of before.findings) {
    if (finding.repair === undefined) problems.push(`verify before the boot: ${finding.problem}`);
  }

  const acked = acknowledgedAt(run.trace, point);
  const candidates = acked.started
    ? [run.expected[acked.operations], run.expected[acked.operations + 1]]
    : [run.expected[0]];
  // The machine comes back at the run's last time or later: what expired by
  // then is not served, whether the sweep removed it before the cut or not.
  const bootAt = run.lastTime + (seed % 2) * 30_000;
  const clock = () => bootAt;
  // Both may match (a create in flight of a session expired by then): the
  // session_created events below say which, exactly.
  const matching = (found: Map<string, Kept>) =>
    candidates.filter(
      (candidate): candidate is Expected =>
        candidate !== undefined && sameSessions(found, servedAt(candidate.sessions, bootAt)),
    );
  if (steps.repair) {
    // `inspect --repair` on a copy, then a start on it: the same sessions.
    const copy = `${dir}-repaired`;
    cpSync(dir, copy, { recursive: true });
    try {
      await repairDataDirectory(copy);
      const repaired = await boot(copy, 'cccccccc', undefined, clock);
      const found = served(repaired.store);
      if (matching(found).length === 0) {
        problems.push(`after inspect --repair: ${found.size} sessions, not what was acknowledged`);
      }
      await repaired.store.close();
    } catch (error) {
      problems.push(`inspect --repair, then a start: ${(error as Error).message}`);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }

  let opened: Awaited<ReturnType<typeof boot>>;
  try {
    opened = await boot(dir, 'bbbbbbbb', undefined, clock);
  } catch (error) {
    return [...problems, `the boot failed: ${(error as Error).message}`];
  }
  const { store, service, started } = opened;
  problems.push(...expiryAtBoot(store, dir));
  const found = served(store);
  let total = store.instance.stats().total_sessions;
  if (byOriginal !== null) {
    if (found.get(byOriginal)?.name !== 'by-the-original') {
      problems.push('the session the original created after the cut is not served');
    }
    found.delete(byOriginal);
    total--;
  }
  const matches = matching(found);
  if (matches.length === 0) {
    const want = candidates.map((candidate) => candidate?.sessions.size).join(' or ');
    problems.push(
      `sessions: ${found.size} found, not the ${want} acknowledged after ${acked.operations} operations`,
    );
  } else if (!matches.some((match) => match.total === total)) {
    problems.push(`total_sessions ${total}, expected ${matches.map((m) => m.total).join(' or ')}`);
  }
  const { startups, crashes } = run.firstBoot;
  // The cut instance was the first boot after the original; this one is the second.
  const startupsOk = acked.started
    ? started.startupCount === startups + 1
    : [startups, startups + 1].includes(started.startupCount);
  const crashOptions = acked.stopped
    ? [crashes]
    : acked.stopping || !acked.started
      ? [crashes, crashes + 1]
      : [crashes + 1];
  if (!startupsOk) problems.push(`startup_count ${started.startupCount} (first boot: ${startups})`);
  if (!crashOptions.includes(started.crashCount)) {
    problems.push(`crash_count ${started.crashCount}, expected ${crashOptions.join(' or ')}`);
  }
  // What a start after a power cut writes again in the background: done before the stop.
  await store.writeBehind.rebuilt();
  await service.stop('checked');
  await store.close();
  // The original's create logged its session_created too.
  const created = createdEvents(dir);
  const everCreated = total + (byOriginal === null ? 0 : 1);
  if (created - everCreated !== run.createdMinusTotal) {
    problems.push(`${created} session_created events for total_sessions ${everCreated}`);
  }
  const expired = expiredEvents(dir).length + logHead(dir).expired;
  if (expiredInStats(dir) !== expired) {
    problems.push(`expired_sessions ${expiredInStats(dir)} after the stop, ${expired} in the log`);
  }
  const after = await verifyDataDirectory(dir);
  for (const finding of after.findings) {
    if (finding.forReview !== true) problems.push(`verify after the boot: ${finding.problem}`);
  }
  return problems;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      states: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
    },
  });
  const states = Number(values.states);
  const seed = Number(values.seed);
  if (!Number.isInteger(states) || states < 1 || !Number.isInteger(seed)) {
    process.stderr.write('usage: powerloss [--states N] [--seed S]\n');
    return 2;
  }
  const started = performance.now();
  const counts = { states: 0, violations: 0, byModel: new Map<CrashModel, number>(), unsynced: 0 };
  const failures = join(process.cwd(), 'powerloss-failures');
  for (let run = 0; counts.states < states; run++) {
    const recorded = await record(seed + run);
    const points = recorded.trace.ops.length;
    const pick = seeded((seed + run) * 7919);
    const inRun = Math.min(STATES_PER_RUN, states - counts.states);
    for (let i = 0; i < inRun; i++) {
      const point = 1 + Math.floor(pick() * points);
      const model = MODELS[i % MODELS.length] as CrashModel;
      const stateSeed = Math.floor(pick() * 2 ** 31);
      const dir = mkdtempSync(join(tmpdir(), 'powerloss-state-'));
      if (new DiskModel(recorded.trace, point).hasUnsynced()) counts.unsynced++;
      // One state in five is also repaired offline first, on a copy; another
      // is changed by the original before the boot.
      const problems = await check(recorded, point, model, stateSeed, dir, {
        repair: i % 5 === 0,
        original: i % 5 === 1,
      });
      counts.states++;
      counts.byModel.set(model, (counts.byModel.get(model) ?? 0) + 1);
      if (problems.length > 0) {
        counts.violations++;
        const kept = join(failures, `seed${seed + run}-point${point}-${model}-${stateSeed}`);
        cpSync(dir, kept, { recursive: true });
        process.stdout.write(
          `VIOLATION run seed ${seed + run}, point ${point} of ${points}, model ${model}, state seed ${stateSeed} (kept in ${kept}):\n  ${problems.join('\n  ')}\n`,
        );
      }
      rmSync(dir, { recursive: true, force: true });
    }
    process.stdout.write(
      `powerloss: run ${run + 1} (seed ${seed + run}): ${points} recorded operations, ${counts.states} states so far\n`,
    );
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const models = [...counts.byModel].map(([model, n]) => `${model} ${n}`).join(', ');
  process.stdout.write(
    `powerloss: ${counts.states} crash states (${models}; ${counts.unsynced} with unsynced data at the cut), ${counts.violations} violations, ${seconds} s\n`,
  );
  return counts.violations === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`powerloss: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
