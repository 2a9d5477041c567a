/**
 * Three real replicas on one PostgreSQL database (STORE=postgres), load spread
 * across them, one killed with SIGKILL in the middle: no acknowledged write
 * is lost, the dead replica is counted as exactly one crash by a survivor,
 * and the counters add up.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { openStream } from '../helpers/event-stream.js';
import { field, postJson, request } from '../helpers/http.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

const LEASE_MS = 1500;

describeOnPostgres('replicas on PostgreSQL', (server) => {
  it('lose no acknowledged write when one is killed mid-load, and count its death once', async (t) => {
    const env = {
      STORE: 'postgres',
      DATABASE_URL: await server().createDatabase(),
      REPLICA_LEASE_MS: String(LEASE_MS),
    };
    const replicas = [];
    for (let i = 0; i < 3; i++) {
      const replica = await spawnService(await tempDir(t), env);
      t.after(() => replica.process.kill('SIGKILL'));
      replicas.push(replica);
    }
    const [first, victim, third] = replicas as [
      (typeof replicas)[number],
      (typeof replicas)[number],
      (typeof replicas)[number],
    ];
    const shared = field(await postJson(`${first.url}/sessions`, { name: 'shared' }));
    assert.equal(field(await request(`${third.url}/sessions/${shared.id}`)).name, 'shared');

    // Load: each worker sends to its own replica, the victim's included.
    const created: string[] = [];
    let updatesSent = 0;
    let updatesAcknowledged = 0;
    let stop = false;
    const worker = async (url: string, n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          if (i % 2 === 0) {
            const answer = await postJson(`${url}/sessions`, { name: `w${n}-${i}` });
            if (answer.status === 201) created.push(field(answer).id);
          } else {
            updatesSent++;
            const answer = await postJson(`${url}/sessions/${shared.id}`, {}, 'PUT');
            if (answer.status === 200) updatesAcknowledged++;
          }
        } catch {
          if (url === victim.url) return; // the victim is gone: its unanswered writes are not acknowledged
          throw new Error(`a surviving replica failed a request at ${url}`);
        }
      }
    };
    const load = replicas.flatMap((replica, n) => [
      worker(replica.url, n),
      worker(replica.url, n + 3),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    victim.process.kill('SIGKILL');
    await victim.process.exited;
    await new Promise((resolve) => setTimeout(resolve, 600));
    stop = true;
    await Promise.all(load);

    // A survivor notices the lease run out and counts the death.
    const deadline = Date.now() + 10 * LEASE_MS;
    let state = field(await request(`${first.url}/state`));
    while (state.crash_count < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = field(await request(`${first.url}/state`));
    }
    assert.equal(state.crash_count, 1, 'the killed replica counted as one crash');
    await new Promise((resolve) => setTimeout(resolve, 2 * LEASE_MS));
    state = field(await request(`${third.url}/state`));
    assert.equal(state.crash_count, 1, 'and never again, by either survivor');
    assert.equal(state.startup_count, 3);
    assert.equal(state.live_replicas, 2);

    const listed = field(await request(`${third.url}/sessions`)).sessions as { id: string }[];
    const ids = new Set(listed.map((session) => session.id));
    const lost = created.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], 'every acknowledged create is there');
    const accesses = field(await request(`${third.url}/sessions/${shared.id}`)).access_count;
    assert.ok(
      accesses >= updatesAcknowledged && accesses <= updatesSent,
      `access_count ${accesses}: acknowledged ${updatesAcknowledged}, sent ${updatesSent}`,
    );
    assert.equal(state.total_sessions, listed.length, 'nothing was deleted: every create counted');

    const events = field(await request(`${first.url}/events?limit=10000`));
    const detected = events.events.filter(
      (event: { event: string }) => event.event === 'crash_detected',
    );
    assert.equal(detected.length, 1);
    assert.equal(detected[0].dead_container, victim.containerId);
    const createdEvents = events.events.filter(
      (event: { event: string }) => event.event === 'session_created',
    ).length;
    assert.equal(createdEvents, state.total_sessions, 'one session_created a session');
    t.diagnostic(
      `creates acknowledged ${created.length}, updates acknowledged ${updatesAcknowledged} of ${updatesSent}`,
    );
  });

  it("streams every replica's events on /events/stream, in log order", async (t) => {
    const env = { STORE: 'postgres', DATABASE_URL: await server().createDatabase() };
    const a = await spawnService(await tempDir(t), env);
    t.after(() => a.process.kill('SIGKILL'));
    const b = await spawnService(await tempDir(t), env);
    t.after(() => b.process.kill('SIGKILL'));
    const stream = await openStream(`${a.url}/events/stream?limit=1`);
    t.after(() => stream.close());
    assert.equal((await stream.next())?.event.event, 'startup'); // b's, the last so far

    const created = field(await postJson(`${b.url}/sessions`, { name: 'made on b' }));
    await postJson(`${a.url}/sessions/${created.id}`, {}, 'PUT');
    const heard = [await stream.next(), await stream.next()];
    assert.deepEqual(
      heard.map((message) => [message?.event.event, message?.event.container]),
      [
        ['session_created', field(await request(`${b.url}/health`)).container_id],
        ['session_updated', field(await request(`${a.url}/health`)).container_id],
      ],
    );
    const count = Number(field(await request(`${b.url}/events?limit=1`)).count);
    assert.deepEqual(
      heard.map((message) => message?.id),
      [count - 1, count],
    );
  });
});
