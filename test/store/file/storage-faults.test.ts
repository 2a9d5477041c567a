import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StorageFullError, StorageUnavailableError } from '../../../src/domain/errors.js';
import { verifyDataDirectory } from '../../../src/inspector/verify.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

/**
 * Every file's content, except the lock (which never changes content) and the
 * journal (where a failed change leaves its line and the revert line after
 * it; `afterAKill` checks what they mean).
 */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === 'instance.lock') continue;
    if (entry.name.endsWith('.jsonl') && entry.name !== 'events.jsonl') continue;
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files[relative(dir, path)] = await readFile(path, 'utf8');
  }
  return files;
}

async function setUp(t: TestContext) {
  const dir = await tempDir(t);
  const fs = new FaultyFileSystem();
  const { store } = await FileStore.open(dir, 'faultyfs', fs);
  const kept = await sessionsOf(store).create({ name: 'kept', data: { a: 1 } });
  await store.writeBehind.checkpoint();
  return { dir, fs, store, kept };
}

/** What a boot after a kill right now would serve: the journal rolled forward. */
async function afterAKill(t: TestContext, dir: string) {
  const copy = await killedCopy(t, dir);
  const { store } = await FileStore.open(copy, 'nextboot');
  try {
    const events = store.events.tail(10_000).map((event) => event.event);
    return { sessions: store.table.list(), events, stats: store.instance.stats() };
  } finally {
    await store.close();
  }
}

