/**
 * On PostgreSQL too, a write that leaves a session's data as it was does not
 * write the data again: the row keeps its TOASTed value, and the WAL such a
 * write makes is a few hundred bytes, whatever the session weighs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import { describeOnPostgres } from '../../helpers/postgres.js';
import { sessionsOf } from '../../helpers/sessions.js';

describeOnPostgres('the cost of a write on PostgreSQL', (server) => {
  it('writes a PATCH or PUT that keeps the data of a 600 KB session in a few KB of WAL, and a change of data in full', async (t) => {
    const url = await server().createDatabase();
    const store = await PostgresStore.open(url, 'aaaaaaaa');
    const pool = new pg.Pool({ connectionString: url });
    t.after(async () => {
      await store.close();
      await pool.end();
    });
    const sessions = sessionsOf(store);
    // Random text: no compression makes it small.
    const data = { blob: randomBytes(450_000).toString('base64') };
    const created = await sessions.create({ name: 'big', data });
    const lsn = async () =>
      BigInt(
        (await pool.query<{ lsn: string }>("SELECT pg_current_wal_lsn() - '0/0' AS lsn")).rows[0]
          ?.lsn ?? 0,
      );

    const before = await lsn();
    for (let i = 0; i < 10; i++) await sessions.patch(created.id, {});
    for (let i = 0; i < 10; i++) await sessions.update(created.id, { name: 'big', data });
    const kept = Number((await lsn()) - before);
    t.diagnostic(`20 writes that kept the data: ${kept} bytes of WAL`);
    assert.ok(kept < 20 * 8 * 1024, `${kept} bytes of WAL for 20 writes that kept the data`);
    const after = await sessions.get(created.id);
    assert.equal(after.access_count, 20);
    assert.deepEqual(after.data, data);

    const changing = await lsn();
    await sessions.patch(created.id, { data: { blob: randomBytes(450_000).toString('base64') } });
    assert.ok(
      Number((await lsn()) - changing) > 450_000,
      'a change of data is written in full: the WAL counts it',
    );
  });
});
