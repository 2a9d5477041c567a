/**
 * The PostgreSQL sweep with several replicas on one database: each locks the
 * due sessions nobody else holds (SKIP LOCKED), so every expired session is
 * removed once and logged once, whoever sweeps and however many at once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NEVER } from '../../../src/domain/expiry.js';
import { DEFAULT_SESSION_MAX_NODES } from '../../../src/domain/session.js';
import { SessionService } from '../../../src/service/sessions.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { describeOnPostgres } from '../../helpers/postgres.js';
import { TestClock } from '../expiry-contract.js';

describeOnPostgres('the expiry sweep of several PostgreSQL-store replicas', (server) => {
  it('removes each expired session once, with one session_expired event each', async (t) => {
    const url = await server().createDatabase();
    const clock = new TestClock();
    const replicas = await Promise.all(
      ['aaaaaaaa', 'bbbbbbbb'].map((id) => PostgresStore.open(url, id, { clock: clock.now })),
    );
    t.after(() => Promise.all(replicas.map((replica) => replica.close())));
    // Each sweeps on its timer once it has counted its start.
    for (const replica of replicas) await replica.startInstance();
    const [a, b] = replicas as [PostgresStore, PostgresStore];
    const sessionsOf = (store: PostgresStore) =>
      new SessionService(store, {
        maxNodes: DEFAULT_SESSION_MAX_NODES,
        clock: clock.now,
        expiry: NEVER,
      });
    // Due over ten seconds, twenty a second, made by both.
    const created = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        sessionsOf(i % 2 === 0 ? a : b).create({ name: `s${i}`, ttl_seconds: 1 + (i % 10) }),
      ),
    );
    const kept = await sessionsOf(a).create({ name: 'kept' });
    assert.equal(await b.sessionCount(), 201);

    // Both sweep on their timers, and here several times at once, as time moves on.
    for (let second = 0; second < 10; second++) {
      clock.advance(1);
      await Promise.all([a.sweepExpired(), b.sweepExpired(), a.sweepExpired(), b.sweepExpired()]);
    }
    assert.equal(await a.sessionCount(), 1);
    assert.equal((await b.overview()).liveSessions, 1);
    assert.equal((await b.getSession(kept.id))?.name, 'kept');

    const { count, events } = await a.eventTail(1000);
    assert.equal(count, 2 + 201 + 200, 'two starts, one event a create, one an expiry, no other');
    assert.equal((await a.overview()).stats.expired_sessions, 200);
    const expired = events.filter((event) => event.event === 'session_expired');
    assert.equal(expired.length, 200);
    assert.deepEqual(
      expired.map((event) => event.session_id).sort(),
      created.map((session) => session.id).sort(),
      'each session once',
    );
    const by = (container: string) => expired.filter((event) => event.container === container);
    t.diagnostic(
      `swept by aaaaaaaa: ${by('aaaaaaaa').length}, by bbbbbbbb: ${by('bbbbbbbb').length}`,
    );
    for (const event of expired) {
      const session = created.find((each) => each.id === event.session_id);
      assert.deepEqual(
        [event.name, event.expired_at, event.reason],
        [session?.name, session?.expires_at, 'lifetime'],
      );
    }
  });
});
