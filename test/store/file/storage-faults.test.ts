import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StorageFullError, StorageUnavailableError } from '../../../src/domain/errors.js';
import { verifyDataDirectory } from '../../../src/inspector/verify.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { tempDir } from '../../helpers/temp-dir.js';

/** Every file's content, except the lock (which never changes content). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === 'instance.lock') continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files[relative(dir, path)] = await readFile(path, 'utf8');
  }
  return files;
}

async function setUp(t: TestContext) {
  const dir = await tempDir(t);
  const fs = new FaultyFileSystem();
  const { store } = await FileStore.open(dir, 'faultyfs', fs);
  const kept = await store.createSession({ name: 'kept', data: { a: 1 } });
  return { dir, fs, store, kept };
}

describe('storage faults', () => {
  const createFaults = [
    {
      what: 'disk full opening the session file',
      op: 'open',
      code: 'ENOSPC',
      path: 'sessions/',
      error: StorageFullError,
    },
    {
      what: 'I/O error syncing the session file',
      op: 'sync',
      code: 'EIO',
      path: 'sessions/',
      error: StorageUnavailableError,
    },
    {
      what: 'disk full renaming the session file',
      op: 'rename',
      code: 'ENOSPC',
      path: 'sessions/',
      error: StorageFullError,
    },
    {
      what: 'a torn event append on a full disk',
      op: 'write',
      code: 'ENOSPC',
      path: 'events.jsonl',
      torn: true,
      error: StorageFullError,
    },
    {
      what: 'an I/O error syncing the event log',
      op: 'sync',
      code: 'EIO',
      path: 'events.jsonl',
      error: StorageUnavailableError,
    },
    {
      what: 'no file descriptors left',
      op: 'open',
      code: 'EMFILE',
      path: '',
      error: StorageUnavailableError,
    },
  ] as const;

  for (const fault of createFaults) {
    it(`a create that meets ${fault.what} fails cleanly, counts nothing, and works once healed`, async (t) => {
      const { dir, fs, store } = await setUp(t);
      try {
        const before = await snapshot(dir);
        const stats = store.stats();
        fs.fail(fault.op, fault.code, { pathIncludes: fault.path, torn: 'torn' in fault });
        await assert.rejects(store.createSession({ name: 'doomed' }), fault.error);
        assert.ok(fs.injected > 0);
        assert.deepEqual(
          await snapshot(dir),
          before,
          'nothing half-written, nothing counted on disk',
        );
        assert.equal(store.sessionCount(), 1);
        assert.deepEqual(store.stats(), stats);
        assert.equal(store.recentEvents(1)[0]?.event, 'session_created');

        fs.heal();
        const created = await store.createSession({ name: 'after' });
        assert.equal(store.getSession(created.id)?.name, 'after');
        assert.equal(store.stats().total_sessions, stats.total_sessions + 1);
      } finally {
        await store.close();
      }
      assert.deepEqual((await verifyDataDirectory(dir)).findings, []);
    });
  }

  it('an update that cannot be made durable leaves the session as it was', async (t) => {
    const { dir, fs, store, kept } = await setUp(t);
    try {
      const before = await snapshot(dir);
      fs.fail('write', 'ENOSPC', { pathIncludes: 'sessions/' });
      await assert.rejects(store.updateSession(kept.id, { data: { a: 2 } }), StorageFullError);
      fs.heal();
      fs.fail('sync', 'EIO', { pathIncludes: 'events.jsonl' });
      await assert.rejects(
        store.updateSession(kept.id, { data: { a: 3 } }),
        StorageUnavailableError,
      );
      fs.heal();
      assert.deepEqual(await snapshot(dir), before);
      assert.equal(store.getSession(kept.id)?.access_count, 0);
      assert.deepEqual(store.getSession(kept.id)?.data, { a: 1 });
      assert.equal((await store.updateSession(kept.id, { data: { a: 4 } })).access_count, 1);
    } finally {
      await store.close();
    }
  });

  it('a delete that cannot be made durable leaves the session in place', async (t) => {
    const { dir, fs, store, kept } = await setUp(t);
    try {
      const before = await snapshot(dir);
      fs.fail('unlink', 'EIO');
      await assert.rejects(store.deleteSession(kept.id), StorageUnavailableError);
      fs.heal();
      fs.fail('write', 'ENOSPC', { pathIncludes: 'events.jsonl' });
      await assert.rejects(store.deleteSession(kept.id), StorageFullError);
      fs.heal();
      assert.deepEqual(await snapshot(dir), before);
      assert.equal(store.getSession(kept.id)?.name, 'kept');
      await store.deleteSession(kept.id);
      assert.equal(store.getSession(kept.id), undefined);
    } finally {
      await store.close();
    }
  });

  it('a torn append whose cut-back also fails is cut before the next append', async (t) => {
    const { dir, fs, store } = await setUp(t);
    try {
      fs.fail('write', 'ENOSPC', { pathIncludes: 'events.jsonl', torn: true });
      fs.fail('truncate', 'EIO', { pathIncludes: 'events.jsonl' });
      await assert.rejects(store.createSession({ name: 'doomed' }), StorageFullError);
      fs.heal();
      await store.createSession({ name: 'after' });
    } finally {
      await store.close();
    }
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    for (const line of lines) JSON.parse(line);
    assert.deepEqual((await verifyDataDirectory(dir)).findings, []);
  });
});
