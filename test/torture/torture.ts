/**
 * Crash torture (`npm run test:torture`): runs the real service, drives it
 * with concurrent clients doing a random mix of create (a quarter of them
 * expiring in a few seconds) / update (PUT or PATCH) / empty PATCH / delete
 * / read, records every request and whether it
 * was acknowledged, and kills the process with SIGKILL at random moments (now
 * and then a POST /crash instead), restarting it each time; snapshots are
 * written often, and now and then the snapshot is removed before a start, so
 * kills land in snapshot writes and in the takeover that follows. Now and then the directory is shared: after
 * a clean stop, or a kill, a writer with the original implementation's exact
 * bytes (test/helpers/original-writer.ts) creates, updates and deletes
 * sessions before the next start, as an acknowledged client whose changes
 * the start must adopt. After every restart `stateful inspect --verify`
 * must find nothing wrong (every file parses, no temp files survive a boot,
 * the event log parses line by line), and the model (checker.ts, which has
 * tests of its own) checks the history against what the service answers and
 * what the log holds.
 *
 * Flags: --kills N (default 100), --clients N (8), --seed N, --keep (keep the
 * data directory). A violation writes the whole history to
 * torture-failures/<time>.json, with the seed to run the same choices again.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type RunningProcess, runToEnd, spawnService } from '../../tools/service-process.js';
import { OriginalWriter } from '../helpers/original-writer.js';
import { seeded } from '../helpers/seeded.js';
import { type Answer, type SessionBody, TortureModel } from './checker.js';

const { values: flags } = parseArgs({
  options: {
    kills: { type: 'string', default: '100' },
    clients: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    keep: { type: 'boolean', default: false },
  },
});
const KILLS = Number(flags.kills);
/** Snapshots every 64 KiB of journal (64 MiB by default): about one a cycle, for the kills to land in. */
const SERVICE_ENV = { SNAPSHOT_JOURNAL_KB: '64' };
const CLIENTS = Number(flags.clients);
const SEED = Number(flags.seed);

const random = seeded(SEED);
const model = new TortureModel();
let tokenSequence = 0;
/** session_expired events in the log at the last restart: that expiry did happen. */
let expiredInLog = 0;

function payload(): { token: string; pad: string } {
  return { token: `t${SEED}-${tokenSequence++}`, pad: 'x'.repeat(Math.floor(random() * 3000)) };
}

async function call(url: string, method: string, body?: unknown): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? null : JSON.parse(text) };
  } catch {
    return null; // the service died under the request: not acknowledged
  }
}

/**
 * The expiry a create asks for: a quarter of the sessions a few seconds of
 * lifetime or idle time, so sessions expire, and are swept, across the kills.
 */
function expiryAsked(): { ttl_seconds?: number; idle_seconds?: number } {
  const roll = random();
  const seconds = 2 + Math.floor(random() * 4);
  if (roll < 0.125) return { ttl_seconds: seconds };
  if (roll < 0.25) return { idle_seconds: seconds };
  return {};
}

async function createOne(base: string): Promise<void> {
  const data = payload();
  const name = model.createSent(data);
  const body = { name, data, ...expiryAsked() };
  model.createAnswered(name, data, await call(`${base}/sessions`, 'POST', body));
}

async function updateOne(base: string): Promise<void> {
  const target = model.livePick(random);
  if (target === undefined) return createOne(base);
  const data = payload();
  model.updateSent(target, data.token);
  // A PUT journals the whole session; a PATCH of the token only what it changed.
  const answer =
    random() < 0.5
      ? await call(`${base}/sessions/${target.id}`, 'PUT', { data })
      : await call(`${base}/sessions/${target.id}`, 'PATCH', { data: { token: data.token } });
  model.updateAnswered(target, data.token, answer);
}

/** An empty PATCH: journaled as the access it counts, on top of the session as it was. */
async function touchOne(base: string): Promise<void> {
  const target = model.livePick(random);
  if (target === undefined) return;
  model.touchSent(target);
  model.touchAnswered(target, await call(`${base}/sessions/${target.id}`, 'PATCH', {}));
}

async function deleteOne(base: string): Promise<void> {
  const target = model.livePick(random);
  if (target === undefined) return;
  const sent = model.deleteSent(target);
  model.deleteAnswered(target, sent, await call(`${base}/sessions/${target.id}`, 'DELETE'));
}

async function readOne(base: string): Promise<void> {
  const target = model.livePick(random);
  if (target === undefined) return;
  const floor = target.maxAckedCount;
  model.readAnswered(target, floor, await call(`${base}/sessions/${target.id}`, 'GET'));
}

async function client(base: string, stop: { now: boolean }): Promise<void> {
  while (!stop.now) {
    const roll = random();
    if (roll < 0.35) await createOne(base);
    else if (roll < 0.6) await updateOne(base);
    else if (roll < 0.7) await touchOne(base);
    else if (roll < 0.82) await deleteOne(base);
    else await readOne(base);
  }
}

/**
 * The original implementation changes the stopped service's directory, as a
 * client whose every change is acknowledged. After a kill the files may lag
 * behind the journal, so it only creates (its reads of our files would see
 * them behind, and stats.json's counters too, so it does not count a start).
 */
