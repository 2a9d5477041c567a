/**
 * Crash torture (`npm run test:torture`): runs the real service, drives it
 * with concurrent clients doing a random mix of create / update / delete /
 * read, records every request and whether it was acknowledged, and kills the
 * process with SIGKILL at random moments (now and then a POST /crash instead),
 * restarting it each time. After every restart it checks the history against
 * what is on disk and what the service answers:
 *
 *   - every acknowledged create is there with its exact data, every
 *     acknowledged update is visible, every acknowledged delete stays deleted;
 *     unacknowledged operations are fully there or fully absent, never half;
 *   - `stateful inspect --verify` finds nothing wrong (every file parses, no
 *     temp files survive a boot, the event log parses line by line), and every
 *     acknowledged write has its event;
 *   - crash_count = kills + simulated crashes, startup_count = starts,
 *     total_sessions >= acknowledged creates.
 *
 * Flags: --kills N (default 100), --clients N (8), --seed N, --keep (keep the
 * data directory). A violation writes the whole history to
 * torture-failures/<time>.json, with the seed to run the same choices again.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

const { values: flags } = parseArgs({
  options: {
    kills: { type: 'string', default: '100' },
    clients: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    keep: { type: 'boolean', default: false },
  },
});
const KILLS = Number(flags.kills);
const CLIENTS = Number(flags.clients);
const SEED = Number(flags.seed);

/** mulberry32: a small seeded generator, so a run's choices can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);
const pick = <T>(items: T[]): T | undefined => items[Math.floor(random() * items.length)];

interface SessionBody {
  id: string;
  name: string;
  data: { token: string; pad: string };
  access_count: number;
}

interface Known {
  id: string;
  name: string;
  createToken: string;
  /** False for an unacknowledged create found on disk after a restart: it may lack its event. */
  createAcknowledged: boolean;
  /** Every update token sent, with the access_count its answer acknowledged (null: no answer). */
  updates: Map<string, number | null>;
  maxAckedCount: number;
  ackedUpdates: number;
  deleted: 'acknowledged' | 'maybe' | null;
}

interface HistoryEntry {
  cycle: number;
  op: string;
  id?: string;
  token?: string;
  status: number | 'no answer';
  access_count?: number;
}

const known = new Map<string, Known>();
const unackedCreates = new Map<string, { token: string; pad: string }>(); // by name
const history: HistoryEntry[] = [];
const violations: string[] = [];
let tokenSequence = 0;
let cycle = 0;
let operations = 0;
let acknowledged = 0;
let ackedCreates = 0;
let landedUnacknowledged = 0;

function violation(message: string): void {
  violations.push(`cycle ${cycle}: ${message}`);
}

function payload(): { token: string; pad: string } {
  return { token: `t${SEED}-${tokenSequence++}`, pad: 'x'.repeat(Math.floor(random() * 3000)) };
}

