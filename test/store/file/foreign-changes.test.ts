import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FileStore } from '../../../src/store/file/file-store.js';
import { findForeignChanges } from '../../../src/store/file/foreign-changes.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import { OriginalWriter } from '../../helpers/original-writer.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

async function nameOnDisk(dir: string, id: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, 'sessions', `${id}.json`), 'utf8')).name;
}

describe('changes another program made to sessions/', () => {
  it('are found by reading only the files named, or those changed since a time', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    const [a, b] = [
      await sessionsOf(store).create({ name: 'a' }),
      await sessionsOf(store).create({ name: 'b' }),
    ];
    await store.close();
    const held = new Map(
      [a, b].map((session) => [session.id, { json: JSON.stringify(session) }] as const),
    );
    const original = new OriginalWriter(dir);
    await original.update(a.id, { name: 'a-2' });
    const c = await original.create('c');

    const named = await findForeignChanges(join(dir, 'sessions'), held, {
      kind: 'logged',
      ids: new Set([a.id, c.id]),
    });
    assert.equal(named.filesRead, 2, 'one read a session named, however often');
    assert.deepEqual(
      named.changes.map((change) => [change.kind, change.id]),
      [
        ['updated', a.id],
        ['created', c.id],
      ],
    );
    // Every file changed since time 0: all three read, the same two changes.
    const every = await findForeignChanges(join(dir, 'sessions'), held, {
      kind: 'every-file',
      since: 0n,
    });
    assert.equal(every.filesRead, 3);
    assert.deepEqual(every.changes.map((change) => change.id).sort(), [a.id, c.id].sort());
    // Since a time after the files were written: only the name it does not hold is read.
    const later = await findForeignChanges(join(dir, 'sessions'), held, {
      kind: 'every-file',
      since: BigInt(Date.now() + 60_000) * 1_000_000n,
    });
    assert.equal(later.filesRead, 1);
    assert.deepEqual(
      later.changes.map((change) => change.id),
      [c.id],
    );
  });

  it('adopted after a kill are never written over by a checkpoint the full backlog runs', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await sessionsOf(first.store).create({ name: `s${i}` })).id);
    await first.store.writeBehind.checkpoint();
    for (const id of ids) await sessionsOf(first.store).update(id, { name: 'ours' });
    const copy = await killedCopy(t, dir); // the updates are in the journal only
    await first.store.close();
    const target = ids[2] as string;
    await new OriginalWriter(copy).update(target, { name: 'the-original' });

    // Five sessions to write again after the kill, against a backlog of two:
    // the adoption's own commit has to wait for a checkpoint.
    const { store } = await FileStore.open(copy, 'bbbbbbbb', undefined, { checkpointBacklog: 2 });
    t.after(() => store.close().catch(() => undefined));
    assert.equal(store.getSession(target)?.name, 'the-original');
    assert.equal(await nameOnDisk(copy, target), 'the-original');
    await store.close();
    assert.equal(await nameOnDisk(copy, target), 'the-original');
    assert.equal(await nameOnDisk(copy, ids[1] as string), 'ours');
  });
});
