/**
 * The checkpoint's writer (unsynced-writes.ts, spare-files.ts) never writes
 * through a symlink: not at a session file's name, not at its temp file's,
 * not at a spare's; what it finds there is moved to quarantine/, never
 * deleted, and the file outside keeps its bytes.
 */
import assert from 'node:assert/strict';
import { linkSync, lstatSync, readdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nodeFileSystem } from '../../../src/store/file/file-system.js';
import {
  removeSpareFiles,
  SPARE_MIN_AGE_MS,
  SpareFiles,
} from '../../../src/store/file/spare-files.js';
import { applyUnsyncedWrites, nodeSyncCalls } from '../../../src/store/file/unsynced-writes.js';
import { tempDir } from '../../helpers/temp-dir.js';

async function setUp(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const outsideDir = await tempDir(t);
  const sessions = join(dir, 'sessions');
  const spareDir = join(dir, 'spare');
  const quarantine = join(dir, 'quarantine');
  await mkdir(sessions);
  await mkdir(spareDir);
  const outside = join(outsideDir, 'precious');
  await writeFile(outside, 'precious bytes, not the service’s');
  const clock = { now: 0 };
  const spares = new SpareFiles(spareDir, 8, SPARE_MIN_AGE_MS, () => clock.now);
  return { dir, sessions, spareDir, quarantine, outside, clock, spares };
}

describe('the checkpoint writer never writes through a link', () => {
  it('moves a symlink found at a session file to quarantine and writes the file beside it', async (t) => {
    const { sessions, quarantine, outside, clock, spares } = await setUp(t);
    const target = join(sessions, 'a.json');
    symlinkSync(outside, target);
    for (let round = 0; round < 4; round++) {
      const setAside = applyUnsyncedWrites(
        [{ target, content: `a${round}` }],
        nodeSyncCalls,
        spares,
        quarantine,
      );
      assert.equal(setAside.length, round === 0 ? 1 : 0);
      if (round === 0) assert.match(setAside[0]?.problem ?? '', /symbolic link/);
      clock.now += SPARE_MIN_AGE_MS + 1;
    }
    assert.equal(readFileSync(target, 'utf8'), 'a3');
    assert.ok(lstatSync(target).isFile());
    const moved = readdirSync(quarantine);
    assert.equal(moved.length, 1);
    assert.ok(lstatSync(join(quarantine, moved[0] as string)).isSymbolicLink());
    assert.equal(readFileSync(outside, 'utf8'), 'precious bytes, not the service’s');
  });

  it('fails rather than writes when it has no quarantine to move a link to', async (t) => {
    const { sessions, outside } = await setUp(t);
    const target = join(sessions, 'a.json');
    symlinkSync(outside, target);
    assert.throws(() => applyUnsyncedWrites([{ target, content: 'x' }], nodeSyncCalls), {
      code: 'EUNSAFE',
    });
    assert.ok(lstatSync(target).isSymbolicLink());
    assert.equal(readFileSync(outside, 'utf8'), 'precious bytes, not the service’s');
  });

  it('never writes through a symlink planted at the temp file name', async (t) => {
    const { sessions, quarantine, outside } = await setUp(t);
    const target = join(sessions, 'b.json');
    symlinkSync(outside, `${target}.tmp`);
    const setAside = applyUnsyncedWrites(
      [{ target, content: 'b' }],
      nodeSyncCalls,
      null,
      quarantine,
    );
    assert.equal(readFileSync(target, 'utf8'), 'b');
    assert.deepEqual(
      setAside.map((entry) => entry.path),
      [`${target}.tmp`],
    );
    assert.equal(readFileSync(outside, 'utf8'), 'precious bytes, not the service’s');
  });

  it('skips a spare that was replaced by a symlink or hard-linked elsewhere', async (t) => {
    const { sessions, spareDir, outside, clock, spares, quarantine } = await setUp(t);
    const write = (name: string, content: string) =>
      applyUnsyncedWrites(
        [{ target: join(sessions, name), content }],
        nodeSyncCalls,
        spares,
        quarantine,
      );
    write('a.json', 'a1');
    write('a.json', 'a2'); // keeps a1's inode as a spare
    write('c.json', 'c1');
    write('c.json', 'c2'); // a second spare
    const [first, second] = (await readdir(spareDir)).sort();
    // Someone swaps the first spare for a link, and hard-links the second.
    renameSync(join(spareDir, first as string), join(sessions, 'moved-away'));
    symlinkSync(outside, join(spareDir, first as string));
    linkSync(join(spareDir, second as string), join(sessions, 'backup-copy'));
    const backup = readFileSync(join(sessions, 'backup-copy'), 'utf8');
    clock.now += SPARE_MIN_AGE_MS + 1;
    write('d.json', 'd, written to a new temp file');
    assert.equal(readFileSync(join(sessions, 'd.json'), 'utf8'), 'd, written to a new temp file');
    assert.equal(readFileSync(outside, 'utf8'), 'precious bytes, not the service’s');
    assert.equal(readFileSync(join(sessions, 'backup-copy'), 'utf8'), backup);

    // A start or a stop removes the spares, and quarantines the planted link.
    await removeSpareFiles(nodeFileSystem, spareDir, quarantine);
    assert.deepEqual(await readdir(spareDir), []);
    const moved = await readdir(quarantine);
    assert.equal(moved.length, 1);
    assert.match(moved[0] as string, /spare-/);
    assert.equal(await readFile(outside, 'utf8'), 'precious bytes, not the service’s');
  });
});
