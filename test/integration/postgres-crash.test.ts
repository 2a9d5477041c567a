/**
 * The database itself dies under load from three replicas, twice: once by
 * `pg_ctl stop -m immediate` (no checkpoint: crash recovery at the next
 * start), once by SIGKILL of the postmaster. Each time it is started again
 * and nothing else is touched: the replicas (each under its supervisor, as
 * in production) must come back on their own, and every write they
 * acknowledged must be there, counted, with its event.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { supervise } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Writes until one succeeds on `url` (the replica serves again), for at most `ms`. */
async function writesAgain(url: string, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      const answer = await postJson(`${url}/sessions`, { name: 'probe' });
      if (answer.status === 201) return Date.now() - started;
    } catch {
      // refused or cut off: not yet
    }
    if (Date.now() - started > ms) throw new Error(`${url} did not serve writes again in ${ms} ms`);
    await sleep(100);
  }
}

describeOnPostgres('PostgreSQL killed under load', (server) => {
  it('loses no acknowledged write, and the replicas come back on their own', async (t) => {
    const env = {
      STORE: 'postgres',
      DATABASE_URL: await server().createDatabase(),
      // Longer than the outages: a replica that only lost its database is not a crash.
      REPLICA_LEASE_MS: '15000',
      LOG_FORMAT: 'json',
    };
    const replicas = [];
    for (let i = 0; i < 3; i++) {
      const dir = await tempDir(t);
      const replica = await supervise(dir, env);
      t.after(async () => {
        replica.supervisor.kill('SIGTERM');
        await replica.supervisor.exited;
      });
      replicas.push(replica);
    }
    const shared = field(await postJson(`${replicas[0]?.url}/sessions`, { name: 'shared' }));

    const created: string[] = [];
    let updatesSent = 0;
    let updatesAcknowledged = 0;
    let refused = 0;
    let stop = false;
    const worker = async (url: string, n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          if (i % 2 === 0) {
            const answer = await postJson(`${url}/sessions`, { name: `w${n}-${i}` });
            if (answer.status === 201) created.push(field(answer).id);
            else refused++;
          } else {
            updatesSent++;
            const answer = await postJson(`${url}/sessions/${shared.id}`, {}, 'PUT');
            if (answer.status === 200) updatesAcknowledged++;
            else refused++;
          }
        } catch {
          refused++; // no answer: not acknowledged
          await sleep(50);
        }
      }
    };
    const load = replicas.flatMap((replica, n) => [
      worker(replica.url, n),
      worker(replica.url, n + 3),
    ]);

    const outages: string[] = [];
    for (const how of ['immediate', 'sigkill'] as const) {
      await sleep(800);
      const before = created.length;
      server().crash(how);
      await sleep(700);
      server().start();
      const back = await Promise.all(replicas.map((replica) => writesAgain(replica.url, 30_000)));
      outages.push(`${how}: all three writing again ${Math.max(...back)} ms after the restart`);
      assert.ok(created.length >= before, 'writes went on');
    }
    await sleep(500);
    stop = true;
    await Promise.all(load);

    for (const replica of replicas) {
      const health = await request(`${replica.url}/health`);
      assert.equal(health.status, 200, `${replica.url} answers`);
    }
    const listing = field(await request(`${replicas[2]?.url}/sessions`));
    const ids = new Set((listing.sessions as { id: string }[]).map((session) => session.id));
    const lost = created.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], 'every acknowledged create is there');
    const accesses = field(await request(`${replicas[1]?.url}/sessions/${shared.id}`)).access_count;
    assert.ok(
      accesses >= updatesAcknowledged && accesses <= updatesSent,
      `access_count ${accesses}: acknowledged ${updatesAcknowledged}, sent ${updatesSent}`,
    );
    const state = field(await request(`${replicas[0]?.url}/state`));
    assert.equal(state.total_sessions, listing.count, 'nothing was deleted: every create counted');
    assert.equal(state.crash_count, 0, 'no replica died: none is counted as a crash');
    const restarts = replicas.flatMap((replica) =>
      replica.supervisor.stdout
        .split('\n')
        .filter((line) => /"level":(50|60)|ended unexpectedly/.test(line))
        .map((line) => line.slice(0, 600)),
    );
    assert.deepEqual(restarts, [], 'no replica died or logged an error it could not carry on from');
    assert.equal(state.live_replicas, 3);
    const events = field(await request(`${replicas[0]?.url}/events?limit=10000`));
    const createdEvents = events.events.filter(
      (event: { event: string }) => event.event === 'session_created',
    ).length;
    assert.equal(createdEvents, state.total_sessions, 'one session_created a session');
    t.diagnostic(
      `${created.length} creates and ${updatesAcknowledged} of ${updatesSent} updates acknowledged, ${refused} refused; ${outages.join('; ')}`,
    );
  });
});
