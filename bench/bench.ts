/**
 * `npm run bench`: the service against the ceiling of this machine, in one run.
 *
 * Starts a plain node:http server that answers a constant small JSON body (the
 * most any Node server can do here) and the built service on fresh temp data
 * directories, then drives each workload with autocannon at N connections for
 * D seconds, each right after a fresh measurement of the ceiling (this machine
 * is shared, and its speed drifts within minutes). Writes are durable as in
 * production (fsync and all). Prints one table (requests/s, p50, p99, errors,
 * the ceiling beside it and the ratio to it) and writes it as
 * JSON to bench-results/. Non-2xx answers count as errors, and a run with
 * errors says so loudly. The load generator runs in this process and shares
 * the machine's cores with the server: the ratios, not the absolute figures,
 * are what carries over to another machine.
 *
 * Each workload runs in --rounds N (3) rounds of --duration S (3) seconds, each
 * round right after S seconds of the ceiling; the table shows the round with
 * the median ratio.
 *
 * Flags: --duration S (3), --rounds N (3), --connections N (16), --quick (skip the 10,000-session,
 * 1,000,000-event, boot, peers' and PostgreSQL workloads; --peers and --postgres keep those),
 * --only TEXT (run only the workloads whose name contains TEXT, e.g. "PostgreSQL"), --out FILE,
 * --pin (each server on CPU 1, the load generator on CPU 0, with taskset: the server's CPU
 * alone is what it has, as for a container given one core).
 *
 * The peers (peers.ts): the same workloads against what a user would build
 * instead, Fastify + node:sqlite and Fastify + Redis (`redis-server`, started
 * by the bench; skipped where it is absent), set side by side in a second table.
 *
 * --scale runs the file store at scale instead (scale.ts: takeover, pages,
 * restart at 1,000,000 sessions and 10,000,000 events, and 60 s of sustained
 * writes; about five minutes here, most of it writing the data); --scale-sessions N
 * and --scale-events N change the size. Both end with a start after `kill -9`
 * right after a write burst, beside a clean restart (kill-restart.ts; 100,000
 * sessions without --scale; alone: --only "start after a kill"), then the starts
 * after another program changed the stopped directory (shared-directory.ts).
 *
 * --profile runs only a CPU profile of GET /health and GET /sessions/:id (profile.ts:
 * --profile-seconds S, 10): the µs of CPU a request spends in each hook, the framework,
 * Node's HTTP and the socket write.
 * --disk runs only the data directory's size under writes at full speed with
 * expiry and retention set (disk.ts: --disk-seconds S, 300).
 * --sweep runs only the expiry sweep at scale (sweep.ts: --sweep-sessions N,
 * 1,000,000; a tenth expiring over a minute; --sweep-rate R GETs a second,
 * 2,000): the event-loop delay and request p99 during the sweep against a
 * baseline in the same run, and the restart with the expiring sessions in it.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { postgresBinaries, startPostgres } from '../tools/postgres.js';
import { runNode, type StartedService, spawnService } from '../tools/service-process.js';
import { writeDataset } from './datasets.js';
import { diskBench, diskLines } from './disk.js';
import { type KillRestartResult, killRestartBench, killRestartLine } from './kill-restart.js';
import { comparisonLines, peerWorkloads } from './peers.js';
import { profileBench, profileLines } from './profile.js';
import { createSessions, putSpreadOver, residentMiB } from './requests.js';
import { type ScaleResult, scaleBench } from './scale.js';
import {
  type SharedDirectoryResult,
  sharedDirectoryBench,
  sharedDirectoryLine,
} from './shared-directory.js';
import { sweepBench, sweepLines } from './sweep.js';

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    quick: { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'boolean', default: false },
    'scale-sessions': { type: 'string', default: '1000000' },
    'scale-events': { type: 'string', default: '10000000' },
    sweep: { type: 'boolean', default: false },
    disk: { type: 'boolean', default: false },
    peers: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-seconds': { type: 'string', default: '10' },
    pin: { type: 'boolean', default: false },
    'disk-seconds': { type: 'string', default: '300' },
    'sweep-sessions': { type: 'string', default: '1000000' },
    'sweep-rate': { type: 'string', default: '2000' },
  },
});
const DURATION = Number(flags.duration);
const ROUNDS = Number(flags.rounds);
const CEILING_SECONDS = DURATION;
const get = (path: string): Request => ({ method: 'GET', path });
const CONNECTIONS = Number(flags.connections);

interface Row {
  workload: string;
  requestsPerSecond: number;
  /** The median of the ceilings measured right before each round. */
  ceiling: number | null;
  p50: number;
  p99: number;
  errors: number;
  ratio: number | null;
  /**
   * CPU time (user + system) the service processes spent per request, in
   * microseconds: the median over the rounds. Unlike requests/s it hardly
   * moves when other work shares the machine, so it is the figure to compare
   * two versions by.
   */
  cpuMicrosPerRequest: number | null;
  note?: string;
}

