/**
 * Writes queued on one session go to the journal together
 * (store/file/session-locks.ts, Commits.commitAll): they share its
 * fdatasyncs, each is counted and logged in order as if made one by one,
 * one refused is refused alone, and a batch that cannot be made durable is
 * undone whole, in memory and for the next boot.
 */
import assert from 'node:assert/strict';
import { type FileHandle, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { StorageBudgetError, StorageUnavailableError } from '../../../src/domain/errors.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import { sessionsOf } from '../../helpers/sessions.js';

/** A FaultyFileSystem that counts the syncs of journal segments. */
class CountingFileSystem extends FaultyFileSystem {
  journalSyncs = 0;

  override async open(path: string, flags: string, mode?: number): Promise<FileHandle> {
    const handle = await super.open(path, flags, mode);
    if (!path.includes('journal/')) return handle;
    return new Proxy(handle, {
      get: (target, property, receiver) => {
        if (property === 'datasync') this.journalSyncs++;
        return Reflect.get(target, property, receiver);
      },
    });
  }
}

async function setUp(t: TestContext, budgetBytes = Number.POSITIVE_INFINITY) {
  const dir = await mkdtemp(join(tmpdir(), 'stateful-batches-'));
  const fs = new CountingFileSystem();
  const { store } = await FileStore.open(dir, 'batches', fs, { budgetBytes });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const sessions = sessionsOf(store);
  const kept = await sessions.create({ name: 'kept', data: { n: 0 } });
  return { dir, fs, store, sessions, kept };
}

/** The sessions and the events a boot after a kill right now would have. */
async function afterAKill(t: TestContext, dir: string) {
  const { store } = await FileStore.open(await killedCopy(t, dir), 'nextboot');
  try {
    const events = store.events.tail(10_000).map((event) => event.event);
    return { sessions: store.table.list(), events };
  } finally {
    await store.close();
  }
}

describe('writes queued on one session', () => {
  it('share the journal’s fdatasyncs, and are counted and logged in the order they came', async (t) => {
    const { dir, fs, store, sessions, kept } = await setUp(t);
    const syncsBefore = fs.journalSyncs;
    const writes = Array.from({ length: 16 }, (_, n) =>
      sessions.update(kept.id, { data: { n: n + 1 } }),
    );
    const answers = await Promise.all(writes);
    assert.deepEqual(
      answers.map((session) => [session.access_count, session.data.n]),
      Array.from({ length: 16 }, (_, n) => [n + 1, n + 1]),
      'each answer is its own write, made on the one before',
    );
    const syncs = fs.journalSyncs - syncsBefore;
    assert.ok(syncs <= 2, `16 writes of one session took ${syncs} journal syncs`);
    assert.equal(store.getSession(kept.id)?.access_count, 16);
    assert.deepEqual(store.getSession(kept.id)?.data, { n: 16 });
    const updated = store.events.tail(100).filter((event) => event.event === 'session_updated');
    assert.equal(updated.length, 16);

    const next = await afterAKill(t, dir);
    assert.deepEqual(next.sessions[0]?.data, { n: 16 });
    assert.equal(next.sessions[0]?.access_count, 16);
    assert.equal(next.events.filter((kind) => kind === 'session_updated').length, 16);
  });

  it('refuse one write alone: the others are made on the version before it', async (t) => {
    const { store, sessions, kept } = await setUp(t, 4096);
    const writes = [
      sessions.update(kept.id, { data: { n: 1 } }),
      sessions.update(kept.id, { data: { n: 2, big: 'x'.repeat(8192) } }),
      sessions.patch(kept.id, { data: { m: 3 } }),
    ];
    const [first, refused, third] = await Promise.allSettled(writes);
    assert.equal(first?.status, 'fulfilled');
    assert.ok(refused?.status === 'rejected' && refused.reason instanceof StorageBudgetError);
    assert.ok(third?.status === 'fulfilled');
    assert.deepEqual(third.value.data, { n: 1, m: 3 });
    assert.equal(third.value.access_count, 2);
    assert.deepEqual(store.getSession(kept.id)?.data, { n: 1, m: 3 });
    assert.ok(store.table.usage().bytes < 4096, 'the refused write’s bytes are not held');
  });

  it('answer one that changes nothing with the version made before it, once that is durable', async (t) => {
    const { store, sessions, kept } = await setUp(t);
    const events = store.events.count();
    const updated = store.events.tail(1)[0];
    assert.ok(updated !== undefined);
    const [first, unchanged, last] = await Promise.all([
      sessions.update(kept.id, { data: { n: 1 } }),
      store.changeSession(kept.id, () => null, updated),
      sessions.update(kept.id, { data: { n: 2 } }),
    ]);
    assert.equal(first.access_count, 1);
    assert.deepEqual(unchanged, first, 'the version made before it in the batch');
    assert.equal(last.access_count, 2);
    assert.equal(store.events.count(), events + 2, 'no event for it');
  });

  it('are undone whole when their events cannot be written, and a boot after a kill agrees', async (t) => {
    const { dir, fs, store, sessions, kept } = await setUp(t);
    const usage = store.table.usage().bytes;
    fs.fail('write', 'EIO', { pathIncludes: 'events.jsonl' });
    const writes = Array.from({ length: 5 }, (_, n) =>
      sessions.update(kept.id, { data: { n: n + 1, grown: 'y'.repeat(100 * n) } }),
    );
    const outcomes = await Promise.allSettled(writes);
    fs.heal();
    for (const outcome of outcomes) {
      assert.ok(outcome.status === 'rejected' && outcome.reason instanceof StorageUnavailableError);
    }
    assert.deepEqual(store.getSession(kept.id)?.data, { n: 0 });
    assert.equal(store.getSession(kept.id)?.access_count, 0);
    assert.equal(store.table.usage().bytes, usage, 'every reservation given back');

    const next = await afterAKill(t, dir);
    assert.deepEqual(next.sessions[0]?.data, { n: 0 }, 'the revert lines undid every change');
    assert.equal(next.sessions[0]?.access_count, 0);
    assert.ok(!next.events.includes('session_updated'), 'and cancelled every event');

    const after = await sessions.update(kept.id, { data: { n: 9 } });
    assert.equal(after.access_count, 1);
    assert.deepEqual((await afterAKill(t, dir)).events, ['session_created', 'session_updated']);
  });
});
