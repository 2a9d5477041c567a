import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { sessionsAsServed } from '../../../src/store/file/journal-replay.js';
import { tempDir } from '../../helpers/temp-dir.js';

test('the sessions as served come in creation order, or only the first and last N', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'sessions'));
  const names = Array.from({ length: 7 }, (_, i) => `s${i}`);
  // Written in reverse, so the order is the creation time's, not the directory's.
  for (const [i, name] of [...names.entries()].reverse()) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const session = {
      id,
      name,
      data: {},
      created_at: `2026-01-01T00:00:0${i}Z`,
      last_active: `2026-01-01T00:00:0${i}Z`,
      access_count: 0,
    };
    await writeFile(join(dir, 'sessions', `${id}.json`), JSON.stringify(session, null, 2));
  }
  const served = sessionsAsServed(join(dir, 'sessions'), join(dir, 'journal'));
  const read = (limit?: number | null) => [...served.sessions(limit)].map((s) => s.name);

  assert.equal(served.count, 7);
  assert.deepEqual(read(), names);
  assert.deepEqual(read(null), names);
  assert.deepEqual(read(2), ['s0', 's1', 's5', 's6']);
  assert.deepEqual(read(3), ['s0', 's1', 's2', 's4', 's5', 's6']);
  assert.deepEqual(read(4), names, 'first and last overlap: each once');
  assert.deepEqual(read(0), []);
});