const rows: Row[] = [];
/** The process ids of the server behind each URL (a peer's database too), to read their CPU time. */
const servicePids = new Map<string, number[]>();
const temps: string[] = [];
/** The plain node:http server, kept running so each workload is measured next to it. */
let ceilingUrl: string | null = null;
const ceilings: number[] = [];

/** Requests/s of the plain server, measured now for `seconds`. */
async function measureCeiling(seconds: number): Promise<number> {
  if (ceilingUrl === null) throw new Error('the ceiling server is not running');
  const result = await autocannon({
    url: ceilingUrl,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [get('/')],
  });
  if (result.errors + result.timeouts + result.non2xx > 0) throw new Error('the ceiling failed');
  const perSecond = result.requests.total / result.duration;
  ceilings.push(perSecond);
  return perSecond;
}

/** The service as the bench runs it: no /crash, info logs. */
async function startBenchService(dataDir: string, env: Record<string, string> = {}) {
  const service = await spawnService(dataDir, { CRASH_ENDPOINT: 'off', ...env });
  if (service.process.child.pid !== undefined) {
    serverStarted(service.url, [service.process.child.pid]);
  }
  return service;
}

/** With --pin, the servers run on CPU 1 and this process (the load) on CPU 0. */
function pinTo(cpu: number, pid: number): void {
  if (!flags.pin) return;
  const pinned = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], {
    stdio: 'ignore',
  });
  if (pinned.status !== 0) throw new Error(`taskset could not pin ${pid} to CPU ${cpu}`);
}

/** Notes the processes of the server behind `url`: their CPU time is counted, --pin pins them. */
function serverStarted(url: string, pids: number[]): void {
  servicePids.set(url, pids);
  for (const pid of pids) pinTo(1, pid);
}

