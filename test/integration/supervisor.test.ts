import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { supervise } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the supervisor (restart: unless-stopped, locally)', () => {
  it('brings the service back after /crash with a new container_id, the crash counted, sessions intact', async (t) => {
    const dir = await tempDir(t);
    const { supervisor, url, containerId } = await supervise(dir);
    t.after(() => supervisor.kill('SIGKILL'));
    const alice = field(await postJson(`${url}/sessions`, { name: 'alice' }));
    const bob = field(await postJson(`${url}/sessions`, { name: 'bob' }));

    const crash = await request(`${url}/crash`, 'POST');
    assert.equal(crash.status, 202);
    assert.deepEqual(field(crash), { status: 'crashing', crash_count: 1 });

    const back = await supervisor.listening();
    assert.notEqual(back.containerId, containerId);
    const state = field(await request(`${url}/state`));
    assert.equal(state.container_id, back.containerId);
    assert.equal(state.crash_count, 1, 'counted once: by /crash, not again at boot');
    assert.equal(state.startup_count, 2);
    assert.equal(state.live_sessions, 2);
    const ids = field(await request(`${url}/sessions`)).sessions.map((s: { id: string }) => s.id);
    assert.deepEqual(ids, [alice.id, bob.id]);
    const events = field(await request(`${url}/events?limit=3`)).events;
    assert.deepEqual(
      events
        .map((event: { event: string }) => event.event)
        // The crash may come before the changes' checkpoint; the boot then replays the journal.
        .filter((kind: string) => kind !== 'journal_replayed')
        .slice(-2),
      ['crash_triggered', 'startup'],
    );

    supervisor.kill('SIGTERM');
    const exit = await supervisor.exited;
    assert.equal(exit.code, 0);
  });

  it('restarts a service killed with SIGKILL and counts that crash at its next start', async (t) => {
    const dir = await tempDir(t);
    const { supervisor, url } = await supervise(dir);
    t.after(() => supervisor.kill('SIGKILL'));
    const state = field(await request(`${url}/state`));
    const pid = supervisor.lines.find((line) => line.msg === 'listening')?.pid as number;
    assert.ok(pid > 0);
    process.kill(pid, 'SIGKILL');
    await supervisor.listening();
    const after = field(await request(`${url}/state`));
    assert.equal(after.crash_count, state.crash_count + 1);
    assert.equal(after.startup_count, state.startup_count + 1);
    supervisor.kill('SIGTERM');
    await supervisor.exited;
  });

  it('on SIGTERM stops the service cleanly: a shutdown event and no crash', async (t) => {
    const dir = await tempDir(t);
    const { supervisor } = await supervise(dir);
    supervisor.kill('SIGTERM');
    const exit = await supervisor.exited;
    assert.equal(exit.code, 0);
    assert.ok(supervisor.lines.some((line) => line.msg === 'stopped cleanly'));
    const again = await supervise(dir);
    t.after(() => again.supervisor.kill('SIGKILL'));
    const state = field(await request(`${again.url}/state`));
    assert.equal(state.crash_count, 0);
    assert.equal(state.startup_count, 2);
    const events = field(await request(`${again.url}/events`)).events;
    assert.ok(events.some((event: { event: string }) => event.event === 'shutdown'));
    again.supervisor.kill('SIGTERM');
    await again.supervisor.exited;
  });
  // A start that cannot succeed (the port, HOST, the data directory, a setting) ends the
  // supervisor without a restart: start-refusals.test.ts, one case each.
});
