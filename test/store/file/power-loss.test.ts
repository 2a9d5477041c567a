/**
 * The defects the power-loss test (test/powerloss/) found, each as the state
 * a power cut left, built by hand: what the disk kept is what was fsynced;
 * names whose directory was not fsynced, and bytes never synced, may be back,
 * gone, or zeros. Each test fails on the code before its fix.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { shutdownEvent } from '../../../src/domain/event.js';
import { repairDataDirectory } from '../../../src/inspector/repair.js';
import { verifyDataDirectory } from '../../../src/inspector/verify.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import { segmentRecords, writeAtRecordsEnd } from '../../helpers/journal-segment.js';
import { ORIGINAL_STATS, writeOriginalDataDir } from '../../helpers/original-data-dir.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** Opens, starts, runs `work`, stops cleanly: the run before the cut. */
async function run(dir: string, work: (store: FileStore) => Promise<void>): Promise<void> {
  const { store } = await FileStore.open(dir, 'aaaaaaaa');
  await store.startInstance();
  await work(store);
  await store.stopInstance(shutdownEvent('aaaaaaaa', { reason: 'test', uptimeSeconds: 1 }));
  await store.close();
}

async function reopen(t: TestContext, dir: string): Promise<FileStore> {
  const { store } = await FileStore.open(dir, 'bbbbbbbb');
  t.after(() => store.close().catch(() => undefined));
  return store;
}

/** The machine restarted: the files were written during another boot. */
async function markEarlierBoot(dir: string): Promise<void> {
  const marker = await readJson(join(dir, 'instance.json'));
  await writeFile(
    join(dir, 'instance.json'),
    JSON.stringify({ ...marker, view_boot_id: 'earlier' }),
  );
}

