/**
 * The peers a user would build instead of this service (bench/peers/), run
 * in the bench beside it on the same API and the same workloads: Fastify +
 * node:sqlite, and Fastify + Redis (Debian's `redis-server`, started here
 * with `appendonly yes` and `appendfsync always` and stopped after; skipped
 * with a line where it is absent). `comparisonLines` sets each workload's
 * ratio to the ceiling for this service and each peer side by side.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { runNode } from '../tools/service-process.js';
import { createSessions, putSpreadOver } from './requests.js';

type Request = autocannon.Request;

/** The workloads run on every server, by the name the service's own rows carry. */
export const COMPARED = {
  health: 'GET /health',
  state: 'GET /state',
  one: 'GET /sessions/:id',
  events: 'GET /events?limit=50 (20,000 events)',
  create: 'POST /sessions',
  spread: 'PUT /sessions/:id (1,000 sessions)',
  same: 'PUT /sessions/:id (all on one)',
  listing: 'GET /sessions (1,000 sessions)',
} as const;

export const PEERS = {
  sqlite: 'Fastify + node:sqlite',
  redis: 'Fastify + Redis',
} as const;

export interface PeerBench {
  /** Runs a workload against `url`, as the bench's own workloads run (its row named `workload`). */
  load(workload: string, url: string, requests: Request[]): Promise<void>;
  tempDir(): Promise<string>;
  /** Notes the processes behind `url`, whose CPU time the rows count (and --pin pins). */
  started(url: string, pids: number[]): void;
  log(line: string): void;
}

const get = (path: string): Request => ({ method: 'GET', path });

/** A port no one listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** redis-server in `dir`, every write fsynced; null where it is not installed. */
async function startRedis(
  dir: string,
): Promise<{ port: number; pid: number; stop(): void } | null> {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  return { port, pid: child.pid ?? 0, stop: () => child.kill('SIGTERM') };
}

/** The compared workloads against one peer, started with `env` (and stopped after). */
async function onePeer(
  bench: PeerBench,
  kind: keyof typeof PEERS,
  env: Record<string, string>,
  alsoPids: number[],
): Promise<void> {
  const script = join(import.meta.dirname, 'peers', `${kind}-peer.js`);
  const dir = await bench.tempDir();
  const peer = runNode([script], { DATA_DIR: dir, SEED_EVENTS: '20000', ...env });
  try {
    const { url } = await peer.listening();
    bench.started(url, [peer.child.pid ?? 0, ...alsoPids]);
    const name = (workload: string) => `${workload} — ${PEERS[kind]}`;
    const ids = await createSessions(url, 1000);
    const one = ids[0] as string;
    await bench.load(name(COMPARED.health), url, [get('/health')]);
    await bench.load(name(COMPARED.state), url, [get('/state')]);
    await bench.load(name(COMPARED.one), url, [get(`/sessions/${one}`)]);
    await bench.load(name(COMPARED.events), url, [get('/events?limit=50')]);
    await bench.load(name(COMPARED.listing), url, [get('/sessions')]);
    await bench.load(name(COMPARED.spread), url, [putSpreadOver(ids)]);
    await bench.load(name(COMPARED.same), url, [
      {
        method: 'PUT',
        path: `/sessions/${one}`,
        headers: { 'content-type': 'application/json' },
        body: '{"data":{"step":2}}',
      },
    ]);
    await bench.load(name(COMPARED.create), url, [
      {
        method: 'POST',
        path: '/sessions',
        headers: { 'content-type': 'application/json' },
        body: '{"name":"bench","data":{"note":"created by the benchmark"}}',
      },
    ]);
  } finally {
    await peer.stop();
  }
}

/** Both peers' workloads, one peer after the other. */
export async function peerWorkloads(bench: PeerBench): Promise<void> {
  await onePeer(bench, 'sqlite', {}, []);
  const redis = await startRedis(await bench.tempDir());
  if (redis === null) {
    bench.log(
      `  ${PEERS.redis}: no redis-server here (Debian's redis-server), its rows are skipped`,
    );
    return;
  }
  try {
    await onePeer(bench, 'redis', { REDIS_PORT: String(redis.port) }, [redis.pid]);
  } finally {
    redis.stop();
  }
}

/** Each compared workload's ratio to the ceiling, this service beside each peer. */
export function comparisonLines(
  rows: readonly { workload: string; ratio: number | null }[],
): string[] {
  const ratio = (name: string) => {
    const found = rows.find((row) => row.workload === name)?.ratio;
    return found === undefined || found === null ? '' : found.toFixed(found < 0.1 ? 3 : 2);
  };
  const peers = Object.values(PEERS);
  if (!rows.some((row) => peers.some((peer) => row.workload.endsWith(`— ${peer}`)))) return [];
  const lines = [
    '',
    `| workload (ratio to the ceiling) | this service | ${peers.join(' | ')} |`,
    `|---|---:|${peers.map(() => '---:').join('|')}|`,
  ];
  for (const workload of Object.values(COMPARED)) {
    lines.push(
      `| ${workload} | ${ratio(workload)} | ${peers.map((peer) => ratio(`${workload} — ${peer}`)).join(' | ')} |`,
    );
  }
  return lines;
}