describe('storage faults', () => {
  const createFaults = [
    {
      what: 'a torn journal append on a full disk',
      op: 'write',
      code: 'ENOSPC',
      path: 'journal/',
      torn: true,
      error: StorageFullError,
    },
    {
      what: 'an I/O error syncing the journal',
      op: 'sync',
      code: 'EIO',
      path: 'journal/',
      error: StorageUnavailableError,
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
      what: 'an I/O error writing the event log',
      op: 'write',
      code: 'EIO',
      path: 'events.jsonl',
      error: StorageUnavailableError,
    },
  ] as const;

  for (const fault of createFaults) {
    it(`a create that meets ${fault.what} fails cleanly, counts nothing, and works once healed`, async (t) => {
      const { dir, fs, store } = await setUp(t);
      try {
        const before = await snapshot(dir);
        const stats = store.instance.stats();
        fs.fail(fault.op, fault.code, { pathIncludes: fault.path, torn: 'torn' in fault });
        await assert.rejects(sessionsOf(store).create({ name: 'doomed' }), fault.error);
        assert.ok(fs.injected > 0);
        assert.deepEqual(
          await snapshot(dir),
          before,
          'nothing half-written, nothing counted on disk',
        );
        assert.equal(store.sessionCount(), 1);
        assert.deepEqual(store.instance.stats(), stats);
        assert.equal(store.events.tail(1)[0]?.event, 'session_created');
        const next = await afterAKill(t, dir);
        assert.deepEqual(
          next.sessions.map((session) => session.name),
          ['kept'],
        );
        assert.equal(next.events.filter((kind) => kind === 'session_created').length, 1);

        fs.heal();
        const created = await sessionsOf(store).create({ name: 'after' });
        assert.equal(store.getSession(created.id)?.name, 'after');
        assert.equal(store.instance.stats().total_sessions, stats.total_sessions + 1);
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
      fs.fail('write', 'ENOSPC', { pathIncludes: 'journal/' });
      await assert.rejects(sessionsOf(store).update(kept.id, { data: { a: 2 } }), StorageFullError);
      fs.heal();
      fs.fail('write', 'EIO', { pathIncludes: 'events.jsonl' });
      await assert.rejects(
        sessionsOf(store).update(kept.id, { data: { a: 3 } }),
        StorageUnavailableError,
      );
      fs.heal();
      assert.deepEqual(await snapshot(dir), before);
      assert.equal(store.getSession(kept.id)?.access_count, 0);
      assert.deepEqual(store.getSession(kept.id)?.data, { a: 1 });
      const next = await afterAKill(t, dir);
      assert.deepEqual(next.sessions[0]?.data, { a: 1 }, 'the revert line undid the change');
      assert.equal(next.sessions[0]?.access_count, 0);
      assert.ok(!next.events.includes('session_updated'), 'and cancelled its event');
      assert.equal((await sessionsOf(store).update(kept.id, { data: { a: 4 } })).access_count, 1);
    } finally {
      await store.close();
    }
  });

  it('a delete that cannot be made durable leaves the session in place', async (t) => {
    const { dir, fs, store, kept } = await setUp(t);
    try {
      const before = await snapshot(dir);
      fs.fail('sync', 'EIO', { pathIncludes: 'journal/' });
      await assert.rejects(sessionsOf(store).delete(kept.id), StorageUnavailableError);
      fs.heal();
      fs.fail('write', 'ENOSPC', { pathIncludes: 'events.jsonl' });
      await assert.rejects(sessionsOf(store).delete(kept.id), StorageFullError);
      fs.heal();
      assert.deepEqual(await snapshot(dir), before);
      assert.equal(store.getSession(kept.id)?.name, 'kept');
      assert.deepEqual(
        (await afterAKill(t, dir)).sessions.map((session) => session.name),
        ['kept'],
      );
      await sessionsOf(store).delete(kept.id);
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
      await assert.rejects(sessionsOf(store).create({ name: 'doomed' }), StorageFullError);
      fs.heal();
      await sessionsOf(store).create({ name: 'after' });
    } finally {
      await store.close();
    }
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    for (const line of lines) JSON.parse(line);
    assert.deepEqual((await verifyDataDirectory(dir)).findings, []);
  });

  // The snapshot is what makes the session files durable and retires the journal.
  const snapshotFaults = [
    { what: 'no file descriptors left', op: 'open', code: 'EMFILE', path: '' },
    { what: 'an I/O error syncing the event log', op: 'sync', code: 'EIO', path: 'events.jsonl' },
    { what: 'an I/O error writing a session file', op: 'write', code: 'EIO', path: 'sessions/' },
    {
      what: 'a full disk renaming a session file',
      op: 'rename',
      code: 'ENOSPC',
      path: 'sessions/',
    },
    {
      what: 'an I/O error removing a deleted session',
      op: 'unlink',
      code: 'EIO',
      path: 'sessions/',
    },
    { what: 'a full disk writing snapshot.jsonl', op: 'write', code: 'ENOSPC', path: 'snapshot' },
    { what: 'an I/O error syncing snapshot.jsonl', op: 'sync', code: 'EIO', path: 'snapshot' },
    { what: 'an I/O error renaming snapshot.jsonl', op: 'rename', code: 'EIO', path: 'snapshot' },
    {
      what: 'an I/O error syncing journal/ (its new segment, the segments deleted)',
      op: 'sync',
      code: 'EIO',
      path: '',
      pathEndsWith: '/journal',
    },
  ] as const;

  for (const fault of snapshotFaults) {
    it(`a snapshot that meets ${fault.what} keeps the journal and completes once healed`, async (t) => {
      const { dir, fs, store, kept } = await setUp(t);
      const file = join(dir, 'sessions', `${kept.id}.json`);
      try {
        await sessionsOf(store).update(kept.id, { data: { a: 2 } });
        const other = await sessionsOf(store).create({ name: 'other' });
        await sessionsOf(store).delete(kept.id);
        fs.fail(fault.op, fault.code, {
          pathIncludes: fault.path,
          ...('pathEndsWith' in fault ? { pathEndsWith: fault.pathEndsWith } : {}),
        });
        await assert.rejects(store.writeBehind.snapshot());
        assert.ok(fs.injected > 0);
        const next = await afterAKill(t, dir);
        assert.deepEqual(
          next.sessions.map((session) => session.name),
          ['other'],
          'every acknowledged change survives a kill now',
        );
        fs.heal();
        await store.writeBehind.snapshot();
        await assert.rejects(readFile(file), { code: 'ENOENT' });
        assert.equal(
          JSON.parse(await readFile(join(dir, 'sessions', `${other.id}.json`), 'utf8')).name,
          'other',
        );
        assert.equal(readJournal(join(dir, 'journal')).flatMap((s) => s.records).length, 0);
      } finally {
        await store.close();
      }
      assert.deepEqual((await verifyDataDirectory(dir)).findings, []);
    });
  }

  it('reports a background stats flush that fails, with its cause, and retries it until it lands', async (t) => {
    const dir = await tempDir(t);
    const fs = new FaultyFileSystem();
    const failures: { task: string; error: unknown }[] = [];
    const successes: string[] = [];
    const { store } = await FileStore.open(dir, 'faultyfs', fs, {
      background: {
        failed: (task, error) => failures.push({ task, error }),
        succeeded: (task) => successes.push(task),
      },
    });
    try {
      fs.fail('sync', 'EIO', { pathIncludes: 'stats.json' });
      store.countRequest();
      const deadline = Date.now() + 10_000;
      while (failures.length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(failures.length >= 2, 'told of each failed try, not only the first');
      assert.equal(failures[0]?.task, 'stats_flush');
      assert.match(String(failures[0]?.error), /EIO/);
      fs.heal();
      const settled = Date.now() + 10_000;
      let onDisk = 0;
      while (onDisk !== 1 && Date.now() < settled) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const text = await readFile(join(dir, 'stats.json'), 'utf8').catch(() => '{}');
        onDisk = JSON.parse(text).total_requests ?? 0;
      }
      assert.equal(onDisk, 1, 'the retry wrote the count once the disk healed');
      assert.ok(successes.includes('stats_flush'), 'and said so, which ends the failure');
    } finally {
      await store.close();
    }
  });

  it('reports a problem while changes wait in the journal for a checkpoint that keeps failing', async (t) => {
    const dir = await tempDir(t);
    const fs = new FaultyFileSystem();
    const { store } = await FileStore.open(dir, 'faultyfs', fs, { checkpointBehindMs: 200 });
    try {
      await sessionsOf(store).create({ name: 'waiting' });
      await store.writeBehind.checkpoint();
      assert.deepEqual(store.inProcess.problems(), [], 'nothing waits after a checkpoint');
      fs.fail('write', 'EIO', { pathIncludes: 'sessions/' });
      await sessionsOf(store).create({ name: 'stuck' });
      await assert.rejects(store.writeBehind.checkpoint());
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [problem, ...more] = store.inProcess.problems();
      assert.match(problem ?? '', /^no checkpoint has finished for \d+ s: 1 changed sessions wait/);
      assert.deepEqual(more, []);
      fs.heal();
      await store.writeBehind.checkpoint();
      assert.deepEqual(store.inProcess.problems(), [], 'a checkpoint that lands ends it');
    } finally {
      await store.close();
    }
  });

  it('fails a write past the checkpoint backlog when the checkpoint fails, and never hangs it', async (t) => {
    const dir = await tempDir(t);
    const fs = new FaultyFileSystem();
    const { store } = await FileStore.open(dir, 'faultyfs', fs, { checkpointBacklog: 5 });
    try {
      for (let i = 0; i < 5; i++) await sessionsOf(store).create({ name: `s${i}` });
      fs.fail('open', 'EIO', { pathIncludes: 'sessions/' }); // every file the checkpoint writes
      await assert.rejects(sessionsOf(store).create({ name: 'waits' }), StorageUnavailableError);
      assert.equal(store.sessionCount(), 5, 'nothing half-made');
      fs.heal();
      await sessionsOf(store).create({ name: 'after' });
      assert.equal(store.sessionCount(), 6);
      assert.ok(store.writeBehind.backlog() < 5, 'a checkpoint wrote the backlog');
    } finally {
      await store.close();
    }
  });

  it('removes the temp file a failed write left, though the next write of that file goes to a spare', async (t) => {
    const dir = await tempDir(t);
    const fs = new FaultyFileSystem();
    const spareMinAgeMs = 1000; // long enough that the failing write finds the spare too young
    const { store } = await FileStore.open(dir, 'faultyfs', fs, { spareMinAgeMs });
    try {
      const sessions = sessionsOf(store);
      const spared = await sessions.create({ name: 'its old file becomes a spare' });
      const failing = await sessions.create({ name: 'its write fails' });
      await store.writeBehind.checkpoint();
      await sessions.update(spared.id, { data: { v: 2 } });
      await store.writeBehind.checkpoint(); // spared's old file: a spare, too young to write yet
      // The write goes to the temp file (the only spare is too young), is
      // torn, and even removing the temp file fails.
      fs.fail('write', 'EIO', { pathIncludes: `${failing.id}.json.tmp`, torn: true });
      fs.fail('unlink', 'EIO', { pathIncludes: `${failing.id}.json.tmp` });
      await sessions.update(failing.id, { data: { v: 2 } });
      await assert.rejects(store.writeBehind.checkpoint(), StorageUnavailableError);
      assert.ok(
        (await readdir(join(dir, 'sessions'))).includes(`${failing.id}.json.tmp`),
        'the torn temp file is left',
      );
      fs.heal();
      await new Promise((resolve) => setTimeout(resolve, spareMinAgeMs + 10));
      await store.writeBehind.checkpoint(); // into the spare, now old enough
      assert.equal(
        (await readdir(join(dir, 'spare'))).length,
        1,
        'the spare was written, another kept',
      );
      assert.deepEqual(
        (await readdir(join(dir, 'sessions'))).sort(),
        [`${failing.id}.json`, `${spared.id}.json`].sort(),
        'no temp file left',
      );
      assert.match(await readFile(join(dir, 'sessions', `${failing.id}.json`), 'utf8'), /"v": 2/);
    } finally {
      await store.close();
    }
  });
});