describe('the file store after a power cut', () => {
  it("counts total_sessions exactly when stats.json went back to the original's (sessions it counted that the log never had)", async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir); // total_sessions 4; its log has 2 session_created
    const original = await readFile(join(dir, 'stats.json'));
    await run(dir, async (store) => {
      for (let i = 0; i < 3; i++) await sessionsOf(store).create({ name: `s${i}` });
    });
    // The rename of every later stats.json undone: the original's is back.
    await writeFile(join(dir, 'stats.json'), original);
    const store = await reopen(t, dir);
    assert.equal(store.instance.stats().total_sessions, ORIGINAL_STATS.total_sessions + 3);
  });

  it('trusts snapshot.jsonl when the last journal segment ends in zeros (appends that never reached an fsync)', async (t) => {
    const dir = await tempDir(t);
    const ids: string[] = [];
    await run(dir, async (store) => {
      for (let i = 0; i < 5; i++) ids.push((await sessionsOf(store).create({ name: `s${i}` })).id);
      await store.writeBehind.snapshot(); // the journal segments with the creates are gone now
      await sessionsOf(store).update(ids[0] as string, { name: 'changed' });
    });
    // The session files are a view written unsynced: a cut can leave them empty.
    for (const id of ids) await writeFile(join(dir, 'sessions', `${id}.json`), '');
    const segments = readJournal(join(dir, 'journal'));
    const last = segments.at(-1)?.file as string;
    // A page never written (zeros), then a later page that was: a record of a
    // change never synced, so never acknowledged (the rename's own line again).
    const path = join(dir, 'journal', last);
    const lines = (await segmentRecords(path)).toString('utf8').trim().split('\n');
    assert.match(lines.at(-1) ?? '', /"name":"changed"/);
    await writeAtRecordsEnd(
      path,
      Buffer.concat([Buffer.alloc(4096), Buffer.from(`${lines.at(-1)}\n`)]),
    );
    await markEarlierBoot(dir);

    const store = await reopen(t, dir);
    assert.deepEqual(
      store.table.list().map((session) => session.name),
      ['changed', 's1', 's2', 's3', 's4'],
      'every session, from the snapshot and the journal (not from the empty files)',
    );
    const quarantined = await readdir(join(dir, 'quarantine'));
    assert.ok(
      quarantined.some((name) => name.endsWith(`journal-${last}-tail.bin`)),
      `${quarantined}`,
    );
    assert.equal(readJournal(join(dir, 'journal')).find((s) => s.file === last)?.damagedBytes, 0);
  });

  it('removes, when it writes the files again, those of deleted sessions a cut brought back and temp files', async (t) => {
    const dir = await tempDir(t);
    let kept = '';
    let deleted = '';
    await run(dir, async (store) => {
      kept = (await sessionsOf(store).create({ name: 'kept' })).id;
      deleted = (await sessionsOf(store).create({ name: 'deleted' })).id;
      await store.writeBehind.snapshot();
      await sessionsOf(store).delete(deleted);
    });
    // The unlink undone (its directory was never synced after it); a temp file left behind.
    await writeFile(join(dir, 'sessions', `${deleted}.json`), '');
    await writeFile(join(dir, 'sessions', `${kept}.json.tmp`), '{"half":');
    await markEarlierBoot(dir);
    const store = await reopen(t, dir);
    await store.startInstance();
    await store.writeBehind.rebuilt();
    assert.deepEqual(await readdir(join(dir, 'sessions')), [`${kept}.json`]);
  });

  it('verify counts creates the journal holds when the log lost their events (a start restores them)', async (t) => {
    const dir = await tempDir(t);
    let logSize = 0;
    await run(dir, async (store) => {
      logSize = (await readFile(join(dir, 'events.jsonl'))).length;
      for (let i = 0; i < 3; i++) await sessionsOf(store).create({ name: `s${i}` });
    });
    // Appends to events.jsonl not yet synced are lost; the journal (synced
    // before every answer) holds the creates, and stats.json is behind.
    await truncate(join(dir, 'events.jsonl'), logSize);
    const stats = await readJson(join(dir, 'stats.json'));
    await writeFile(join(dir, 'stats.json'), JSON.stringify({ ...stats, total_sessions: 0 }));
    const report = await verifyDataDirectory(dir);
    assert.deepEqual(
      report.findings.map((finding) => finding.problem),
      [],
      'nothing wrong: a start restores the events and counts the three creates',
    );
    const store = await reopen(t, dir);
    assert.equal(store.instance.stats().total_sessions, 3);
  });

  it('inspect --repair writes the files from snapshot.jsonl and the journal before rolling forward into them', async (t) => {
    const dir = await tempDir(t);
    const ids: string[] = [];
    let deleted = '';
    await run(dir, async (store) => {
      for (let i = 0; i < 3; i++) ids.push((await sessionsOf(store).create({ name: `s${i}` })).id);
      deleted = (await sessionsOf(store).create({ name: 'deleted' })).id;
      await sessionsOf(store).delete(deleted);
      await store.writeBehind.snapshot();
      await sessionsOf(store).update(ids[1] as string, { name: 'renamed' });
    });
    // The view as a cut left it: one file empty, one stale, a deleted one back.
    await writeFile(join(dir, 'sessions', `${ids[0]}.json`), '');
    await writeFile(join(dir, 'sessions', `${ids[2]}.json`), '{}');
    await writeFile(
      join(dir, 'sessions', `${deleted}.json`),
      JSON.stringify({
        id: deleted,
        name: 'deleted',
        data: {},
        created_at: '2026-12-02T00:00:00Z',
        last_active: '2026-12-02T00:00:00Z',
        access_count: 0,
      }),
    );
    await markEarlierBoot(dir);
    const done = await repairDataDirectory(dir);
    const report = done.join('\n');
    for (const id of [ids[0], ids[2]]) {
      assert.match(report, new RegExp(`wrote sessions/${id}\\.json from snapshot\\.jsonl`));
      assert.match(report, new RegExp(`moved sessions/${id}\\.json \\(.*\\) to quarantine/`));
    }
    assert.match(report, new RegExp(`moved sessions/${deleted}\\.json \\(it holds no session`));
    const names = await Promise.all(
      ids.map(async (id) => (await readJson(join(dir, 'sessions', `${id}.json`))).name),
    );
    assert.deepEqual(names, ['s0', 'renamed', 's2']);
    assert.equal(
      (await readdir(join(dir, 'sessions'))).length,
      3,
      'the deleted session stays deleted',
    );
    // Nothing is deleted: what the cut left is moved aside, for a person. The
    // renamed session's file, past the journal the repair dropped, is what the
    // next start adopts (the log names the change).
    assert.equal((await readdir(join(dir, 'quarantine'))).length, 3);
    assert.deepEqual(
      (await verifyDataDirectory(dir)).findings.map((finding) =>
        finding.adoptedByStart ? 'adopted' : finding.forReview,
      ),
      ['adopted', true],
    );
    const store = await reopen(t, dir);
    assert.deepEqual(
      store.table.list().map((session) => session.name),
      ['s0', 'renamed', 's2'],
    );
  });

  it('cuts the log at the first line after the snapshot that is no event (pages a cut kept out of order), and trusts the snapshot', async (t) => {
    const dir = await tempDir(t);
    const ids: string[] = [];
    await run(dir, async (store) => {
      for (let i = 0; i < 2; i++) ids.push((await sessionsOf(store).create({ name: `s${i}` })).id);
      await store.writeBehind.snapshot();
      for (let i = 2; i < 4; i++) ids.push((await sessionsOf(store).create({ name: `s${i}` })).id);
    });
    // The page that held the start of s2's event never reached the disk (zeros);
    // later pages did. And the view: s0's file empty.
    const log = await readFile(join(dir, 'events.jsonl'), 'utf8');
    const line = log.split('\n').find((text) => text.includes(ids[2] as string)) as string;
    const at = Buffer.byteLength(log.slice(0, log.indexOf(line)));
    const bytes = Buffer.from(log);
    bytes.fill(0, at, at + 30);
    await writeFile(join(dir, 'events.jsonl'), bytes);
    await writeFile(join(dir, 'sessions', `${ids[0]}.json`), '');
    await markEarlierBoot(dir);
    const before = await verifyDataDirectory(dir);
    assert.deepEqual(
      before.findings.filter((finding) => finding.repair === undefined),
      [],
      'all a start can repair',
    );

    const store = await reopen(t, dir);
    assert.deepEqual(
      store.table.list().map((session) => session.name),
      ['s0', 's1', 's2', 's3'],
    );
    await store.startInstance();
    await store.writeBehind.rebuilt();
    await store.stopInstance(shutdownEvent('bbbbbbbb', { reason: 'test', uptimeSeconds: 1 }));
    await store.close();
    const after = await verifyDataDirectory(dir);
    assert.deepEqual(
      after.findings
        .filter((finding) => finding.forReview !== true)
        .map((finding) => finding.problem),
      [],
    );
    const created =
      (await readFile(join(dir, 'events.jsonl'), 'utf8')).split('"session_created"').length - 1;
    assert.equal(created, 4, 'the creates cut off were restored from the journal');
  });
});