/** CPU time a process has used, in microseconds (/proc/<pid>/stat: utime + stime, in 1/100 s). */
async function cpuMicros(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The CPU time of the services behind `urls`, added up (null when one is not ours). */
async function servicesCpu(urls: string[]): Promise<number | null> {
  let total = 0;
  for (const url of urls) {
    const pids = servicePids.get(url);
    if (pids === undefined) return null;
    for (const pid of pids) total += await cpuMicros(pid);
  }
  return total;
}

function postSession(onResponse?: Request['onResponse']): Request {
  return {
    method: 'POST',
    path: '/sessions',
    headers: { 'content-type': 'application/json' },
    body: '{"name":"bench","data":{"note":"created by the benchmark"}}',
    ...(onResponse === undefined ? {} : { onResponse }),
  };
}

/**
 * The PostgreSQL store with 1 and 3 replicas on a throwaway cluster (the one
 * the tests use), load spread evenly over the replicas. Skipped, with a note,
 * where PostgreSQL's server binaries are missing.
 */
async function postgresWorkloads(): Promise<void> {
  if (postgresBinaries() === null) {
    process.stderr.write('  PostgreSQL: no server binaries here, its rows are skipped\n');
    return;
  }
  const server = await startPostgres();
  try {
    for (const count of [1, 3]) {
      const env = { STORE: 'postgres', DATABASE_URL: await server.createDatabase() };
      const replicas: StartedService[] = [];
      for (let i = 0; i < count; i++) replicas.push(await startBenchService(await tempDir(), env));
      const urls = replicas.map((replica) => replica.url);
      const seeded = await createSessions(urls[0] as string, 1000);
      const label = `PostgreSQL, ${count} ${count === 1 ? 'replica' : 'replicas'}`;
      await load(`GET /sessions/:id (${label})`, urls, [get(`/sessions/${seeded[0]}`)]);
      await load(`PUT /sessions/:id (1,000 sessions, ${label})`, urls, [putSpreadOver(seeded)]);
      await load(`POST /sessions (${label})`, urls, [postSession()]);
      for (const replica of replicas) await replica.process.stop();
    }
  } finally {
    server.stop();
  }
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stateful-bench-'));
  temps.push(dir);
  return dir;
}

type Request = autocannon.Request;

interface Round {
  perSecond: number;
  ceiling: number;
  p50: number;
  p99: number;
  errors: number;
  total: number;
  seconds: number;
  cpuMicrosPerRequest: number | null;
}

/** One round: the ceiling for CEILING_SECONDS, then the workload. */
/** One round against one URL, or spread evenly over several (replicas). */
async function round(
  target: string | string[],
  requests: Request[],
  amount?: number,
): Promise<Round> {
  const urls = Array.isArray(target) ? target : [target];
  const ceiling = await measureCeiling(CEILING_SECONDS);
  const cpuBefore = await servicesCpu(urls);
  // autocannon notices a finished `amount` only on its one-second tick, so
  // such runs are timed here, from the start to the last answer.
  const started = performance.now();
  let lastAnswer = started;
  const timed = requests.map(
    (request): Request => ({
      ...request,
      onResponse: (status, body, context, headers) => {
        lastAnswer = performance.now();
        if (typeof request.onResponse === 'function') {
          request.onResponse(status, body, context, headers);
        }
      },
    }),
  );
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url,
        connections: Math.max(1, Math.round(CONNECTIONS / urls.length)),
        ...(amount === undefined
          ? { duration: DURATION }
          : { amount: Math.ceil(amount / urls.length) }),
        requests: timed,
      }),
    ),
  );
  const total = results.reduce((sum, result) => sum + result.requests.total, 0);
  const cpuAfter = await servicesCpu(urls);
  const seconds =
    amount === undefined
      ? Math.max(...results.map((result) => result.duration))
      : (lastAnswer - started) / 1000;
  return {
    perSecond: total / seconds,
    ceiling,
    p50: Math.max(...results.map((result) => result.latency.p50)),
    p99: Math.max(...results.map((result) => result.latency.p99)),
    errors: results.reduce(
      (sum, result) => sum + result.errors + result.timeouts + result.non2xx,
      0,
    ),
    total,
    seconds,
    cpuMicrosPerRequest:
      cpuBefore === null || cpuAfter === null || total === 0
        ? null
        : (cpuAfter - cpuBefore) / total,
  };
}

/**
 * Runs a workload ROUNDS times, each round right after its own ceiling (the
 * machine is shared and its speed drifts within minutes), and reports the
 * round with the median ratio. `amounts` gives a fixed number of requests a round instead of a
 * duration (for requests that use something up, like deletes).
 */