async function call(
  url: string,
  method: string,
  body?: unknown,
): Promise<{ status: number; json: unknown } | null> {
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

async function createOne(base: string): Promise<void> {
  const data = payload();
  const name = `n-${data.token}`;
  unackedCreates.set(name, data);
  const answer = await call(`${base}/sessions`, 'POST', { name, data });
  operations++;
  history.push({ cycle, op: 'create', token: data.token, status: answer?.status ?? 'no answer' });
  if (answer?.status !== 201) return;
  const session = answer.json as SessionBody;
  acknowledged++;
  ackedCreates++;
  unackedCreates.delete(name);
  history[history.length - 1] = { ...(history.at(-1) as HistoryEntry), id: session.id };
  if (session.name !== name || session.data.token !== data.token) {
    violation(`create answered with other data: ${JSON.stringify(session).slice(0, 200)}`);
  }
  known.set(session.id, {
    id: session.id,
    name,
    createToken: data.token,
    createAcknowledged: true,
    updates: new Map(),
    maxAckedCount: 0,
    ackedUpdates: 0,
    deleted: null,
  });
}

function livePick(): Known | undefined {
  return pick([...known.values()].filter((entry) => entry.deleted !== 'acknowledged'));
}

async function updateOne(base: string): Promise<void> {
  const target = livePick();
  if (target === undefined) return createOne(base);
  const data = payload();
  target.updates.set(data.token, null);
  const answer = await call(`${base}/sessions/${target.id}`, 'PUT', { data });
  operations++;
  history.push({
    cycle,
    op: 'update',
    id: target.id,
    token: data.token,
    status: answer?.status ?? 'no answer',
  });
  if (answer === null) return;
  if (answer.status === 404) {
    if (target.deleted === null) violation(`update of live session ${target.id} answered 404`);
    return;
  }
  if (answer.status !== 200) return violation(`update answered ${answer.status}`);
  const session = answer.json as SessionBody;
  acknowledged++;
  target.updates.set(data.token, session.access_count);
  target.ackedUpdates++;
  target.maxAckedCount = Math.max(target.maxAckedCount, session.access_count);
  (history.at(-1) as HistoryEntry).access_count = session.access_count;
}

async function deleteOne(base: string): Promise<void> {
  const target = livePick();
  if (target === undefined) return;
  const before = target.deleted;
  target.deleted = 'maybe';
  const answer = await call(`${base}/sessions/${target.id}`, 'DELETE');
  operations++;
  history.push({ cycle, op: 'delete', id: target.id, status: answer?.status ?? 'no answer' });
  if (answer === null) return;
  if (answer.status === 200) {
    acknowledged++;
    target.deleted = 'acknowledged';
  } else if (answer.status === 404) {
    if (before === null) violation(`delete of live session ${target.id} answered 404`);
  } else {
    violation(`delete answered ${answer.status}`);
  }
}

async function readOne(base: string): Promise<void> {
  const target = livePick();
  if (target === undefined) return;
  const floor = target.maxAckedCount;
  const answer = await call(`${base}/sessions/${target.id}`, 'GET');
  operations++;
  history.push({ cycle, op: 'read', id: target.id, status: answer?.status ?? 'no answer' });
  if (answer?.status === 200) {
    acknowledged++;
    const session = answer.json as SessionBody;
    if (session.access_count < floor) {
      violation(
        `read of ${target.id} saw access_count ${session.access_count} < acknowledged ${floor}`,
      );
    }
  } else if (answer?.status === 404 && target.deleted === null) {
    violation(`read of live session ${target.id} answered 404`);
  }
}

async function client(base: string, stop: { now: boolean }): Promise<void> {
  while (!stop.now) {
    const roll = random();
    if (roll < 0.35) await createOne(base);
    else if (roll < 0.7) await updateOne(base);
    else if (roll < 0.82) await deleteOne(base);
    else await readOne(base);
  }
}

interface Service {
  child: ChildProcess;
  url: string;
}

function startService(dataDir: string): Promise<Service> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no start within 20 s:\n${output}`)), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${match[1]}` });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with ${code} during start:\n${output}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

