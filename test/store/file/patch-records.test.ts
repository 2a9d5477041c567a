/**
 * The journal records what a write changed: a write of nothing, or of one
 * key, to a large session is a line of its own size, and every way a start
 * replays it (over the snapshot, rolled forward onto the files) gives the
 * session the write made; a patch with nothing to apply to is set aside,
 * never guessed.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { shutdownEvent } from '../../../src/domain/event.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

async function openStore(t: TestContext, dir: string) {
  const opened = await FileStore.open(dir, 'deadbeef');
  t.after(() => opened.store.close().catch(() => undefined));
  return opened;
}

/** The journal's lines, without the zeros written ahead of them. */
async function journalLines(dir: string): Promise<string[]> {
  const lines: string[] = [];
  for (const file of (await readdir(join(dir, 'journal'))).sort()) {
    const text = (await readFile(join(dir, 'journal', file), 'utf8')).replace(/\0+$/, '');
    lines.push(...text.split('\n').filter((line) => line !== '' && !line.startsWith('{"journal"')));
  }
  return lines;
}

const BIG = { blob: 'x'.repeat(200_000), keep: { a: 1, b: 2 } };

/** A large session in the snapshot, then four writes that change little or nothing of it. */
async function writeLittle(t: TestContext, dir: string) {
  const { store } = await openStore(t, dir);
  const sessions = sessionsOf(store);
  const created = await sessions.create({ name: 'big', data: BIG });
  await store.writeBehind.snapshot(); // the session is in the snapshot (and its file), the journal empty
  await sessions.patch(created.id, {});
  await sessions.update(created.id, { data: structuredClone(BIG) });
  await sessions.update(created.id, { name: 'renamed' });
  const last = await sessions.patch(created.id, {
    data: { keep: { b: null, c: 3 }, added: [1] },
  });
  return { store, id: created.id, last };
}

describe('journal records of what a write changed', () => {
  it('journals writes that change nothing, the name or one key of a large session in lines of their own size, and replays them over the snapshot after a kill', async (t) => {
    const dir = await tempDir(t);
    const { store, id, last } = await writeLittle(t, dir);
    const lines = await journalLines(dir);
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { op: string }).op),
      ['patch', 'patch', 'patch', 'patch'],
    );
    for (const line of lines) assert.ok(line.length < 500, `a line of ${line.length} bytes`);
    const served = JSON.stringify(store.getSession(id));
    assert.equal(served, JSON.stringify(last));

    const copy = await killedCopy(t, dir);
    const reopened = await openStore(t, copy);
    assert.equal(JSON.stringify(reopened.store.getSession(id)), served, 'the same bytes');
    // New data for a PUT is in the request anyway: journaled whole.
    await sessionsOf(reopened.store).update(id, { data: { other: true } });
    const ops = readJournal(join(copy, 'journal'))
      .flatMap((segment) => segment.records)
      .map((record) => record.op);
    assert.equal(ops.at(-1), 'put');
  });

  it('writes a session file again for accesses counted only every 30 s, or at a clean stop, not every checkpoint', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const sessions = sessionsOf(store);
    const created = await sessions.create({ name: 'counted', data: { a: 1 } });
    await store.writeBehind.checkpoint();
    const file = join(dir, 'sessions', `${created.id}.json`);
    const accessCount = async () =>
      (JSON.parse(await readFile(file, 'utf8')) as { access_count: number }).access_count;
    await sessions.patch(created.id, {});
    await sessions.update(created.id, {});
    await store.writeBehind.checkpoint();
    assert.equal(await accessCount(), 0, 'the file lags by the accesses only');
    await sessions.patch(created.id, { data: { a: 2 } });
    await store.writeBehind.checkpoint();
    assert.equal(await accessCount(), 3, 'a change of data writes it, counts and all');
    await sessions.patch(created.id, {});
    await store.close();
    assert.equal(await accessCount(), 4, 'a clean stop leaves every file current');
  });

  it('leaves no seal over a file that lacks a count committed while the store stopped', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'deadbeef');
    await store.startInstance();
    const sessions = sessionsOf(store);
    const created = await sessions.create({ name: 'n', data: { a: 1 } });
    await store.writeBehind.checkpoint();
    await store.stopInstance(shutdownEvent('deadbeef', { reason: 'test', uptimeSeconds: 1 }));
    const counted = sessions.patch(created.id, {}); // commits during the close's checkpoint
    await store.close();
    const acknowledged = (await counted).access_count;
    assert.equal(acknowledged, 1);
    // Without the snapshot a start trusts sealed files over the journal: none may be sealed stale.
    await rm(join(dir, 'snapshot.jsonl'));
    const { store: again } = await openStore(t, dir);
    assert.equal(again.getSession(created.id)?.access_count, acknowledged);
  });

  it('rolls patches forward onto the session files when the snapshot is gone', async (t) => {
    const dir = await tempDir(t);
    const { store, id } = await writeLittle(t, dir);
    const served = store.getSession(id);
    const copy = await killedCopy(t, dir);
    await rm(join(copy, 'snapshot.jsonl'));
    const { store: reopened, recovery } = await openStore(t, copy);
    assert.deepEqual(reopened.getSession(id), served);
    assert.deepEqual(recovery.journal?.unresolved, []);
  });

  it('does not trust a snapshot that lacks a session the journal patches: it rolls the journal onto the files instead', async (t) => {
    const dir = await tempDir(t);
    const { store, id } = await writeLittle(t, dir);
    const served = store.getSession(id);
    const copy = await killedCopy(t, dir);
    // Another program's edit: the session's line taken out of the snapshot (its count mended).
    const snapshot = join(copy, 'snapshot.jsonl');
    const lines = (await readFile(snapshot, 'utf8')).split('\n').filter((line) => line !== '');
    const kept = lines.filter((line) => !line.includes(id));
    const sessions = kept.length - 2;
    kept[kept.length - 1] = JSON.stringify({ end: sessions });
    await writeFile(snapshot, `${kept.join('\n')}\n`);
    const { store: reopened } = await openStore(t, copy);
    assert.deepEqual(reopened.getSession(id), served, 'patched onto its file');
  });

  it('sets the journal aside, serving nothing it cannot rebuild, when neither the snapshot nor a file holds a session it patches', async (t) => {
    const dir = await tempDir(t);
    const { id } = await writeLittle(t, dir);
    const copy = await killedCopy(t, dir);
    await rm(join(copy, 'snapshot.jsonl'));
    await rm(join(copy, 'sessions', `${id}.json`));
    const { store: reopened, recovery } = await openStore(t, copy);
    assert.equal(reopened.getSession(id), undefined, 'no half session');
    assert.deepEqual(recovery.journal?.unresolved, [id]);
    const setAside = await readdir(join(copy, 'quarantine'));
    assert.ok(
      setAside.some((name) => name.includes('journal-')),
      `the segment holding its changes is in quarantine/: ${setAside.join(', ')}`,
    );
  });
});
