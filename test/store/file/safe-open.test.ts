/**
 * The safe primitives of the data directory (store/file/safe-open.ts): no
 * symlink followed, no FIFO opened so that it hangs, no file read whole past
 * its bound, and what is refused named as a typed problem.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  linkSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dataDirectoryHazards } from '../../../src/store/file/data-dir-safety.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import { dataLayout, readTextIfPresent } from '../../../src/store/file/layout.js';
import {
  checkDirectorySync,
  createNewFileSync,
  type FileProblem,
  isFileProblem,
  MAX_WHOLE_FILE_BYTES,
  openNoFollow,
  openOwnFileForWritingSync,
  openReadStream,
  openRegularFileSync,
  readRegularFileSync,
} from '../../../src/store/file/safe-open.js';
import { readSessionFile } from '../../../src/store/file/session-files.js';
import { tempDir } from '../../helpers/temp-dir.js';

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

function kindOf(value: unknown): string {
  assert.ok(isFileProblem(value), `expected a problem, got ${String(value)}`);
  return (value as FileProblem).kind;
}

describe('safe opening in the data directory', () => {
  it('reads a regular file whole and says null for a missing one', async (t) => {
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'a.json'), '{"a":1}');
    assert.equal(String(readRegularFileSync(join(dir, 'a.json'))), '{"a":1}');
    assert.equal(readRegularFileSync(join(dir, 'none.json')), null);
    assert.equal(await readTextIfPresent(join(dir, 'a.json')), '{"a":1}');
    assert.equal(await readTextIfPresent(join(dir, 'none.json')), null);
  });

  it('never follows a symlink, to a file outside or to /dev/zero', async (t) => {
    const dir = await tempDir(t);
    const outside = await tempDir(t);
    writeFileSync(join(outside, 'secret'), 'outside');
    symlinkSync(join(outside, 'secret'), join(dir, 'link.json'));
    symlinkSync('/dev/zero', join(dir, 'zero.json'));
    assert.equal(kindOf(readRegularFileSync(join(dir, 'link.json'))), 'symlink');
    assert.equal(kindOf(readRegularFileSync(join(dir, 'zero.json'))), 'symlink');
    assert.equal(kindOf(await readTextIfPresent(join(dir, 'link.json'))), 'symlink');
    await assert.rejects(openNoFollow(join(dir, 'link.json'), 'a'), { code: 'EUNSAFE' });
    await assert.rejects(openNoFollow(join(dir, 'link.json'), 'r+'), { code: 'EUNSAFE' });
    await assert.rejects(openNoFollow(join(dir, 'link.json'), 'w'), { code: 'EUNSAFE' });
    assert.throws(() => openOwnFileForWritingSync(join(dir, 'link.json')), { code: 'EUNSAFE' });
    // O_EXCL never creates through a link.
    assert.throws(() => createNewFileSync(join(dir, 'link.json')), { code: 'EEXIST' });
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'outside');
  });

  it('never hangs on a FIFO, reading or writing', async (t) => {
    const dir = await tempDir(t);
    mkfifo(join(dir, 'pipe.json'));
    assert.equal(kindOf(readRegularFileSync(join(dir, 'pipe.json'))), 'fifo');
    assert.equal(kindOf(await readTextIfPresent(join(dir, 'pipe.json'))), 'fifo');
    await assert.rejects(openNoFollow(join(dir, 'pipe.json'), 'a'), { code: 'EUNSAFE' });
    await assert.rejects(openNoFollow(join(dir, 'pipe.json'), 'r'), { code: 'EUNSAFE' });
    await assert.rejects(openReadStream(join(dir, 'pipe.json')), { code: 'EUNSAFE' });
  });

  it('refuses a file over the bound before reading it, a sparse 180 MB one too', async (t) => {
    const dir = await tempDir(t);
    const big = join(dir, 'big.json');
    writeFileSync(big, '');
    truncateSync(big, 180 * 1024 * 1024);
    const before = process.memoryUsage().rss;
    assert.equal(kindOf(readRegularFileSync(big)), 'too-big');
    assert.equal(kindOf(await readTextIfPresent(big)), 'too-big');
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    writeFileSync(join(dir, 'small'), 'x'.repeat(100));
    assert.equal(kindOf(readRegularFileSync(join(dir, 'small'), 99)), 'too-big');
    assert.equal(String(readRegularFileSync(join(dir, 'small'), 100)).length, 100);
    assert.equal(MAX_WHOLE_FILE_BYTES, 16 * 1024 * 1024);
  });

  it('refuses a folder where a file is wanted, and a link where a folder is', async (t) => {
    const dir = await tempDir(t);
    const other = await tempDir(t);
    mkdirSync(join(dir, 'folder.json'));
    assert.equal(kindOf(openRegularFileSync(join(dir, 'folder.json'))), 'directory');
    symlinkSync(other, join(dir, 'sessions'));
    assert.equal(kindOf(checkDirectorySync(join(dir, 'sessions'))), 'symlink');
    assert.equal(checkDirectorySync(join(dir, 'none')), 'missing');
    assert.equal(checkDirectorySync(dir), 'ok');
  });

  it('writes into a kept file only when it has no other name', async (t) => {
    const dir = await tempDir(t);
    writeFileSync(join(dir, 'own'), 'a');
    closeSync(openOwnFileForWritingSync(join(dir, 'own')));
    linkSync(join(dir, 'own'), join(dir, 'backup'));
    assert.throws(() => openOwnFileForWritingSync(join(dir, 'own')), {
      code: 'EUNSAFE',
      message: /2 names/,
    });
  });

  it('reads a session file that is a link, a FIFO, too big or not UTF-8 as unreadable', async (t) => {
    const dir = await tempDir(t);
    const id = '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c';
    symlinkSync('/dev/zero', join(dir, `${id}.json`));
    const link = readSessionFile(dir, `${id}.json`);
    assert.equal(link?.kind, 'unreadable');
    assert.match(link?.kind === 'unreadable' ? link.problem : '', /symbolic link/);
    mkfifo(join(dir, 'pipe.json'));
    const pipe = readSessionFile(dir, 'pipe.json');
    assert.match(pipe?.kind === 'unreadable' ? pipe.problem : '', /FIFO/);
    writeFileSync(join(dir, 'latin1.json'), Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x7d]));
    const latin1 = readSessionFile(dir, 'latin1.json');
    assert.match(latin1?.kind === 'unreadable' ? latin1.problem : '', /not UTF-8/);
  });

  it('refuses a journal segment that is a link rather than reading its target', async (t) => {
    const dir = await tempDir(t);
    const outside = await tempDir(t);
    writeFileSync(join(outside, 'segment'), '{"journal":1,"events_offset":0}\n');
    mkdirSync(join(dir, 'journal'));
    symlinkSync(join(outside, 'segment'), join(dir, 'journal', '0000000001.jsonl'));
    assert.throws(() => readJournal(join(dir, 'journal')), { code: 'EUNSAFE' });
    const hazards = dataDirectoryHazards(dataLayout(dir));
    assert.deepEqual(
      hazards.map((hazard) => [hazard.name, hazard.problem.kind]),
      [['journal/0000000001.jsonl', 'symlink']],
    );
  });

  it('lists every folder and file of the layout that is not what it must be', async (t) => {
    const dir = await tempDir(t);
    const other = await tempDir(t);
    symlinkSync(other, join(dir, 'sessions'));
    mkfifo(join(dir, 'events.jsonl'));
    writeFileSync(join(other, 'stats.json'), '{}');
    symlinkSync(join(other, 'stats.json'), join(dir, 'stats.json'));
    mkdirSync(join(dir, 'quarantine'));
    writeFileSync(join(dir, 'instance.json'), '{}');
    const hazards = dataDirectoryHazards(dataLayout(dir));
    assert.deepEqual(hazards.map((hazard) => [hazard.name, hazard.problem.kind]).sort(), [
      ['events.jsonl', 'fifo'],
      ['sessions/', 'symlink'],
      ['stats.json', 'symlink'],
    ]);
  });
});
