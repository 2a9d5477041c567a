/**
 * Spare files (spare-files.ts): a replaced session file is kept and written
 * into again, but only once it is old enough, never while it still has its
 * session name, never past the pool's bounds; what a failure or a stop leaves
 * is never written through.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nodeFileSystem } from '../../../src/store/file/file-system.js';
import {
  removeSpareFiles,
  SPARE_MAX_BYTES,
  SPARE_MIN_AGE_MS,
  SpareFiles,
} from '../../../src/store/file/spare-files.js';
import { applyUnsyncedWrites, nodeSyncCalls } from '../../../src/store/file/unsynced-writes.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** A directory with sessions/ and spare/, and a pool whose clock the test moves. */
async function setUp(t: Parameters<typeof tempDir>[0], maxFiles = 8) {
  const dir = await tempDir(t);
  const sessions = join(dir, 'sessions');
  const spareDir = join(dir, 'spare');
  await mkdir(sessions);
  await mkdir(spareDir);
  const clock = { now: 0 };
  const spares = new SpareFiles(spareDir, maxFiles, SPARE_MIN_AGE_MS, () => clock.now);
  const file = (name: string) => join(sessions, name);
  const inode = (name: string) => statSync(file(name)).ino;
  return { sessions, spareDir, clock, spares, file, inode };
}

