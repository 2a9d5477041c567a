/**
 * AppendFile's preallocated form (journal segments): lines land in zeros
 * written ahead of them a chunk at a time, so a commit's fdatasync leaves the
 * size alone; a failed write is cut back and the zeros written again.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppendFile } from '../../../src/store/file/append-file.js';
import { nodeFileSystem } from '../../../src/store/file/file-system.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { segmentRecords } from '../../helpers/journal-segment.js';
import { tempDir } from '../../helpers/temp-dir.js';

const CHUNK = 64;

describe('a preallocated append file', () => {
  it('writes its lines into zeros written ahead a chunk at a time, and its readers stop at them', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, '0000000001.jsonl');
    const file = await AppendFile.create(nodeFileSystem, path, CHUNK);
    const lines = [
      '{"journal":1,"events_offset":0}',
      ...Array.from(
        { length: 5 },
        (_, i) =>
          `{"op":"delete","id":"${'0'.repeat(8)}-0000-4000-8000-${String(i).padStart(12, '0')}"}`,
      ),
    ];
    let expected = '';
    for (const line of lines) {
      await file.append(line, undefined);
      expected += `${line}\n`;
      const size = (await stat(path)).size;
      assert.equal(file.size(), Buffer.byteLength(expected));
      // Whole chunks, at least as many as the lines need; zeros after them.
      assert.equal(size % CHUNK, 0);
      assert.ok(size >= file.size() && size < file.size() + CHUNK + 100, `${size}`);
      assert.equal((await segmentRecords(path)).toString(), expected);
    }
    await file.close();
    const content = await readFile(path);
    assert.ok(content.subarray(file.size()).every((byte) => byte === 0));
    const [segment] = readJournal(dir);
    assert.equal(segment?.records.length, 5);
    assert.equal(segment?.bytes, Buffer.byteLength(expected));
    assert.equal(segment?.tornBytes, 0, 'the zeros are the end, not a torn line');
    assert.equal(segment?.damagedBytes, 0);
  });

  it('cuts a failed write back, then writes the zeros ahead again', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, '0000000001.jsonl');
    const fs = new FaultyFileSystem();
    const file = await AppendFile.create(fs, path, CHUNK);
    await file.append('{"journal":1,"events_offset":0}', undefined);
    const before = file.size();
    fs.fail('write', 'ENOSPC', { pathIncludes: '0000000001', torn: true });
    await assert.rejects(file.append('x'.repeat(200), undefined), /full/);
    fs.heal();
    assert.equal((await stat(path)).size, before, 'cut back to the last whole batch');
    await file.append('{"op":"delete","id":"00000000-0000-4000-8000-000000000001"}', undefined);
    await file.close();
    const records = (await segmentRecords(path)).toString();
    assert.equal(
      records,
      '{"journal":1,"events_offset":0}\n{"op":"delete","id":"00000000-0000-4000-8000-000000000001"}\n',
    );
    const content = await readFile(path);
    assert.ok(content.length > records.length, 'zeros written ahead again');
    assert.ok(content.subarray(records.length).every((byte) => byte === 0));
  });
});