async function originalChanges(dataDir: string, afterCleanStop: boolean): Promise<number> {
  const original = new OriginalWriter(dataDir);
  if (afterCleanStop) await original.startup();
  for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
    const data = payload();
    const name = model.createSent(data);
    const session = await original.create(name, data);
    model.createAnswered(name, data, { status: 201, json: session });
  }
  if (!afterCleanStop) return 0;
  // Not an expiring session: the original knows nothing of expiry, and the
  // sweep may have removed it unseen (its file gone before the original looks).
  const updated = model.livePick(random);
  if (updated !== undefined && updated.deleted === null && updated.expiresAt === null) {
    const data = payload();
    model.updateSent(updated, data.token);
    const session = await original.update(updated.id, { data });
    model.updateAnswered(updated, data.token, { status: 200, json: session });
  }
  const deleted = model.livePick(random);
  if (deleted !== undefined && deleted.deleted === null && deleted.expiresAt === null) {
    const sent = model.deleteSent(deleted);
    await original.delete(deleted.id);
    model.deleteAnswered(deleted, sent, { status: 200, json: null });
  }
  return 1;
}

async function readEvents(dataDir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dataDir, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** What a restart shows, handed to the model to check. */
async function checkAfterRestart(
  dataDir: string,
  base: string,
  expected: { kills: number; crashes: number; starts: number },
): Promise<void> {
  const verify = await runToEnd(['inspect', '--verify', '--data-dir', dataDir], {});
  // The log before the listing too: the started service sweeps meanwhile, and
  // a session listed a moment before its session_expired is logged is no
  // resurrection. Every session_expired read here came before the listing.
  const eventsBeforeListing = await readEvents(dataDir);
  const listed = await call(`${base}/sessions`, 'GET');
  const state = await call(`${base}/state`, 'GET');
  if (listed?.status !== 200 || state?.status !== 200) {
    return model.violation(
      `after a restart: GET /sessions ${listed?.status}, GET /state ${state?.status}`,
    );
  }
  const events = await readEvents(dataDir);
  expiredInLog = events.filter((event) => event.event === 'session_expired').length;
  model.checkAfterRestart({
    sessions: (listed.json as { sessions: SessionBody[] }).sessions,
    events,
    eventsBeforeListing,
    counters: state.json as { crash_count: number; startup_count: number; total_sessions: number },
    verifyFailure: verify.code === 0 ? null : verify.stdout || verify.stderr,
    expected,
  });
}

async function stopped(service: RunningProcess, signal: NodeJS.Signals): Promise<void> {
  service.kill(signal);
  await service.exited;
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'stateful-torture-'));
  const started = Date.now();
  let kills = 0;
  let crashes = 0;
  let starts = 0;
  try {
    while (kills < KILLS) {
      model.cycle++;
      // Now and then a directory without a snapshot: the boot reads every
      // session file (a takeover), then writes a snapshot the kills can cut.
      if (random() < 0.1) await rm(join(dataDir, 'snapshot.jsonl'), { force: true });
      const service = await spawnService(dataDir, SERVICE_ENV);
      starts++;
      await checkAfterRestart(dataDir, service.url, { kills, crashes, starts });
      if (model.violations.length > 0) {
        await stopped(service.process, 'SIGKILL');
        break;
      }

      const stop = { now: false };
      const clients = Array.from({ length: CLIENTS }, () => client(service.url, stop));
      await new Promise((resolve) => setTimeout(resolve, 20 + random() * 300));
      const ending = random();
      if (ending < 0.1) {
        // A clean stop: the clients' requests end first, then the original runs.
        stop.now = true;
        service.process.kill('SIGTERM');
        await Promise.all(clients);
        await service.process.exited;
        starts += await originalChanges(dataDir, true);
        continue;
      }
      if (ending < 0.9) {
        service.process.kill('SIGKILL');
        kills++;
      } else {
        const answer = await call(`${service.url}/crash`, 'POST');
        if (answer?.status === 202) crashes++;
        else model.violation(`POST /crash answered ${answer?.status ?? 'nothing'}`);
      }
      await service.process.exited;
      stop.now = true;
      await Promise.all(clients);
      if (random() < 0.1) await originalChanges(dataDir, false);
    }
    // A last start to check what the last death left.
    if (model.violations.length > 0) return 1;
    model.cycle++;
    const last = await spawnService(dataDir, SERVICE_ENV);
    starts++;
    await checkAfterRestart(dataDir, last.url, { kills, crashes, starts });
    await stopped(last.process, 'SIGTERM');
  } finally {
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const { violations } = model;
    console.log(
      `torture: kills=${kills} crashes=${crashes} starts=${starts} operations=${model.operations} ` +
        `acknowledged=${model.acknowledged} unacknowledged_landed=${model.landedUnacknowledged} ` +
        `sessions_tracked=${model.known.size} expired_in_log=${expiredInLog} violations=${violations.length} ` +
        `seed=${SEED} seconds=${seconds}`,
    );
    if (violations.length > 0) {
      const dir = join(process.cwd(), 'torture-failures');
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      await writeFile(
        file,
        JSON.stringify(
          {
            seed: SEED,
            clients: CLIENTS,
            kills: KILLS,
            violations,
            history: model.history,
            dataDir,
          },
          null,
          1,
        ),
      );
      for (const message of violations.slice(0, 20)) console.error(`VIOLATION ${message}`);
      console.error(`history written to ${file}; data directory kept at ${dataDir}`);
    } else if (!flags.keep) {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return model.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
