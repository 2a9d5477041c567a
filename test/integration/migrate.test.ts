/**
 * `stateful migrate`, both ways, with real processes: a directory a killed
 * service left (its journal not yet checkpointed) goes into PostgreSQL, a
 * replica serves it, and the database comes back out as a directory that a
 * file-store service serves and `inspect --verify` finds clean.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

describeOnPostgres('stateful migrate', (server) => {
  it('moves a data directory into PostgreSQL and back, safely re-run, counts verified', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const alice = field(
      await postJson(`${first.url}/sessions`, { name: 'alice', data: { z: 1, a: 2 } }),
    );
    const bob = field(await postJson(`${first.url}/sessions`, { name: 'bob' }));
    const gone = field(await postJson(`${first.url}/sessions`, { name: 'gone' }));
    await postJson(`${first.url}/sessions/${alice.id}`, { name: 'alice2' }, 'PUT');
    await request(`${first.url}/sessions/${gone.id}`, 'DELETE');
    first.process.kill('SIGKILL'); // the changes are in the journal only
    await first.process.exited;

    const url = await server().createDatabase();
    const into = await runToEnd(['migrate', '--from-dir', dir, '--to', url], {});
    assert.equal(into.code, 0, into.stderr);
    const report = JSON.parse(into.stdout);
    assert.equal(report.sessions, 2);
    assert.equal(report.stats.total_sessions, 3);
    assert.match(into.stderr, /^migrate: events \d+ of \d+ \(100%\)$/m, 'progress on stderr');
    assert.match(into.stderr, /^migrate: sessions 2 of 2 \(100%\)$/m);
    const again = await runToEnd(['migrate', '--from-dir', dir, '--to', url], {});
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).eventsAdded, 0, 're-running adds nothing');

    const replica = await spawnService(await tempDir(t), { STORE: 'postgres', DATABASE_URL: url });
    const served = field(await request(`${replica.url}/sessions`)).sessions;
    assert.deepEqual(
      served.map((session: { name: string }) => session.name),
      ['alice2', 'bob'],
    );
    assert.deepEqual(Object.keys(served[0].data), ['z', 'a'], 'data keys keep their order');
    const state = field(await request(`${replica.url}/state`));
    assert.equal(state.total_sessions, 3);
    assert.equal(state.startup_count, 2, 'the directory had one start; this is the second');
    await postJson(`${replica.url}/sessions/${bob.id}`, { data: { from: 'postgres' } }, 'PUT');
    replica.process.kill('SIGTERM');
    await replica.process.exited;

    // The inspector reads the database with every replica down.
    const inspected = await runToEnd(['inspect', '--database-url', url, '--json'], {});
    assert.equal(inspected.code, 0, inspected.stderr);
    const dbReport = JSON.parse(inspected.stdout);
    assert.deepEqual(
      dbReport.sessions.map((session: { name: string }) => session.name),
      ['alice2', 'bob'],
    );
    assert.equal(dbReport.stats.startup_count, 2);
    assert.equal(dbReport.replicas.length, 1);
    assert.equal(dbReport.replicas[0].container_id, replica.containerId);
    assert.equal(dbReport.replicas[0].state, 'stopped');
    assert.equal(dbReport.events.at(-1).event, 'shutdown');
    const counted = JSON.parse(
      (await runToEnd(['inspect', '--database-url', url, '--json', '--sessions', '0'], {})).stdout,
    );
    assert.deepEqual([counted.sessions, counted.sessionCount, counted.sessionsOmitted], [[], 2, 2]);
    const text = await runToEnd(['inspect', '--database-url', url], {});
    assert.match(text.stdout, /REPLICAS/);
    assert.match(text.stdout, /Total: 2/);

    const moved = await runToEnd(['migrate', '--from-dir', dir, '--to', url], {});
    assert.equal(moved.code, 1, 'the database moved on: refuse rather than go back');
    assert.match(moved.stderr, /moved on|holds other data/);

    const back = join(await tempDir(t), 'exported');
    const out = await runToEnd(['migrate', '--from', url, '--to-dir', back], {});
    assert.equal(out.code, 0, out.stderr);
    const verify = await runToEnd(['inspect', '--verify', '--data-dir', back], {});
    assert.equal(verify.code, 0, verify.stdout);
    const local = await spawnService(back);
    t.after(() => local.process.kill('SIGKILL'));
    const sessions = field(await request(`${local.url}/sessions`)).sessions;
    assert.deepEqual(
      sessions.map((session: { name: string; data: unknown }) => [session.name, session.data]),
      [
        ['alice2', { z: 1, a: 2 }],
        ['bob', { from: 'postgres' }],
      ],
    );
    const localState = field(await request(`${local.url}/state`));
    assert.equal(localState.startup_count, 3);
    assert.equal(localState.total_sessions, 3);
  });

  it('refuses a directory a live service owns, and a database that is not empty', async (t) => {
    const dir = await tempDir(t);
    const live = await spawnService(dir);
    t.after(() => live.process.kill('SIGKILL'));
    const url = await server().createDatabase();
    const busy = await runToEnd(['migrate', '--from-dir', dir, '--to', url], {});
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /Another live instance owns this data directory/);

    const notEmpty = await tempDir(t);
    const first = await spawnService(notEmpty);
    first.process.kill('SIGTERM');
    await first.process.exited;
    const out = await runToEnd(['migrate', '--from', url, '--to-dir', notEmpty], {});
    assert.equal(out.code, 1);
    assert.match(out.stderr, /is not empty/);
    const usage = await runToEnd(['migrate', '--from-dir', dir], {});
    assert.equal(usage.code, 2);
    const empty = await runToEnd(['inspect', '--database-url', url], {});
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /no PostgreSQL store has run on it/);
  });
});