async function readEvents(dataDir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dataDir, 'events.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function checkAfterRestart(
  dataDir: string,
  base: string,
  expected: { kills: number; crashes: number; starts: number },
): Promise<void> {
  try {
    await run(process.execPath, [CLI, 'inspect', '--verify', '--data-dir', dataDir]);
  } catch (error) {
    violation(`inspect --verify failed: ${(error as { stdout?: string }).stdout ?? error}`);
  }

  const listed = await call(`${base}/sessions`, 'GET');
  if (listed?.status !== 200) return violation(`GET /sessions answered ${listed?.status}`);
  const onDisk = new Map(
    (listed.json as { sessions: SessionBody[] }).sessions.map((session) => [session.id, session]),
  );

  for (const entry of known.values()) {
    const session = onDisk.get(entry.id);
    if (session === undefined) {
      if (entry.deleted === null) violation(`acknowledged session ${entry.id} is gone`);
      if (entry.deleted !== null) known.delete(entry.id); // deleted for good: forget it
      continue;
    }
    if (entry.deleted === 'acknowledged') {
      violation(`acknowledged delete of ${entry.id} came undone`);
      continue;
    }
    entry.deleted = null; // an unacknowledged delete that did not happen
    if (session.name !== entry.name) violation(`${entry.id} has name ${session.name}`);
    if (session.access_count < entry.maxAckedCount) {
      violation(
        `${entry.id} lost updates: access_count ${session.access_count} < acknowledged ${entry.maxAckedCount}`,
      );
    }
    const token = session.data.token;
    if (token === entry.createToken) {
      if (session.access_count !== 0)
        violation(`${entry.id} has its create's data but access_count ${session.access_count}`);
    } else if (!entry.updates.has(token)) {
      violation(`${entry.id} holds data nobody wrote (token ${token})`);
    } else {
      const ackedCount = entry.updates.get(token);
      if (ackedCount !== null && ackedCount !== undefined && ackedCount !== session.access_count) {
        violation(
          `${entry.id} holds update ${token} with access_count ${session.access_count}, acknowledged as ${ackedCount}`,
        );
      }
    }
    // Learn the unacknowledged updates that did land, so later checks start from here.
    entry.maxAckedCount = Math.max(entry.maxAckedCount, session.access_count);
  }

  for (const session of onDisk.values()) {
    if (known.has(session.id)) continue;
    const sent = unackedCreates.get(session.name);
    if (sent === undefined) {
      violation(`session ${session.id} (${session.name}) was never created by a client`);
      continue;
    }
    if (
      session.data.token !== sent.token ||
      session.data.pad !== sent.pad ||
      session.access_count !== 0
    ) {
      violation(`unacknowledged create ${session.name} is only half there`);
    }
    landedUnacknowledged++;
    known.set(session.id, {
      id: session.id,
      name: session.name,
      createToken: sent.token,
      createAcknowledged: false,
      updates: new Map(),
      maxAckedCount: 0,
      ackedUpdates: 0,
      deleted: null,
    });
  }
  unackedCreates.clear(); // after a restart an unacknowledged create is either on disk or never will be

  const events = await readEvents(dataDir);
  const created = new Set<unknown>();
  const deleted = new Set<unknown>();
  const updated = new Map<unknown, number>();
  for (const event of events) {
    if (event.event === 'session_created') created.add(event.session_id);
    if (event.event === 'session_deleted') deleted.add(event.session_id);
    if (event.event === 'session_updated') {
      updated.set(event.session_id, (updated.get(event.session_id) ?? 0) + 1);
    }
  }
  for (const entry of known.values()) {
    if (entry.createAcknowledged && !created.has(entry.id)) {
      violation(`no session_created event for acknowledged create ${entry.id}`);
    }
    if ((updated.get(entry.id) ?? 0) < entry.ackedUpdates) {
      violation(`${entry.id}: ${entry.ackedUpdates} acknowledged updates, fewer events`);
    }
    if (entry.deleted === 'acknowledged' && !deleted.has(entry.id)) {
      violation(`no session_deleted event for ${entry.id}`);
    }
  }

  const state = await call(`${base}/state`, 'GET');
  const counters = state?.json as {
    crash_count: number;
    startup_count: number;
    total_sessions: number;
  };
  if (counters.crash_count !== expected.kills + expected.crashes) {
    violation(
      `crash_count ${counters.crash_count} != ${expected.kills} kills + ${expected.crashes} crashes`,
    );
  }
  if (counters.startup_count !== expected.starts) {
    violation(`startup_count ${counters.startup_count} != ${expected.starts} starts`);
  }
  if (counters.total_sessions < ackedCreates) {
    violation(`total_sessions ${counters.total_sessions} < ${ackedCreates} acknowledged creates`);
  }
}

async function main(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'stateful-torture-'));
  const started = Date.now();
  let kills = 0;
  let crashes = 0;
  let starts = 0;
  try {
    while (kills < KILLS) {
      cycle++;
      const service = await startService(dataDir);
      starts++;
      await checkAfterRestart(dataDir, service.url, { kills, crashes, starts });
      if (violations.length > 0) {
        service.child.kill('SIGKILL');
        await exited(service.child);
        break;
      }

      const stop = { now: false };
      const clients = Array.from({ length: CLIENTS }, () => client(service.url, stop));
      await new Promise((resolve) => setTimeout(resolve, 20 + random() * 300));
      if (random() < 0.9) {
        service.child.kill('SIGKILL');
        kills++;
      } else {
        const answer = await call(`${service.url}/crash`, 'POST');
        if (answer?.status === 202) crashes++;
        else violation(`POST /crash answered ${answer?.status ?? 'nothing'}`);
      }
      await exited(service.child);
      stop.now = true;
      await Promise.all(clients);
    }
    // A last start to check what the last death left.
    if (violations.length > 0) return 1;
    cycle++;
    const last = await startService(dataDir);
    starts++;
    await checkAfterRestart(dataDir, last.url, { kills, crashes, starts });
    last.child.kill('SIGTERM');
    await exited(last.child);
  } finally {
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    console.log(
      `torture: kills=${kills} crashes=${crashes} starts=${starts} operations=${operations} ` +
        `acknowledged=${acknowledged} unacknowledged_landed=${landedUnacknowledged} ` +
        `sessions_tracked=${known.size} violations=${violations.length} ` +
        `seed=${SEED} seconds=${seconds}`,
    );
    if (violations.length > 0) {
      const dir = join(process.cwd(), 'torture-failures');
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      await writeFile(
        file,
        JSON.stringify(
          { seed: SEED, clients: CLIENTS, kills: KILLS, violations, history, dataDir },
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
  return violations.length === 0 ? 0 : 1;
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
