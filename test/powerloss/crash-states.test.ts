/**
 * The crash-state generator's models, on a trace recorded by hand: what each
 * keeps of data written but not synced, and of names changed in a directory
 * that was not synced after.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';
import { DiskModel, PAGE } from './crash-states.js';
import { RecordingFileSystem } from './recording-file-system.js';

/** A fixed sequence for `random`: each call takes the next value, round and round. */
function sequence(...values: number[]): () => number {
  let at = 0;
  return () => values[at++ % values.length] as number;
}

describe('the crash-state generator', () => {
  it('keeps synced data and names, and under each model only what the model allows of the rest', async (t) => {
    const dir = await tempDir(t);
    const fs = new RecordingFileSystem(dir);
    const syncDir = async () => {
      const handle = await fs.open(dir, 'r');
      await handle.sync();
      await handle.close();
    };
    // a: two pages synced, then both pages changed and a third added, not synced.
    const a = await fs.open(join(dir, 'a'), 'w');
    await a.writeFile(Buffer.alloc(2 * PAGE, 'o'));
    await a.datasync();
    await syncDir();
    fs.ack('a synced');
    await a.close();
    const again = await fs.open(join(dir, 'a'), 'r+');
    await again.write(Buffer.alloc(3 * PAGE, 'n'));
    await again.close();
    const beforeRename = fs.ops.length;
    // b: written and synced, renamed to c, the directory not synced after.
    const b = await fs.open(join(dir, 'b'), 'wx');
    await b.writeFile('bee');
    await b.datasync();
    await b.close();
    await syncDir();
    await fs.rename(join(dir, 'b'), join(dir, 'c'));
    const trace = fs.trace();
    const build = (count: number, model: 'lost' | 'pages' | 'names', random: () => number) => {
      const target = join(dir, `state-${model}-${count}-${Math.random()}`.replace('.', ''));
      new DiskModel(trace, count).materialize(target, model, random);
      return target;
    };

    const lost = build(trace.ops.length, 'lost', sequence(0));
    assert.equal(
      readFileSync(join(lost, 'a'), 'latin1'),
      'o'.repeat(2 * PAGE),
      'unsynced data lost',
    );
    assert.equal(readFileSync(join(lost, 'c'), 'utf8'), 'bee', 'the rename is kept by "lost"');
    assert.equal(existsSync(join(lost, 'b')), false);

    // pages: the new size, then page 0 old, page 1 new, page 2 old (zeros: it never was).
    const pages = build(trace.ops.length, 'pages', sequence(0.9, 0.1, 0.9, 0.1));
    const kept = readFileSync(join(pages, 'a'), 'latin1');
    assert.equal(kept.length, 3 * PAGE);
    assert.equal(kept.slice(0, PAGE), 'o'.repeat(PAGE));
    assert.equal(kept.slice(PAGE, 2 * PAGE), 'n'.repeat(PAGE));
    assert.equal(kept.slice(2 * PAGE), '\0'.repeat(PAGE));

    // names: none of the changes since the directory's last sync (the rename undone).
    const undone = build(trace.ops.length, 'names', sequence(0));
    assert.equal(readFileSync(join(undone, 'b'), 'utf8'), 'bee', 'the old name, its synced data');
    assert.equal(existsSync(join(undone, 'c')), false);
    const done = build(trace.ops.length, 'names', sequence(0.99));
    assert.equal(readFileSync(join(done, 'c'), 'utf8'), 'bee');
    assert.equal(existsSync(join(done, 'b')), false, 'a rename is one change: never both names');

    // Before b existed at all, no model shows it.
    for (const model of ['lost', 'pages', 'names'] as const) {
      const early = build(beforeRename, model, sequence(0.99));
      assert.deepEqual(existsSync(join(early, 'b')) || existsSync(join(early, 'c')), false, model);
    }
    assert.equal(new DiskModel(trace, trace.ops.length).hasUnsynced(), true);
  });
});