describe('spare files', () => {
  it('keeps a replaced file and writes a later file into it once it is old enough', async (t) => {
    const { spareDir, clock, spares, file, inode } = await setUp(t);
    applyUnsyncedWrites(
      [{ target: file('a.json'), content: 'a, the first version' }],
      nodeSyncCalls,
      spares,
    );
    assert.deepEqual(await readdir(spareDir), [], 'a new file replaces nothing');
    const first = inode('a.json');

    applyUnsyncedWrites([{ target: file('a.json'), content: 'a2' }], nodeSyncCalls, spares);
    assert.equal(await readFile(file('a.json'), 'utf8'), 'a2');
    assert.notEqual(inode('a.json'), first, 'replaced by rename, as always');
    const kept = await readdir(spareDir);
    assert.equal(kept.length, 1);
    assert.equal(statSync(join(spareDir, kept[0] as string)).ino, first);
    assert.equal(
      statSync(join(spareDir, kept[0] as string)).nlink,
      1,
      'the spare has no other name',
    );

    // Too young: a new temp file, the spare stays.
    clock.now += SPARE_MIN_AGE_MS - 1;
    applyUnsyncedWrites([{ target: file('b.json'), content: 'b' }], nodeSyncCalls, spares);
    assert.notEqual(inode('b.json'), first);
    assert.equal((await readdir(spareDir)).length, 1);

    clock.now += 1;
    applyUnsyncedWrites([{ target: file('c.json'), content: 'c' }], nodeSyncCalls, spares);
    assert.equal(inode('c.json'), first, 'written into the spare');
    assert.equal(await readFile(file('c.json'), 'utf8'), 'c', 'cut to its own length');
    assert.deepEqual(await readdir(spareDir), []);
  });

  it('writes a longer or equal file into a spare whole, and cuts a shorter one', async (t) => {
    for (const [old, next] of [
      ['12345', 'a longer file'],
      ['same!', 'equal'],
      ['a long old file', 'short'],
    ] as const) {
      const { clock, spares, file, inode } = await setUp(t);
      writeFileSync(file('old.json'), old);
      const kept = inode('old.json');
      applyUnsyncedWrites([{ target: file('old.json'), content: 'x' }], nodeSyncCalls, spares);
      clock.now += SPARE_MIN_AGE_MS;
      applyUnsyncedWrites([{ target: file('new.json'), content: next }], nodeSyncCalls, spares);
      assert.equal(inode('new.json'), kept, `written into the spare of "${old}"`);
      assert.equal(await readFile(file('new.json'), 'utf8'), next);
    }
  });

  it('looks for no file to keep when a write says its target is fresh', async (t) => {
    const { spareDir, spares, file } = await setUp(t);
    const links: string[] = [];
    const calls = {
      ...nodeSyncCalls,
      linkSync: (existing: string, newPath: string) => {
        links.push(existing);
        nodeSyncCalls.linkSync(existing, newPath);
      },
    };
    applyUnsyncedWrites([{ target: file('a.json'), content: 'a', fresh: true }], calls, spares);
    assert.equal(await readFile(file('a.json'), 'utf8'), 'a');
    // Only a hint: a file that is there after all is replaced, not kept.
    applyUnsyncedWrites([{ target: file('a.json'), content: 'a2', fresh: true }], calls, spares);
    assert.equal(await readFile(file('a.json'), 'utf8'), 'a2');
    assert.deepEqual(links, []);
    assert.deepEqual(await readdir(spareDir), []);
    applyUnsyncedWrites([{ target: file('a.json'), content: 'a3' }], calls, spares);
    assert.deepEqual(
      links,
      [file('a.json')],
      'a write not called fresh keeps the file it replaces',
    );
    assert.equal((await readdir(spareDir)).length, 1);
  });

  it('leaves a reader of the replaced file its version while the spare is young', async (t) => {
    const { clock, spares, file } = await setUp(t);
    applyUnsyncedWrites([{ target: file('a.json'), content: 'old a' }], nodeSyncCalls, spares);
    const reader = openSync(file('a.json'), 'r');
    t.after(() => closeSync(reader));
    applyUnsyncedWrites([{ target: file('a.json'), content: 'new a' }], nodeSyncCalls, spares);
    clock.now += SPARE_MIN_AGE_MS - 1;
    applyUnsyncedWrites([{ target: file('b.json'), content: 'b wrote' }], nodeSyncCalls, spares);
    const buffer = Buffer.alloc(64);
    const read = readSync(reader, buffer, 0, buffer.length, 0);
    assert.equal(buffer.subarray(0, read).toString(), 'old a');
  });

  it('keeps at most maxFiles spares, and no large ones', async (t) => {
    const { spareDir, spares, file } = await setUp(t, 2);
    for (const name of ['a.json', 'b.json', 'c.json']) {
      writeFileSync(file(name), 'old');
      applyUnsyncedWrites([{ target: file(name), content: 'new' }], nodeSyncCalls, spares);
    }
    assert.equal((await readdir(spareDir)).length, 2);

    const { spareDir: otherSpares, spares: other, file: otherFile } = await setUp(t);
    writeFileSync(otherFile('big.json'), 'x'.repeat(SPARE_MAX_BYTES + 1));
    applyUnsyncedWrites(
      [{ target: otherFile('big.json'), content: 'small' }],
      nodeSyncCalls,
      other,
    );
    assert.deepEqual(await readdir(otherSpares), []);
  });

  it('never keeps the live file when the rename fails, and never writes through a removed spare', async (t) => {
    const { spareDir, clock, spares, file } = await setUp(t);
    const fs = new FaultyFileSystem();
    writeFileSync(file('a.json'), 'a as it was');
    fs.fail('rename', 'EIO', { pathIncludes: 'a.json' });
    assert.throws(
      () => applyUnsyncedWrites([{ target: file('a.json'), content: 'lost' }], fs, spares),
      (error: NodeJS.ErrnoException) => error.code === 'EIO' && error.path === file('a.json'),
    );
    assert.deepEqual(await readdir(spareDir), [], 'the link to the live file is gone');
    assert.equal(spares.size, 0);
    assert.equal(await readFile(file('a.json'), 'utf8'), 'a as it was');

    // A spare kept, then removed by a stop: the next write makes a temp file instead.
    writeFileSync(file('b.json'), 'b');
    applyUnsyncedWrites([{ target: file('b.json'), content: 'b2' }], nodeSyncCalls, spares);
    assert.equal(spares.size, 1);
    await removeSpareFiles(nodeFileSystem, spareDir);
    clock.now += SPARE_MIN_AGE_MS;
    applyUnsyncedWrites([{ target: file('c.json'), content: 'c' }], nodeSyncCalls, spares);
    assert.equal(await readFile(file('c.json'), 'utf8'), 'c');
    assert.equal(spares.size, 0);
    assert.deepEqual(await readdir(spareDir), []);
  });

  it('removes a spare it could not write whole, and reports the failure', async (t) => {
    const { spareDir, clock, spares, file } = await setUp(t);
    writeFileSync(file('a.json'), 'a');
    applyUnsyncedWrites([{ target: file('a.json'), content: 'a2' }], nodeSyncCalls, spares);
    clock.now += SPARE_MIN_AGE_MS;
    const fs = new FaultyFileSystem();
    fs.fail('write', 'ENOSPC', { pathIncludes: 'spare', torn: true });
    assert.throws(
      () =>
        applyUnsyncedWrites([{ target: file('b.json'), content: 'b, never written' }], fs, spares),
      (error: NodeJS.ErrnoException) => error.code === 'ENOSPC' && error.path === file('b.json'),
    );
    assert.deepEqual(await readdir(spareDir), []);
    assert.deepEqual(
      (await readdir(join(spareDir, '..', 'sessions'))).sort(),
      ['a.json'],
      'no b.json, no temp file',
    );
  });

  it('removes the temp file an earlier write left when asked, though it writes a spare', async (t) => {
    const { sessions, clock, spares, file } = await setUp(t);
    writeFileSync(file('a.json'), 'a');
    applyUnsyncedWrites([{ target: file('a.json'), content: 'a2' }], nodeSyncCalls, spares);
    clock.now += SPARE_MIN_AGE_MS;
    writeFileSync(file('b.json.tmp'), 'what a kill left');
    applyUnsyncedWrites(
      [{ target: file('b.json'), content: 'b', staleTemp: true }],
      nodeSyncCalls,
      spares,
    );
    assert.equal(spares.size, 0, 'the spare was written');
    assert.deepEqual((await readdir(sessions)).sort(), ['a.json', 'b.json']);
  });

  it('runs on the writer thread: a store directory keeps spares between batches', async (t) => {
    const { sessions, spareDir, file } = await setUp(t);
    await writeFile(file('a.json'), 'a');
    const pool = { dir: spareDir, maxFiles: 4, minAgeMs: SPARE_MIN_AGE_MS };
    await nodeFileSystem.writeUnsynced([{ target: file('a.json'), content: 'a2' }], pool);
    assert.equal((await readdir(spareDir)).length, 1);
    await new Promise((resolve) => setTimeout(resolve, SPARE_MIN_AGE_MS + 50));
    await nodeFileSystem.writeUnsynced([{ target: file('b.json'), content: 'b' }], pool);
    assert.deepEqual(await readdir(spareDir), []);
    assert.deepEqual((await readdir(sessions)).sort(), ['a.json', 'b.json']);
    assert.equal(await readFile(file('b.json'), 'utf8'), 'b');
  });
});