async function load(
  workload: string,
  url: string | string[],
  requests: Request[],
  options: { amounts?: number[]; note?: string } = {},
): Promise<void> {
  if (flags.scale || (flags.only !== undefined && !workload.includes(flags.only))) return;
  const rounds: Round[] = [];
  for (const amount of options.amounts ?? Array.from({ length: ROUNDS }, () => undefined)) {
    rounds.push(await round(url, requests, amount));
  }
  const errors = rounds.reduce((sum, each) => sum + each.errors, 0);
  // The round with the median ratio speaks for the workload, all its figures together.
  const byRatio = [...rounds].sort((x, y) => x.perSecond / x.ceiling - y.perSecond / y.ceiling);
  const middle = byRatio[Math.floor((byRatio.length - 1) / 2)] as Round;
  const row: Row = {
    workload,
    requestsPerSecond: Math.round(middle.perSecond),
    p50: middle.p50,
    p99: middle.p99,
    errors,
    ceiling: Math.round(middle.ceiling),
    ratio: middle.perSecond / middle.ceiling,
    cpuMicrosPerRequest: medianCpu(rounds),
    ...(options.note === undefined ? {} : { note: options.note }),
  };
  rows.push(row);
  const perRound = rounds
    .map((each) => `${Math.round(each.perSecond)}/${Math.round(each.ceiling)}`)
    .join(', ');
  process.stderr.write(
    `  ${workload}: ${row.requestsPerSecond} req/s, ratio ${row.ratio?.toFixed(2)} (rounds, req/s / ceiling: ${perRound})${errors > 0 ? `, ${errors} ERRORS` : ''}\n`,
  );
}

function medianCpu(rounds: Round[]): number | null {
  const values = rounds
    .map((each) => each.cpuMicrosPerRequest)
    .filter((value): value is number => value !== null)
    .sort((a, b) => a - b);
  const middle = values[Math.floor((values.length - 1) / 2)];
  return middle === undefined ? null : Math.round(middle);
}

function machineLine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** A run of one kind alone: its figures, with the machine, to --out or bench-results/<kind>-<time>.json. */
async function writeResult(kind: string, figures: Record<string, unknown>): Promise<void> {
  const out =
    flags.out ??
    join('bench-results', `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify({ machine: machineLine(), ...figures }, null, 2));
  process.stderr.write(`written to ${out}\n`);
}

/** --sweep: the sweep at scale alone (sweep.ts), its lines printed and its figures written. */
async function sweepOnly(): Promise<void> {
  const sweep = await sweepBench({
    dir: () => tempDir(),
    sessions: Number(flags['sweep-sessions']),
    rate: Number(flags['sweep-rate']),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${sweepLines(sweep).join('\n')}\n`);
  await writeResult('sweep', { sweep });
  if (sweep.baseline.errors + sweep.sweep.errors > 0) process.exitCode = 1;
}

