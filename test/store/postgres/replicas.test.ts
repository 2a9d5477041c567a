import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import pg from 'pg';
import { MIGRATIONS, migrate } from '../../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { describeOnPostgres } from '../../helpers/postgres.js';
import { sessionsOf } from '../../helpers/sessions.js';

describeOnPostgres('several PostgreSQL-store replicas on one database', (server) => {
  /** Three replicas on a fresh database, closed after the test. */
  async function openReplicas(t: TestContext): Promise<PostgresStore[]> {
    const url = await server().createDatabase();
    const replicas = await Promise.all(
      ['aaaaaaaa', 'bbbbbbbb', 'cccccccc'].map((id) => PostgresStore.open(url, id)),
    );
    t.after(() => Promise.all(replicas.map((replica) => replica.close())));
    return replicas;
  }

  it('migrate the schema once when they start at the same moment', async () => {
    const url = await server().createDatabase();
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url }));
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool)));
      assert.deepEqual(
        applied.flat().sort(),
        MIGRATIONS.map((migration) => migration.version),
        'each migration applied by exactly one of them',
      );
      const { rows } = await (pools[0] as pg.Pool).query('SELECT version FROM schema_migrations');
      assert.equal(rows.length, MIGRATIONS.length);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('never lose a counter increment, an access or an event position when writing at once', async (t) => {
    const replicas = await openReplicas(t);
    const [a, b] = replicas as [PostgresStore, PostgresStore, PostgresStore];
    const shared = await sessionsOf(a).create({ name: 'shared' });
    await Promise.all(
      replicas.flatMap((replica, r) => [
        ...Array.from({ length: 20 }, (_, i) => sessionsOf(replica).create({ name: `r${r}-${i}` })),
        ...Array.from({ length: 15 }, () => sessionsOf(replica).update(shared.id, {})),
      ]),
    );
    for (const replica of replicas) for (let i = 0; i < 7; i++) replica.countRequest();
    await Promise.all(replicas.map((replica) => replica.flushRequests()));

    const { stats } = await b.overview();
    assert.equal(stats.total_sessions, 61);
    assert.equal(stats.total_requests, 21);
    assert.equal(await b.sessionCount(), 61);
    assert.equal((await b.getSession(shared.id))?.access_count, 45);
    // One total order: positions 1..N with no gap, each event once.
    const { events } = await b.eventTail(1000);
    assert.equal(events.length, 61 + 45);
    assert.equal(await b.eventCount(), events.length);
    assert.deepEqual(
      new Set(events.map((event) => event.container)),
      new Set(['aaaaaaaa', 'bbbbbbbb', 'cccccccc']),
    );
  });

  it("tell each replica's listeners every replica's events, in log order, each once", async (t) => {
    const replicas = await openReplicas(t);
    const heard = replicas.map(() => [] as { position: number; event: string; by: string }[]);
    for (const [r, replica] of replicas.entries()) {
      replica.onEvent((event, position) => {
        heard[r]?.push({ position, event: event.event, by: event.container });
      });
    }
    await Promise.all(
      replicas.map(async (replica, r) => {
        for (let i = 0; i < 10; i++) {
          const session = await sessionsOf(replica).create({ name: `r${r}-${i}` });
          await sessionsOf(replica).update(session.id, {});
          if (i % 3 === 0) await sessionsOf(replica).delete(session.id);
        }
      }),
    );
    const count = await (replicas[0] as PostgresStore).eventCount();
    assert.equal(count, 3 * (10 + 10 + 4));
    const deadline = Date.now() + 10_000;
    while (heard.some((list) => list.length < count) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { events } = await (replicas[0] as PostgresStore).eventTail(count);
    const log = events.map((event, i) => ({
      position: i + 1,
      event: event.event,
      by: event.container,
    }));
    for (const list of heard) assert.deepEqual(list, log);
  });
});
