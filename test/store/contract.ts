/**
 * The Store contract: what every store must do, whatever keeps the data. Each
 * store's test file runs these same tests against a fresh, empty store.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { NotFoundError } from '../../src/domain/errors.js';
import type { Store } from '../../src/store/store.js';

export interface StoreFactory {
  /**
   * A fresh, empty store; `reopen` closes it (without stopInstance: to the
   * store, a death) and opens the same data again as another instance.
   */
  open(t: TestContext): Promise<{ store: Store; reopen(): Promise<Store> }>;
  /** How long after a death the next start can tell it (a lease's length; 0 with a marker). */
  deathVisibleAfterMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function storeContract(factory: StoreFactory): void {
  /** Reopens the store as the next instance once a death would be visible, and counts its start. */
  const nextStart = async (reopen: () => Promise<Store>) => {
    const store = await reopen();
    await sleep(factory.deathVisibleAfterMs);
    return { store, start: await store.startInstance() };
  };

  it('creates a session, serves it, counts it and logs session_created', async (t) => {
    const { store } = await factory.open(t);
    const session = await store.createSession({ name: 'alice', data: { b: 1, a: [2] } });
    assert.deepEqual(await store.getSession(session.id), session);
    assert.deepEqual(Object.keys((await store.getSession(session.id))?.data ?? {}), ['b', 'a']);
    assert.deepEqual(await store.listSessions(), [session]);
    assert.equal(await store.sessionCount(), 1);
    assert.equal((await store.stats()).total_sessions, 1);
    const [event] = await store.recentEvents(1);
    assert.equal(event?.event, 'session_created');
    assert.equal(event?.session_id, session.id);
    assert.equal(event?.container, store.instanceId);
  });

  it('lists every session in creation order a batch at a time', async (t) => {
    const { store } = await factory.open(t);
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await store.createSession({ name: `s${i}` }));
    await store.deleteSession(created[3]?.id ?? '');
    const batches: string[][] = [];
    for await (const batch of store.sessionBatches(2)) {
      batches.push(batch.map((session) => session.name));
    }
    assert.deepEqual(batches, [
      ['s0', 's1'],
      ['s2', 's4'],
      ['s5', 's6'],
    ]);
    const none: unknown[] = [];
    const { store: empty } = await factory.open(t);
    for await (const batch of empty.sessionBatches(2)) none.push(batch);
    assert.deepEqual(none, []);
  });

  it('never loses a total_sessions increment under concurrent creates', async (t) => {
    const { store } = await factory.open(t);
    await Promise.all(Array.from({ length: 60 }, (_, i) => store.createSession({ name: `s${i}` })));
    assert.equal((await store.stats()).total_sessions, 60);
    assert.equal(await store.sessionCount(), 60);
    assert.equal(await store.eventCount(), 60);
    const overview = await store.overview();
    assert.deepEqual(overview.stats, await store.stats());
    assert.equal(overview.liveSessions, 60);
    assert.equal(overview.liveInstances, await store.liveInstances());
  });

  it('never loses an access_count increment under concurrent updates of one session', async (t) => {
    const { store } = await factory.open(t);
    const session = await store.createSession({ name: 'busy' });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => store.updateSession(session.id, { data: { i } })),
    );
    assert.equal((await store.getSession(session.id))?.access_count, 40);
  });

  it('keeps creation order, updates in place, deletes, and says NotFound for what is gone', async (t) => {
    const { store } = await factory.open(t);
    const first = await store.createSession({ name: 'first' });
    const second = await store.createSession({ name: 'second' });
    const updated = await store.updateSession(first.id, { name: 'renamed' });
    assert.equal(updated.access_count, 1);
    assert.deepEqual(
      (await store.listSessions()).map((session) => session.name),
      ['renamed', 'second'],
    );
    await store.deleteSession(second.id);
    assert.equal(await store.getSession(second.id), undefined);
    await assert.rejects(store.deleteSession(second.id), NotFoundError);
    await assert.rejects(store.updateSession(second.id, {}), NotFoundError);
    await assert.rejects(store.updateSession('not-a-uuid', {}), NotFoundError);
    assert.equal(await store.getSession('not-a-uuid'), undefined);
    assert.equal((await store.stats()).total_sessions, 2, 'deleting does not lower it');
  });

  it('keeps events in one order and tells listeners each one with its position', async (t) => {
    const { store } = await factory.open(t);
    const heard: [string, number][] = [];
    const stop = store.onEvent((event, position) => heard.push([event.event, position]));
    await store.recordEvent('startup', { startup_count: 1 });
    const session = await store.createSession({});
    await store.deleteSession(session.id);
    stop();
    await store.recordEvent('shutdown', { reason: 'test' });
    assert.deepEqual(heard, [
      ['startup', 1],
      ['session_created', 2],
      ['session_deleted', 3],
    ]);
    assert.equal(await store.eventCount(), 4);
    assert.deepEqual(
      (await store.recentEvents(3)).map((event) => event.event),
      ['session_created', 'session_deleted', 'shutdown'],
    );
    const tail = await store.eventTail(2);
    assert.equal(tail.count, 4);
    assert.deepEqual(
      tail.events.map((event) => event.event),
      ['session_deleted', 'shutdown'],
    );
    assert.deepEqual(await store.eventTail(0), { events: [], count: 4 });
  });

  it('changes counters durably and counts requests, and keeps everything across a reopen', async (t) => {
    const { store, reopen } = await factory.open(t);
    await store.updateStats((stats) => ({ startup_count: stats.startup_count + 1 }));
    await store.updateStats((stats) => ({ crash_count: stats.crash_count + 2 }));
    for (let i = 0; i < 5; i++) store.countRequest();
    assert.equal((await store.stats()).total_requests, 5);
    const session = await store.createSession({ name: 'kept', data: { n: 1 } });
    await store.updateSession(session.id, { data: { n: 2 } });

    const again = await reopen();
    assert.deepEqual(await again.stats(), {
      startup_count: 1,
      crash_count: 2,
      total_sessions: 1,
      total_requests: 5,
    });
    const kept = await again.getSession(session.id);
    assert.deepEqual(kept?.data, { n: 2 });
    assert.equal(kept?.access_count, 1);
    assert.equal(await again.eventCount(), 2);
  });

  it('counts a start, and after a clean stop counts the next start and no crash', async (t) => {
    const { store, reopen } = await factory.open(t);
    const first = await store.startInstance();
    assert.deepEqual([first.startupCount, first.crashCount, first.detected], [1, 0, []]);
    assert.equal((await store.stats()).startup_count, 1);
    await store.stopInstance({ reason: 'test' });
    const { store: again, start: second } = await nextStart(reopen);
    assert.deepEqual([second.startupCount, second.crashCount, second.detected], [2, 0, []]);
    assert.deepEqual(
      (await again.recentEvents(10)).map((event) => event.event),
      ['startup', 'shutdown', 'startup'],
    );
  });

  it('counts an instance that died without stopping as one crash, naming it, at the next start', async (t) => {
    const { store, reopen } = await factory.open(t);
    await store.startInstance();
    const { store: again, start: second } = await nextStart(reopen);
    assert.equal(second.startupCount, 2);
    assert.equal(second.crashCount, 1);
    assert.deepEqual(
      second.detected.map((dead) => dead.container),
      [store.instanceId],
    );
    assert.equal((await again.stats()).crash_count, 1);
    const detected = (await again.recentEvents(10)).find(
      (event) => event.event === 'crash_detected',
    );
    assert.equal(detected?.dead_container, store.instanceId);
    assert.equal(detected?.crash_count, 1);
  });

  it('counts a /crash when it happens, and not again at the next start', async (t) => {
    const { store, reopen } = await factory.open(t);
    await store.startInstance();
    assert.equal(await store.recordCrash(), 1);
    assert.equal((await store.stats()).crash_count, 1);
    const { store: again, start: second } = await nextStart(reopen);
    assert.deepEqual([second.startupCount, second.crashCount, second.detected], [2, 1, []]);
    assert.deepEqual(
      (await again.recentEvents(10)).map((event) => event.event),
      ['startup', 'crash_triggered', 'startup'],
    );
  });
}
