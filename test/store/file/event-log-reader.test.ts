import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scanEventLog } from '../../../src/store/file/event-log-reader.js';
import { tempDir } from '../../helpers/temp-dir.js';

const line = (n: number) =>
  `${JSON.stringify({ ts: n, time: '2026-02-21T10:00:00Z', event: 'session_updated', container: 'a9f09b61', n })}\n`;

describe('reading the event log', () => {
  it('counts lines and returns the last events, oldest first', async (t) => {
    const file = join(await tempDir(t), 'events.jsonl');
    await writeFile(file, Array.from({ length: 100 }, (_, i) => line(i)).join(''));
    const scan = await scanEventLog(file, 10);
    assert.equal(scan.count, 100);
    assert.deepEqual(
      scan.tail.map((event) => event.n),
      [90, 91, 92, 93, 94, 95, 96, 97, 98, 99],
    );
    assert.equal(scan.validEnd, scan.size);
  });

  it('marks a torn last line as damage to cut, without counting it', async (t) => {
    const file = join(await tempDir(t), 'events.jsonl');
    const good = line(1) + line(2);
    await writeFile(file, `${good}{"ts":3,"time":"2026-02-21T10:0`);
    const scan = await scanEventLog(file, 50);
    assert.equal(scan.count, 2);
    assert.equal(scan.validEnd, Buffer.byteLength(good));
    assert.equal(scan.tail.length, 2);
  });

  it('treats complete garbage lines at the very end (zero-filled blocks) as damage', async (t) => {
    const file = join(await tempDir(t), 'events.jsonl');
    const good = line(1);
    await writeFile(
      file,
      Buffer.concat([Buffer.from(good), Buffer.alloc(4096), Buffer.from('\n')]),
    );
    const scan = await scanEventLog(file, 50);
    assert.equal(scan.count, 1);
    assert.equal(scan.validEnd, Buffer.byteLength(good));
  });

  it('reports an unreadable line in the middle instead of cutting it', async (t) => {
    const file = join(await tempDir(t), 'events.jsonl');
    await writeFile(file, `${line(1)}not json\n${line(3)}`);
    const scan = await scanEventLog(file, 50);
    assert.equal(scan.validEnd, scan.size);
    assert.equal(scan.corruptLinesInTail, 1);
    assert.deepEqual(
      scan.tail.map((event) => event.n),
      [1, 3],
    );
  });

  it('reads a missing log as empty', async (t) => {
    const scan = await scanEventLog(join(await tempDir(t), 'events.jsonl'), 50);
    assert.equal(scan.exists, false);
    assert.equal(scan.count, 0);
  });
});
