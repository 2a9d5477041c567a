/**
 * `npm run bench -- --profile [--profile-seconds S]`: where a small request's
 * CPU time goes (issue 34). The built service runs with `--cpu-prof`; each
 * request kind (GET /health, GET /sessions/:id) is sent for S seconds (10)
 * at 16 connections, to a service of its own, which is then stopped and its
 * profile read. Each sample is put where it was spent, walking its stack up
 * from the leaf to the first frame that names a place:
 *
 *   one of this service's functions      by name (its hooks are named:
 *                                        guardRequest, weighAnswer, endResponse, …)
 *   pino, fastify, find-my-way           the framework and its logger
 *   node:_http_*, net, streams           Node's HTTP
 *   writeUtf8String, writev              the answer's write (a system call)
 *   (garbage collector), (program)       V8
 *
 * so a hook's figure is its own work and what it calls (prom-client, a
 * WeakMap), never the rest of the request its `done()` goes on to. Figures
 * are µs of CPU per request; the total is what one request costs this
 * process. docs/performance.md shows a run before and after.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { spawnService } from '../tools/service-process.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  place: string;
  microsPerRequest: number;
}

export interface ProfileResult {
  workload: string;
  requests: number;
  /** CPU µs a request, all places together (idle left out). */
  totalMicros: number;
  rows: ProfileRow[];
}

const OURS = /\/dist\/src\/(.*\.js)$/;
const STARTUP = 'the start (modules loading)';

/** Where a frame's time goes, or null to look further up the stack. */
function placeOf(frame: ProfileNode['callFrame']): string | null {
  const { functionName: name, url } = frame;
  // A module's own code, run once when it loads (the start, not a request).
  if (url.startsWith('node:internal/modules/') || (name === '' && frame.lineNumber === 0)) {
    return STARTUP;
  }
  if (name === '(garbage collector)' || name === '(program)') return name;
  if (name === 'writeUtf8String' || name === 'writev' || name === 'writeBuffer') {
    return 'the answer written to the socket';
  }
  const ours = OURS.exec(url);
  if (ours !== null) return `${name || '(anonymous)'} (src/${ours[1]?.replace(/\.js$/, '.ts')})`;
  if (url.includes('/node_modules/pino/')) return 'pino';
  if (url.includes('/node_modules/fastify/')) return 'fastify';
  if (url.includes('/node_modules/find-my-way/')) return 'find-my-way (routing)';
  if (/^node:(_http|http|net|internal\/(stream|streams|http))/.test(url)) return "Node's HTTP";
  return null;
}

/** CPU µs a request by place, from a profile of `requests` requests. */
export function attribute(profile: CpuProfile, requests: number): Omit<ProfileResult, 'workload'> {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const spent = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((sample, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    if (nodes.get(sample)?.callFrame.functionName === '(idle)') return;
    total += delta;
    let id: number | undefined = sample;
    let place: string | null = null;
    while (id !== undefined && place === null) {
      const node = nodes.get(id);
      place = node === undefined ? null : placeOf(node.callFrame);
      id = parent.get(id);
    }
    const key = place ?? 'other (V8, timers, ticks, events)';
    spent.set(key, (spent.get(key) ?? 0) + delta);
  });
  // The start is no request's: left out of the total, and of the rows.
  total -= spent.get(STARTUP) ?? 0;
  spent.delete(STARTUP);
  const rows = [...spent]
    .map(([place, micros]) => ({ place, microsPerRequest: micros / requests }))
    .sort((a, b) => b.microsPerRequest - a.microsPerRequest);
  return { requests, totalMicros: total / requests, rows };
}

async function profileOne(
  dir: string,
  profiles: string,
  workload: string,
  path: (url: string) => Promise<string>,
  seconds: number,
): Promise<ProfileResult> {
  const service = await spawnService(dir, {
    CRASH_ENDPOINT: 'off',
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}`,
  });
  let requests = 0;
  try {
    const target = await path(service.url);
    const result = await autocannon({
      url: service.url,
      connections: 16,
      duration: seconds,
      requests: [{ method: 'GET', path: target }],
    });
    requests = result.requests.total;
  } finally {
    await service.process.stop('SIGTERM'); // the profile is written at exit
  }
  // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: thread 0 is the main one
  // (the worker that writes session files writes its own).
  const latest = (await readdir(profiles)).find((name) => /\.\d+\.0\.\d+\.cpuprofile$/.test(name));
  if (latest === undefined) throw new Error('the service wrote no profile of its main thread');
  const profile = JSON.parse(await readFile(join(profiles, latest), 'utf8')) as CpuProfile;
  return { workload, ...attribute(profile, requests) };
}

export async function profileBench(options: {
  dir: () => Promise<string>;
  seconds: number;
}): Promise<ProfileResult[]> {
  const results: ProfileResult[] = [];
  results.push(
    await profileOne(
      await options.dir(),
      await options.dir(),
      'GET /health',
      async () => '/health',
      options.seconds,
    ),
  );
  results.push(
    await profileOne(
      await options.dir(),
      await options.dir(),
      'GET /sessions/:id',
      async (url) => {
        const answer = await fetch(`${url}/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"name":"profiled","data":{"n":1}}',
        });
        return `/sessions/${((await answer.json()) as { id: string }).id}`;
      },
      options.seconds,
    ),
  );
  return results;
}

export function profileLines(results: readonly ProfileResult[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    lines.push(
      '',
      `${result.workload}: ${result.requests.toLocaleString('en')} requests, ${result.totalMicros.toFixed(1)} µs of CPU each`,
      '| where | µs a request |',
      '|---|---:|',
    );
    for (const row of result.rows) {
      if (row.microsPerRequest < 0.05) continue;
      lines.push(`| ${row.place} | ${row.microsPerRequest.toFixed(2)} |`);
    }
  }
  return lines;
}
