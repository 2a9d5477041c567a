import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('deaths nobody saw coming', () => {
  it('kill -9 loses no acknowledged write and is counted as one crash at the next start', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const target = field(await postJson(`${first.url}/sessions`, { name: 'counter' }));

    // Concurrent creates and updates; record what was acknowledged, then kill at once.
    const acknowledged: { id: string; name: string }[] = [];
    let updatesAcknowledged = 0;
    const creates = Array.from({ length: 40 }, async (_, i) => {
      const answer = await postJson(`${first.url}/sessions`, { name: `s${i}`, data: { i } });
      if (answer.status === 201) acknowledged.push(field(answer));
    });
    const updates = Array.from({ length: 40 }, async () => {
      const answer = await postJson(`${first.url}/sessions/${target.id}`, {}, 'PUT');
      if (answer.status === 200) updatesAcknowledged++;
    });
    await Promise.all([...creates, ...updates]);
    first.process.kill('SIGKILL');
    await first.process.exited;

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const state = field(await request(`${second.url}/state`));
    assert.equal(state.crash_count, 1, 'the kill is counted once');
    assert.equal(state.startup_count, 2);
    assert.ok(state.total_sessions >= acknowledged.length + 1);
    for (const session of acknowledged) {
      const answer = await request(`${second.url}/sessions/${session.id}`);
      assert.equal(answer.status, 200, `acknowledged session ${session.name} survives`);
      assert.equal(field(answer).name, session.name);
    }
    const counter = field(await request(`${second.url}/sessions/${target.id}`));
    assert.ok(counter.access_count >= updatesAcknowledged);

    const events = field(await request(`${second.url}/events?limit=2`)).events;
    assert.equal(events[0].event, 'crash_detected');
    assert.equal(events[0].dead_container, first.containerId, 'names the instance that died');
    assert.equal(events[1].event, 'startup');

    // A clean stop afterwards is not counted as another crash.
    second.process.kill('SIGTERM');
    await second.process.exited;
    const third = await spawnService(dir);
    t.after(() => third.process.kill('SIGKILL'));
    assert.equal(field(await request(`${third.url}/state`)).crash_count, 1);
  });

  it('an instance restarted on the spot after kill -9 is not blocked by what it left behind', async (t) => {
    const dir = await tempDir(t);
    for (let round = 0; round < 3; round++) {
      const service = await spawnService(dir);
      await postJson(`${service.url}/sessions`, { name: `r${round}` });
      service.process.kill('SIGKILL');
      await service.process.exited;
    }
    const last = await spawnService(dir);
    t.after(() => last.process.kill('SIGKILL'));
    const state = field(await request(`${last.url}/state`));
    assert.equal(state.crash_count, 3);
    assert.equal(state.startup_count, 4);
    assert.equal(state.live_sessions, 3);
    const marker = JSON.parse(await readFile(join(dir, 'instance.json'), 'utf8'));
    assert.equal(marker.container, last.containerId);
    assert.equal(marker.state, 'running');
  });

  it('a start after kill -9 with journal to replay logs its progress, serves every acknowledged session, then writes their files', async (t) => {
    const dir = await tempDir(t);
    // Progress every 20 ms instead of every second: the lines, not the speed, are tested here.
    const env = { STARTUP_PROGRESS_MS: '20' };
    const first = await spawnService(dir, env);
    const acknowledged: { id: string; name: string }[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        for (let i = 0; i < 40; i++) {
          const answer = await postJson(`${first.url}/sessions`, { name: `w${worker}-${i}` });
          if (answer.status === 201) acknowledged.push(field(answer));
        }
      }),
    );
    first.process.kill('SIGKILL');
    await first.process.exited;

    const second = await spawnService(dir, env);
    t.after(() => second.process.kill('SIGKILL'));
    const lines = second.process.lines;
    const ready = lines.findIndex((line) => line.msg === 'listening');
    const progress = lines.slice(0, ready).filter((line) => line.msg === 'starting');
    assert.ok(progress.length > 0, 'progress lines before listening');
    for (const line of progress) {
      assert.equal(typeof line.phase, 'string');
      assert.equal(typeof line.seconds, 'number');
      assert.equal(typeof line.sessions_read, 'number');
      assert.equal(typeof line.journal_records_replayed, 'number');
    }
    const replayed = progress.map((line) => line.journal_records_replayed as number);
    assert.deepEqual(
      replayed,
      [...replayed].sort((a, b) => a - b),
      'the counts only grow',
    );
    assert.ok((replayed.at(-1) ?? 0) <= acknowledged.length, 'one journal record a create');

    for (const session of acknowledged) {
      const answer = await request(`${second.url}/sessions/${session.id}`);
      assert.equal(answer.status, 200, `acknowledged session ${session.name} is served`);
      assert.equal(field(answer).name, session.name);
    }
    // The replayed sessions' files are rewritten in the background, and that is logged.
    const written = await second.process.next(
      (line) => line.msg === 'session files of the replayed journal written',
    );
    assert.equal(written.sessions, acknowledged.length);
    for (const session of acknowledged) {
      const file = JSON.parse(await readFile(join(dir, 'sessions', `${session.id}.json`), 'utf8'));
      assert.equal(file.name, session.name);
    }
  });
});
