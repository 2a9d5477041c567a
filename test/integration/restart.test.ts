import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

async function readStats(dir: string) {
  return JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8'));
}

async function readEvents(dir: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(dir, 'events.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

describe('restarts of the real service', () => {
  it('keeps every session, changes container_id, counts the start and no crash', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const alice = field(await postJson(`${first.url}/sessions`, { name: 'alice', data: { n: 1 } }));
    const bob = field(await postJson(`${first.url}/sessions`, { name: 'bob' }));
    await postJson(`${first.url}/sessions/${alice.id}`, { data: { n: 2 } }, 'PUT');
    const before = field(await request(`${first.url}/state`));
    assert.equal(before.startup_count, 1);

    first.process.kill('SIGTERM');
    const exit = await first.process.exited;
    assert.equal(exit.code, 0, 'a clean stop exits 0');
    const stored = await readStats(dir);
    assert.equal(stored.total_requests, before.total_requests + 0, 'requests flushed on stop');
    assert.equal(stored.crash_count, 0);
    const events = await readEvents(dir);
    assert.equal(events.at(-1)?.event, 'shutdown');
    assert.equal(events.at(-1)?.container, first.containerId);

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    assert.notEqual(second.containerId, first.containerId);
    const state = field(await request(`${second.url}/state`));
    assert.equal(state.container_id, second.containerId);
    assert.equal(state.startup_count, 2);
    assert.equal(state.crash_count, 0, 'a clean stop is not a crash');
    assert.equal(state.live_sessions, 2);
    assert.ok(state.total_requests > before.total_requests, 'total_requests keeps counting');
    const list = field(await request(`${second.url}/sessions`));
    assert.deepEqual(
      list.sessions.map((session: { id: string }) => session.id),
      [alice.id, bob.id],
    );
    assert.equal(list.sessions[0].access_count, 1);
    assert.deepEqual(list.sessions[0].data, { n: 2 });
    const tail = field(await request(`${second.url}/events?limit=3`)).events;
    assert.deepEqual(
      tail.map((event: { event: string }) => event.event),
      ['session_updated', 'shutdown', 'startup'],
    );
  });

  it('persists total_requests lazily while running, within about a second', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    for (let i = 0; i < 20; i++) await request(`${service.url}/health`);
    const deadline = Date.now() + 5000;
    let stored = await readStats(dir);
    while (stored.total_requests < 20 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      stored = await readStats(dir);
    }
    assert.ok(stored.total_requests >= 20, `stats.json has ${stored.total_requests} requests`);
  });

  it('after a SIGKILL right behind acknowledged writes, replays the journal and writes the files behind', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(field(await postJson(`${first.url}/sessions`, { name: `s${i}` })).id);
    }
    await postJson(`${first.url}/sessions/${ids[0]}`, { data: { edited: true } }, 'PUT');
    await request(`${first.url}/sessions/${ids[4]}`, 'DELETE');
    first.process.kill('SIGKILL'); // well inside the five seconds between checkpoints
    await first.process.exited;

    const journal = await readdir(join(dir, 'journal'));
    assert.ok(journal.length > 0, 'the changes were in the journal only');
    const offline = await runToEnd(['inspect', '--json', '--data-dir', dir], {});
    const report = JSON.parse(offline.stdout);
    assert.deepEqual(
      report.sessions.map((session: { name: string }) => session.name),
      ['s0', 's1', 's2', 's3'],
      'the offline inspector shows the journal applied',
    );
    assert.equal(report.journalChanges, 7);

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    // The boot replays the journal into memory and writes the files behind, at once.
    const expected = ids
      .slice(0, 4)
      .map((id) => `${id}.json`)
      .sort();
    let files: string[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      files = (await readdir(join(dir, 'sessions'))).sort();
      if (files.join() === expected.join()) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(files, expected);
    const edited = JSON.parse(await readFile(join(dir, 'sessions', `${ids[0]}.json`), 'utf8'));
    assert.deepEqual(edited.data, { edited: true });
    assert.equal(edited.access_count, 1);
    const events = await readEvents(dir);
    assert.equal(
      events.find((event) => event.event === 'journal_replayed'),
      undefined,
      'replaying the journal is routine, no repair: no event was lost',
    );
    assert.equal(events.filter((event) => event.event === 'session_created').length, 5);
    const state = field(await request(`${second.url}/state`));
    assert.equal(state.crash_count, 1);
    assert.equal(state.live_sessions, 4);
    assert.equal(state.total_sessions, 5);
  });
});
