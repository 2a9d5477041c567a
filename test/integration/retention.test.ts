/**
 * The event log under a retention policy, over real HTTP against the real
 * process: the service compacts events.jsonl by itself, `count` stays every
 * event ever logged, a page or a stream asking for what was dropped gets 410
 * with the oldest kept, and all of it holds across a SIGKILL, a clean stop,
 * the original's service writing between two runs, and its reader.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { OriginalWriter } from '../helpers/original-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A small journal, so that snapshots (after which the log's head may go) come often. */
const RETAIN_200 = { EVENTS_RETAIN_COUNT: '200', SNAPSHOT_JOURNAL_KB: '16' };

/** Creates and updates sessions: 2 events each. */
async function write(url: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { id } = field(await postJson(`${url}/sessions`, { name: `s${i}`, data: { i } }));
    await postJson(`${url}/sessions/${id}`, { data: { i, again: true } }, 'PUT');
    ids.push(id);
  }
  return ids;
}

/**
 * GET /events once the service has compacted its log within the policy's
 * slack: at most 1.5 × 200 events kept (it looks once a second).
 */
async function compacted(url: string): Promise<{ count: number; oldest: number }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const page = field(await request(`${url}/events?limit=1`));
    if (page.oldest !== undefined && page.count - page.oldest + 1 <= 300) return page;
    if (Date.now() > deadline)
      assert.fail(`not within 1.5 × 200 events in 20 s: ${page.oldest}..${page.count}`);
    await sleep(200);
  }
}

/** Every line of events.jsonl as the original reads it (json.loads a line at a time). */
function readAsTheOriginal(dir: string): { event: string; [key: string]: unknown }[] {
  const reader = `
import json, os, sys
with open(os.path.join(sys.argv[1], "events.jsonl")) as f:
    events = [json.loads(line) for line in f]
assert all(isinstance(e["ts"], float) and e["event"] and e["container"] for e in events)
json.dump(events, sys.stdout)
`;
  const run = spawnSync('python3', ['-c', reader, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

describe('the event log under a retention policy', () => {
  it('is compacted by the running service; what was dropped is said with 410, never skipped', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, RETAIN_200);
    t.after(() => service.process.kill('SIGKILL'));
    await write(service.url, 600);
    const { count, oldest } = await compacted(service.url);
    assert.ok(count >= 1201, `every event ever logged: ${count}`);
    assert.ok(
      oldest > 1 && count - oldest + 1 <= 300,
      `at most 1.5 × 200 kept: ${oldest}..${count}`,
    );

    // A page before the oldest kept: 410 with the oldest; one reaching it ends there.
    const gone = await request(`${service.url}/events?before=${oldest}`);
    assert.equal(gone.status, 410);
    assert.equal(field(gone).error, 'events_dropped');
    assert.equal(field(gone).oldest, oldest);
    const last = field(await request(`${service.url}/events?before=${oldest + 3}&limit=50`));
    assert.equal(last.events.length, 3);
    assert.equal(last.next, null);
    assert.equal(last.oldest, oldest);
    // The stream: resuming before what was dropped is a 410; from the oldest kept, a stream.
    const stream = await fetch(`${service.url}/events/stream`, {
      headers: { 'last-event-id': String(oldest - 2) },
    });
    assert.equal(stream.status, 410);
    assert.equal(((await stream.json()) as { oldest: number }).oldest, oldest);
    const resumed = new AbortController();
    const live = await fetch(`${service.url}/events/stream`, {
      headers: { 'last-event-id': String(oldest - 1) },
      signal: resumed.signal,
    });
    assert.equal(live.status, 200);
    resumed.abort();

    // The file: a log_compacted line first, then the events kept, each as the original reads it.
    const lines = readAsTheOriginal(dir);
    assert.equal(lines[0]?.event, 'log_compacted');
    assert.equal(lines[0]?.dropped, oldest - 1);
    assert.equal(lines.length, count - oldest + 2);
  });

  it('keeps count, oldest and the counters exact across a SIGKILL, a clean stop and the original between runs', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir, RETAIN_200);
    await write(first.url, 600);
    await compacted(first.url);
    await write(first.url, 10);
    const before = field(await request(`${first.url}/events?limit=1`));
    const state = field(await request(`${first.url}/state`));
    first.process.kill('SIGKILL');
    await first.process.exited;

    const second = await spawnService(dir, RETAIN_200);
    const after = field(await request(`${second.url}/events?limit=50`));
    assert.equal(after.oldest, before.oldest);
    // Only this start's own events were logged after the last one acknowledged.
    const since = after.events.slice(after.events.length - (after.count - before.count));
    assert.ok(
      since.every((e: { event: string }) => ['startup', 'crash_detected'].includes(e.event)),
      JSON.stringify(since),
    );
    const restarted = field(await request(`${second.url}/state`));
    assert.equal(restarted.total_sessions, state.total_sessions);
    assert.equal(restarted.crash_count, state.crash_count + 1);
    second.process.kill('SIGTERM');
    assert.equal((await second.process.exited).code, 0);

    // The original's service runs on the compacted directory, then ours again.
    const original = new OriginalWriter(dir);
    await original.startup();
    const theirs = await original.create('from-the-original');
    const third = await spawnService(dir, RETAIN_200);
    t.after(() => third.process.kill('SIGKILL'));
    assert.equal(
      field(await request(`${third.url}/sessions/${theirs.id}`)).name,
      'from-the-original',
    );
    const page = field(await request(`${third.url}/events?limit=10`));
    const kinds = page.events.map((e: { event: string }) => e.event);
    assert.ok(kinds.includes('session_adopted'), kinds.join(' '));
    assert.equal(page.oldest, before.oldest);
    assert.equal(
      field(await request(`${third.url}/state`)).total_sessions,
      state.total_sessions + 1,
    );
    const stats = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8'));
    assert.ok(stats.total_sessions >= state.total_sessions + 1);
  });
});
