/**
 * `stateful migrate` on an event log longer than its batches: the log streams
 * through (never held whole), a re-run adds exactly what is new across batch
 * boundaries, the export is the same bytes, and a line that differs is refused.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import pg from 'pg';
import { makeEvent } from '../../src/domain/event.js';
import { exportToDataDirectory, importDataDirectory } from '../../src/migrate/transfer.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { sessionsOf } from '../helpers/sessions.js';
import { tempDir } from '../helpers/temp-dir.js';

function eventLines(from: number, to: number): string {
  let text = '';
  for (let i = from; i <= to; i++) {
    text += `${JSON.stringify(makeEvent('session_updated', 'abcdef01', { n: i }))}\n`;
  }
  return text;
}

describeOnPostgres('migrate with a long event log', (server) => {
  it('streams it in batches, adds only what is new on a re-run, and exports the same bytes', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sessions'));
    const log = join(dir, 'events.jsonl');
    await writeFile(log, eventLines(1, 7_000));
    const url = await server().createDatabase();

    const first = await importDataDirectory(dir, url);
    assert.deepEqual([first.events, first.eventsAdded], [7_000, 7_000]);

    await appendFile(log, eventLines(7_001, 12_345));
    const second = await importDataDirectory(dir, url);
    assert.deepEqual([second.events, second.eventsAdded], [12_345, 5_345]);

    const client = new pg.Client(url);
    await client.connect();
    try {
      const { rows } = await client.query<{ position: string; line: string }>(
        'SELECT position, line FROM events WHERE position IN (1, 5000, 5001, 7000, 7001, 10000, 12345) ORDER BY position',
      );
      for (const row of rows) {
        assert.equal(JSON.parse(row.line).n, Number(row.position));
      }
      assert.equal(rows.length, 7);
    } finally {
      await client.end();
    }

    const out = join(await tempDir(t), 'exported');
    const exported = await exportToDataDirectory(url, out);
    assert.equal(exported.events, 12_345);
    assert.ok((await readFile(join(out, 'events.jsonl'))).equals(await readFile(log)));

    // A line that differs from what the database holds: refused, nothing changed.
    const lines = (await readFile(log, 'utf8')).split('\n');
    lines[6_000] = JSON.stringify(makeEvent('session_updated', 'abcdef01', { n: -1 }));
    await writeFile(log, lines.join('\n'));
    await assert.rejects(importDataDirectory(dir, url), /event 6001 in the database differs/);
    // And a line that is not an event at all.
    lines[6_000] = '{"not": "an event"}';
    await writeFile(log, lines.join('\n'));
    await assert.rejects(importDataDirectory(dir, url), /line 6001 is not an event/);
    const again = await exportToDataDirectory(url, join(await tempDir(t), 'again'));
    assert.equal(again.events, 12_345);
  });

  it('carries a log that retention compacted both ways: positions, count and counters kept', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'abcdef01', undefined, {
      retention: { count: 500, maxAgeMs: null, bytes: null },
    });
    for (let i = 0; i < 1_000; i++) await sessionsOf(store).create({ name: `s${i}` });
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true);
    const before = store.eventTail(3);
    const totalSessions = store.instance.stats().total_sessions;
    await store.close();

    const url = await server().createDatabase();
    const imported = await importDataDirectory(dir, url);
    assert.equal(imported.events, before.count);
    assert.equal(imported.eventsAdded, 500);
    // Again: nothing new, the kept events checked against the database's.
    assert.equal((await importDataDirectory(dir, url)).eventsAdded, 0);
    const database = await PostgresStore.open(url, 'abcdef02');
    try {
      assert.deepEqual(await database.eventTail(3), before);
    } finally {
      await database.close();
    }

    const out = join(await tempDir(t), 'exported');
    const exported = await exportToDataDirectory(url, out);
    assert.equal(exported.events, before.count);
    const first = JSON.parse(
      (await readFile(join(out, 'events.jsonl'), 'utf8')).split('\n')[0] ?? '',
    );
    assert.equal(first.event, 'log_compacted');
    assert.equal(first.dropped, before.oldest - 1);
    const back = (await FileStore.open(out, 'abcdef03')).store;
    try {
      assert.deepEqual(back.eventTail(3), before);
      assert.equal(back.instance.stats().total_sessions, totalSessions);
    } finally {
      await back.close();
    }
  });
});