/** --disk: the directory's size under writes at full speed with expiry and retention (disk.ts). */
async function diskOnly(): Promise<void> {
  const disk = await diskBench({
    dir: await tempDir(),
    seconds: Number(flags['disk-seconds']),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${diskLines(disk).join('\n')}\n`);
  await writeResult('disk', { disk });
  if (disk.errors > 0 || disk.largest > disk.bound) process.exitCode = 1;
}

/** --profile: where a small request's CPU time goes (profile.ts). */
async function profileOnly(): Promise<void> {
  const results = await profileBench({ dir: tempDir, seconds: Number(flags['profile-seconds']) });
  process.stdout.write(`${profileLines(results).join('\n')}\n`);
  await writeResult('profile', { results });
}

async function main(): Promise<void> {
  if (flags.sweep) return sweepOnly();
  if (flags.disk) return diskOnly();
  if (flags.profile) return profileOnly();
  process.stderr.write(
    `bench: ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION} s a workload${flags.pin ? '; servers on CPU 1, the load on CPU 0' : ''}\n`,
  );
  if (flags.pin && cpus().length < 2) throw new Error('--pin needs two CPUs');
  pinTo(0, process.pid);

  // The ceiling: a plain node:http server with a constant body.
  const plain = runNode(
    [
      '-e',
      `const s=require('node:http').createServer((q,r)=>{r.writeHead(200,{'content-type':'application/json'});r.end('{"status":"ok"}')});s.listen(0,'127.0.0.1',()=>console.log(JSON.stringify({msg:'listening',port:s.address().port})))`,
    ],
    {},
  );
  ceilingUrl = (await plain.listening()).url;
  pinTo(1, plain.child.pid ?? 0);

  // Small requests on a fresh directory.
  const service = await startBenchService(await tempDir());
  const seeded = await createSessions(service.url, 1000);
  const one = seeded[0] as string;
  await load('GET /health', service.url, [get('/health')]);
  await load('GET /state', service.url, [get('/state')]);
  await load('GET /sessions/:id', service.url, [get(`/sessions/${one}`)]);
  await load('PUT /sessions/:id (1,000 sessions)', service.url, [putSpreadOver(seeded)]);
  await load('PUT /sessions/:id (all on one)', service.url, [
    {
      method: 'PUT',
      path: `/sessions/${one}`,
      headers: { 'content-type': 'application/json' },
      body: '{"data":{"step":2}}',
    },
  ]);
  const created: string[] = [];
  await load('POST /sessions', service.url, [
    postSession((status, body) => {
      if (status === 201) created.push((JSON.parse(body) as { id: string }).id);
    }),
  ]);
  let next = 0;
  await load(
    'DELETE /sessions/:id',
    service.url,
    [
      {
        method: 'DELETE',
        setupRequest: (request) => ({ ...request, path: `/sessions/${created[next++]}` }),
      },
    ],
    {
      amounts: Array.from({ length: ROUNDS }, (_, i) =>
        i < ROUNDS - 1
          ? Math.floor(created.length / ROUNDS)
          : created.length - (ROUNDS - 1) * Math.floor(created.length / ROUNDS),
      ),
      note: `all ${created.length} sessions the POST rounds created`,
    },
  );
  await service.process.stop();

  // Listing sessions, and tailing the event log, against data written to disk.
  const listings = flags.quick ? [1_000] : [1_000, 10_000];
  for (const sessions of listings) {
    const dir = await tempDir();
    await writeDataset(dir, sessions, 0);
    const server = await startBenchService(dir);
    await load(`GET /sessions (${sessions.toLocaleString('en')} sessions)`, server.url, [
      get('/sessions'),
    ]);
    // A page from the far end, and one in the middle (seeking costs no more than the page).
    let middle = '';
    const step = Math.min(1000, sessions / 2);
    for (let seen = 0; seen < sessions / 2; seen += step) {
      const url = `${server.url}/sessions?limit=${step}${middle === '' ? '' : `&after=${middle}`}`;
      middle = ((await (await fetch(url)).json()) as { next: string }).next;
    }
    await load(
      `GET /sessions?limit=100&order=newest (${sessions.toLocaleString('en')} sessions)`,
      server.url,
      [get('/sessions?limit=100&order=newest')],
    );
    await load(
      `GET /sessions?limit=100 from the middle (${sessions.toLocaleString('en')} sessions)`,
      server.url,
      [get(`/sessions?limit=100&after=${middle}`)],
    );
    await server.process.stop();
  }
  const logs = flags.quick ? [20_000] : [20_000, 1_000_000];
  for (const events of logs) {
    const dir = await tempDir();
    await writeDataset(dir, 10, events);
    const server = await startBenchService(dir);
    await load(`GET /events?limit=50 (${events.toLocaleString('en')} events)`, server.url, [
      get('/events?limit=50'),
    ]);
    await load(
      `GET /events?limit=50&before=<the middle> (${events.toLocaleString('en')} events)`,
      server.url,
      [get(`/events?limit=50&before=${events / 2}`)],
    );
    await server.process.stop();
  }

  let scale: ScaleResult | null = null;
  if (flags.scale) {
    scale = await scaleBench({
      dir: () => tempDir(),
      sessions: Number(flags['scale-sessions']),
      events: Number(flags['scale-events']),
      measureCeiling,
      connections: CONNECTIONS,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  }

  // The peers a user would build instead, on the same workloads (peers.ts).
  if (!flags.scale && (!flags.quick || flags.peers)) {
    await peerWorkloads({
      load: (workload, url, requests) => load(workload, url, requests),
      tempDir,
      started: serverStarted,
      log: (line) => process.stderr.write(`${line}\n`),
    });
  }

  // The PostgreSQL store: the same small workloads with 1 and 3 replicas.
  if (!flags.scale && (!flags.quick || flags.postgres)) await postgresWorkloads();

  let boot: { sessions: number; events: number; seconds: number; residentMiB: number } | null =
    null;
  let kill: KillRestartResult | null = null;
  let shared: SharedDirectoryResult | null = null;
  const killOnly =
    flags.only !== undefined &&
    ('start after a kill'.includes(flags.only) || 'shared directory'.includes(flags.only));
  if ((!flags.quick && !flags.scale) || killOnly) {
    const dir = await tempDir();
    process.stderr.write('  writing 100,000 sessions and 1,000,000 events for the boot test…\n');
    const ids = await writeDataset(dir, 100_000, 1_000_000);
    const server = await startBenchService(dir);
    boot = {
      sessions: 100_000,
      events: 1_000_000,
      seconds: Math.round(server.bootMs) / 1000,
      residentMiB: await residentMiB(server.process.child.pid ?? 0),
    };
    process.stderr.write(`  boot: ${boot.seconds} s, ${boot.residentMiB} MiB resident\n`);
    kill = await killRestartBench(server, dir, ids, {
      connections: CONNECTIONS,
      maxBurstSeconds: 60,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    shared = await sharedDirectoryBench(dir, ids, (line) => process.stderr.write(`${line}\n`));
  }

  // A clean stop right after a burst of creates at full speed: what is left to
  // write behind (CHECKPOINT_BACKLOG bounds it) is what the stop waits for.
  let burst: { seconds: number; creates: number; stopSeconds: number } | null = null;
  if (flags.only === undefined || 'stop after a burst'.includes(flags.only) || flags.scale) {
    const seconds = flags.quick ? 10 : 60;
    const server = await startBenchService(await tempDir());
    const result = await autocannon({
      url: server.url,
      connections: CONNECTIONS,
      duration: seconds,
      requests: [postSession()],
    });
    const stopping = performance.now();
    await server.process.stop();
    burst = {
      seconds,
      creates: result.requests.total,
      stopSeconds: Math.round(performance.now() - stopping) / 1000,
    };
    process.stderr.write(
      `  stop after a ${seconds} s burst of ${burst.creates} creates: ${burst.stopSeconds} s\n`,
    );
  }

  await plain.stop();
  const low = Math.round(Math.min(...ceilings));
  const high = Math.round(Math.max(...ceilings));
  const machine = machineLine();
  const header =
    '| workload | requests/s | p50 ms | p99 ms | errors | ceiling beside it | ratio to ceiling | service CPU µs/request |';
  const lines = [header, '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const row of rows) {
    lines.push(
      `| ${row.workload} | ${row.requestsPerSecond.toLocaleString('en')} | ${row.p50} | ${row.p99} | ${row.errors} | ${row.ceiling?.toLocaleString('en') ?? ''} | ${row.ratio === null ? '' : row.ratio.toFixed(2)} | ${row.cpuMicrosPerRequest ?? ''} |`,
    );
  }
  lines.push(...comparisonLines(rows));
  if (burst !== null) {
    lines.push(
      '',
      `Clean stop right after ${burst.seconds} s of POST /sessions at full speed (${burst.creates.toLocaleString('en')} creates): ${burst.stopSeconds} s.`,
    );
  }
  if (scale !== null) {
    const { takeover, restart, pages, sustained } = scale;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
    const size = `${scale.sessions.toLocaleString('en')} sessions and ${scale.events.toLocaleString('en')} events`;
    lines.push(
      '',
      `Takeover (first boot, one file a session) of ${size}: ${takeover.seconds} s to /health, ${takeover.residentMiB} MiB resident, ${takeover.progressLines} progress lines in the log.`,
      `Restart (clean stop ${restart.stopSeconds} s, then boot from the snapshot) with ${size}: ${restart.seconds} s to /health, ${restart.residentMiB} MiB resident.`,
      killRestartLine(scale.kill),
      sharedDirectoryLine(scale.shared),
      `Pages of 100 at ${scale.sessions.toLocaleString('en')} sessions: GET /sessions p50 ${pages.sessionsP50} ms, p99 ${pages.sessionsP99} ms; GET /events?before= p50 ${pages.eventsP50} ms, p99 ${pages.eventsP99} ms.`,
      `A search newest first, page after page, at ${scale.sessions.toLocaleString('en')} sessions: an old name (90 % of the way) in ${scale.search.byNameMs} ms (${scale.search.pages} pages), the oldest session by its id's first 8 characters in ${scale.search.byIdMs} ms after the takeover; ${scale.search.afterRestart.byNameMs} ms and ${scale.search.afterRestart.byIdMs} ms after the restart (the sessions in memory in creation order).`,
      `Sustained PUTs spread over ${sustained.sessions.toLocaleString('en')} sessions for ${sustained.seconds} s: ${sustained.puts.toLocaleString('en')} answered; first 15 s ${sustained.firstQuarterPerSecond.toLocaleString('en')}/s, last 15 s ${sustained.lastQuarterPerSecond.toLocaleString('en')}/s (${(sustained.lastQuarterPerSecond / Math.max(1, sustained.firstQuarterPerSecond)).toFixed(2)} of the first), ${((sustained.firstQuarterPerSecond + sustained.lastQuarterPerSecond) / 2 / Math.max(1, sustained.ceiling)).toFixed(2)} of the ceiling (${sustained.ceiling.toLocaleString('en')}/s); the directory grew ${mib(sustained.grewBytes)} MiB, of which the data needs ${mib(sustained.dataBytes)} MiB (the journal holds ${mib(sustained.journalBytes)} MiB at the end, the snapshot ${mib(sustained.snapshotBytes)} MiB).`,
    );
  }
  if (boot !== null) {
    lines.push(
      '',
      `Boot with ${boot.sessions.toLocaleString('en')} sessions and ${boot.events.toLocaleString('en')} events: ${boot.seconds} s, ${boot.residentMiB} MiB resident.`,
    );
    if (kill !== null) lines.push(killRestartLine(kill));
    if (shared !== null) lines.push(sharedDirectoryLine(shared));
  }
  lines.push(
    '',
    ceilings.length === 0
      ? 'Ceiling: no workload ran in this run.'
      : `Ceiling (node:http, constant JSON, ${CEILING_SECONDS} s before each round): ${low.toLocaleString('en')} to ${high.toLocaleString('en')} req/s in this run.`,
    `Machine: ${machine}; ${CONNECTIONS} connections, ${DURATION} s a workload; durable writes${flags.pin ? '; each server on CPU 1, the load on CPU 0 (--pin)' : ''}.`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);

  const out =
    flags.out ?? join('bench-results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(
    out,
    JSON.stringify(
      {
        machine,
        connections: CONNECTIONS,
        duration: DURATION,
        ceilings,
        rows,
        boot,
        kill,
        burst,
        scale,
      },
      null,
      2,
    ),
  );
  process.stderr.write(`written to ${out}\n`);
  const errors = rows.reduce((sum, row) => sum + row.errors, 0);
  if (errors > 0) {
    process.stderr.write(
      `\n!!! THIS RUN HAD ${errors} ERRORS (non-2xx answers, timeouts or socket errors): its figures are not valid !!!\n`,
    );
    process.exitCode = 1;
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true }))));
