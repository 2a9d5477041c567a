import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { postJson } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

async function snapshot(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    const info = await stat(path);
    result[entry] = info.isDirectory()
      ? `dir ${info.mtimeMs}`
      : `${info.mtimeMs} ${await readFile(path, 'base64')}`;
  }
  return result;
}

describe('one live instance per data directory', () => {
  it('refuses a second instance at once, with a clear message, changing nothing on disk', async (t) => {
    const dir = await tempDir(t);
    const owner = await spawnService(dir);
    t.after(() => owner.process.kill('SIGKILL'));
    await postJson(`${owner.url}/sessions`, { name: 'mine' });
    await new Promise((resolve) => setTimeout(resolve, 1200)); // let the lazy request flush settle
    const before = await snapshot(dir);

    const second = await runToEnd(['serve'], { DATA_DIR: dir, PORT: '0' });
    assert.equal(second.code, 3);
    assert.match(second.stderr, /Another live instance owns this data directory/);
    assert.doesNotMatch(second.stdout, /"msg":"listening"/);
    assert.deepEqual(await snapshot(dir), before);
  });
});
