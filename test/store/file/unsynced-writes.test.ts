/**
 * The checkpoint's writer thread (nodeFileSystem.writeUnsynced): files land
 * whole under their names, removals take the temp file too, a failure stops
 * the batch with the error's code and target, and the thread never keeps a
 * process alive once its batches are done.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { FROM_SOURCE_FLAGS, RUNS_FROM_SOURCE } from '../../../src/project-root.js';
import { nodeFileSystem } from '../../../src/store/file/file-system.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('unsynced writes on the writer thread', () => {
  it('writes and replaces files whole, and removes files with their temp files', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'b.json'), 'old');
    await writeFile(join(dir, 'c.json'), 'gone');
    await writeFile(join(dir, 'c.json.tmp'), 'left by a kill');
    await nodeFileSystem.writeUnsynced(
      [
        { target: join(dir, 'a.json'), content: '{"a":"é"}\n' },
        { target: join(dir, 'b.json'), content: 'new' },
        { target: join(dir, 'c.json'), content: null },
        { target: join(dir, 'd.json'), content: null }, // never written: fine
      ],
      null,
    );
    assert.deepEqual((await readdir(dir)).sort(), ['a.json', 'b.json']);
    assert.equal(await readFile(join(dir, 'a.json'), 'utf8'), '{"a":"é"}\n');
    assert.equal(await readFile(join(dir, 'b.json'), 'utf8'), 'new');
  });

  it('stops at the first failure, with its code and target, keeping the writes before it', async (t) => {
    const dir = await tempDir(t);
    const missing = join(dir, 'no-such-dir', 'x.json');
    await assert.rejects(
      nodeFileSystem.writeUnsynced(
        [
          { target: join(dir, 'first.json'), content: '1' },
          { target: missing, content: '2' },
          { target: join(dir, 'after.json'), content: '3' },
        ],
        null,
      ),
      (error: NodeJS.ErrnoException) => error.code === 'ENOENT' && error.path === missing,
    );
    assert.deepEqual(await readdir(dir), ['first.json']);
    // The thread is still there for the next batch.
    await nodeFileSystem.writeUnsynced([{ target: join(dir, 'next.json'), content: '4' }], null);
    assert.deepEqual((await readdir(dir)).sort(), ['first.json', 'next.json']);
  });

  it('lets the process exit once its batches are done', async (t) => {
    const dir = await tempDir(t);
    const module = new URL('../../../src/store/file/file-system.js', import.meta.url).href;
    const script =
      `const { nodeFileSystem } = await import(${JSON.stringify(module)});` +
      `await nodeFileSystem.writeUnsynced([{ target: ${JSON.stringify(join(dir, 'x.json'))}, content: 'x' }], null);`;
    // Exits by itself (a thread kept alive would hang until the timeout kills it).
    // Run from the TypeScript sources (no build), the child needs the flags that allow it.
    const flags = RUNS_FROM_SOURCE ? FROM_SOURCE_FLAGS : [];
    await promisify(execFile)(process.execPath, [...flags, '--input-type=module', '-e', script], {
      timeout: 20_000,
    });
    assert.equal(await readFile(join(dir, 'x.json'), 'utf8'), 'x');
  });
});
