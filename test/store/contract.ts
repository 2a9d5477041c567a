/**
 * The Store contract: what every store must do, whatever keeps the data. Each
 * store's test file runs these same tests against a fresh, empty store, driven
 * through the application (service/) as production drives it, and read back
 * through the port.
 */
import assert from 'node:assert/strict';
import { it, type TestContext } from 'node:test';
import { NotFoundError } from '../../src/domain/errors.js';
import { makeEvent } from '../../src/domain/event.js';
import { DEFAULT_PAGE_MAX_BYTES } from '../../src/domain/page.js';
import type { RetentionPolicy } from '../../src/domain/retention.js';
import type { Session } from '../../src/domain/session.js';
import type { Clock } from '../../src/domain/time.js';
import { StatefulService } from '../../src/service/service.js';
import type { BackgroundReporter, Store } from '../../src/store/store.js';
import { appendEvent } from '../helpers/append-event.js';

export interface StoreFactory {
  /**
   * A fresh, empty store; `reopen` closes it (without stopInstance: to the
   * store, a death) and opens the same data again as another instance.
   */
  open(
    t: TestContext,
    background?: BackgroundReporter,
    /** The store's clock (Date.now when absent). */
    clock?: Clock,
    /** What the event log keeps (everything when absent). */
    retention?: RetentionPolicy,
  ): Promise<{
    store: Store;
    reopen(): Promise<Store>;
    /** Makes the store's counter flushes fail until the returned heal() is called. */
    breakStorage(): Promise<() => Promise<void>>;
  }>;
  /** How long after a death the next start can tell it (a lease's length; 0 with a marker). */
  deathVisibleAfterMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, for at most 15 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await sleep(50);
  }
}

/** The application over `store`, as production wires it. */
const serve = (store: Store) => new StatefulService(store, { sessionMaxNodes: 10_000 });
/** Every session as the store lists it: the JSON a listing sends. */
const listedJson = async (store: Store) => {
  const all: string[] = [];
  for await (const batch of store.sessionBatches(100)) all.push(...batch);
  return all;
};
const allSessions = async (store: Store) =>
  (await listedJson(store)).map((json) => JSON.parse(json) as Session);
const statsOf = async (store: Store) => (await store.overview()).stats;
const recentEvents = async (store: Store, limit: number) => (await store.eventTail(limit)).events;
const logged = (store: Store, kind: 'startup' | 'shutdown', extra = {}) =>
  appendEvent(store, makeEvent(kind, store.instanceId, extra));

export function storeContract(factory: StoreFactory): void {
  /** Reopens the store as the next instance once a death would be visible, and counts its start. */
  const nextStart = async (reopen: () => Promise<Store>) => {
    const store = await reopen();
    await sleep(factory.deathVisibleAfterMs);
    return { store, start: await store.startInstance() };
  };

  it('creates a session, serves it, counts it and logs session_created', async (t) => {
    const { store } = await factory.open(t);
    const session = await serve(store).sessions.create({ name: 'alice', data: { b: 1, a: [2] } });
    assert.deepEqual(await store.getSession(session.id), session);
    assert.deepEqual(Object.keys((await store.getSession(session.id))?.data ?? {}), ['b', 'a']);
    // Listed as JSON.stringify writes it: the session's keys and data's in their order.
    assert.deepEqual(await listedJson(store), [JSON.stringify(session)]);
    assert.equal(await store.sessionCount(), 1);
    assert.equal((await statsOf(store)).total_sessions, 1);
    const [event] = await recentEvents(store, 1);
    assert.equal(event?.event, 'session_created');
    assert.equal(event?.session_id, session.id);
    assert.equal(event?.container, store.instanceId);
  });

  it('lists every session in creation order a batch at a time', async (t) => {
    const { store } = await factory.open(t);
    const created = [];
    for (let i = 0; i < 7; i++) created.push(await serve(store).sessions.create({ name: `s${i}` }));
    await serve(store).sessions.delete(created[3]?.id ?? '');
    const batches: string[][] = [];
    for await (const batch of store.sessionBatches(2)) {
      batches.push(batch.map((json) => (JSON.parse(json) as Session).name));
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
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => serve(store).sessions.create({ name: `s${i}` })),
    );
    assert.equal((await statsOf(store)).total_sessions, 60);
    assert.equal(await store.sessionCount(), 60);
    assert.equal(await store.eventCount(), 60);
    const overview = await store.overview();
    assert.deepEqual(overview.stats, await statsOf(store));
    assert.equal(overview.liveSessions, 60);
  });

  it('never loses an access_count increment under concurrent updates of one session', async (t) => {
    const { store } = await factory.open(t);
    const session = await serve(store).sessions.create({ name: 'busy' });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        serve(store).sessions.update(session.id, { data: { i } }),
      ),
    );
    assert.equal((await store.getSession(session.id))?.access_count, 40);
  });

  it('writes and logs nothing for a change that finds nothing to change, and answers the latest version', async (t) => {
    const { store } = await factory.open(t);
    const session = await serve(store).sessions.create({ name: 'kept' });
    const events = await store.eventCount();
    const updated = makeEvent('session_updated', store.instanceId, { session_id: session.id });
    const bump = (current: Session) => ({
      session: { ...current, access_count: current.access_count + 1 },
      patch: null,
    });
    await store.changeSession(session.id, bump, updated);
    const unchanged = await store.changeSession(session.id, () => null, updated);
    assert.equal(unchanged.access_count, 1, 'it answers the latest version');
    await store.changeSession(session.id, bump, updated);
    assert.equal((await store.getSession(session.id))?.access_count, 2);
    assert.equal(await store.eventCount(), events + 2, 'no event for a change that made none');
    const alone = await store.changeSession(session.id, () => null, updated);
    assert.deepEqual(alone, await store.getSession(session.id));
    assert.equal(await store.eventCount(), events + 2);
  });

  it('keeps creation order, updates in place, deletes, and says NotFound for what is gone', async (t) => {
    const { store } = await factory.open(t);
    const first = await serve(store).sessions.create({ name: 'first' });
    const second = await serve(store).sessions.create({ name: 'second' });
    const updated = await serve(store).sessions.update(first.id, { name: 'renamed' });
    assert.equal(updated.access_count, 1);
    assert.deepEqual(
      (await allSessions(store)).map((session) => session.name),
      ['renamed', 'second'],
    );
    await serve(store).sessions.delete(second.id);
    assert.equal(await store.getSession(second.id), undefined);
    await assert.rejects(serve(store).sessions.delete(second.id), NotFoundError);
    await assert.rejects(serve(store).sessions.update(second.id, {}), NotFoundError);
    await assert.rejects(serve(store).sessions.update('not-a-uuid', {}), NotFoundError);
    assert.equal(await store.getSession('not-a-uuid'), undefined);
    assert.equal((await statsOf(store)).total_sessions, 2, 'deleting does not lower it');
  });

  it('keeps events in one order and tells listeners each one with its position', async (t) => {
    const { store } = await factory.open(t);
    const heard: [string, number][] = [];
    const stop = store.onEvent((event, position) => heard.push([event.event, position]));
    await logged(store, 'startup', { startup_count: 1 });
    const session = await serve(store).sessions.create({});
    await serve(store).sessions.delete(session.id);
    stop();
    await logged(store, 'shutdown', { reason: 'test' });
    assert.deepEqual(heard, [
      ['startup', 1],
      ['session_created', 2],
      ['session_deleted', 3],
    ]);
    assert.equal(await store.eventCount(), 4);
    assert.deepEqual(
      (await recentEvents(store, 3)).map((event) => event.event),
      ['session_created', 'session_deleted', 'shutdown'],
    );
    const tail = await store.eventTail(2);
    assert.equal(tail.count, 4);
    assert.deepEqual(
      tail.events.map((event) => event.event),
      ['session_deleted', 'shutdown'],
    );
    assert.deepEqual(await store.eventTail(0), { events: [], count: 4, oldest: 1 });
  });

  it('changes counters durably and counts requests, and keeps everything across a reopen', async (t) => {
    const { store, reopen } = await factory.open(t);
    const service = serve(store);
    await service.start();
    for (let i = 0; i < 5; i++) service.countRequest();
    assert.equal((await statsOf(store)).total_requests, 5);
    assert.equal(service.requestsThisInstance(), 5);
    const session = await service.sessions.create({ name: 'kept', data: { n: 1 } });
    await service.sessions.update(session.id, { data: { n: 2 } });
    await service.crash();

    const again = await reopen();
    assert.deepEqual(await statsOf(again), {
      startup_count: 1,
      crash_count: 1,
      total_sessions: 1,
      total_requests: 5,
      expired_sessions: 0,
    });
    const kept = await again.getSession(session.id);
    assert.deepEqual(kept?.data, { n: 2 });
    assert.equal(kept?.access_count, 1);
    assert.deepEqual(await listedJson(again), [JSON.stringify(kept)]);
    assert.deepEqual(
      (await recentEvents(again, 10)).map((event) => event.event),
      ['startup', 'session_created', 'session_updated', 'crash_triggered'],
    );
  });

  it('counts a start, and after a clean stop counts the next start and no crash', async (t) => {
    const { store, reopen } = await factory.open(t);
    const first = await store.startInstance();
    assert.deepEqual([first.startupCount, first.crashCount, first.detected], [1, 0, []]);
    const overview = await store.overview();
    assert.equal(overview.stats.startup_count, 1);
    assert.equal(overview.liveInstances, 1);
    await serve(store).stop('test');
    const { store: again, start: second } = await nextStart(reopen);
    assert.deepEqual([second.startupCount, second.crashCount, second.detected], [2, 0, []]);
    assert.deepEqual(
      (await recentEvents(again, 10)).map((event) => event.event),
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
    assert.equal((await statsOf(again)).crash_count, 1);
    const detected = (await recentEvents(again, 10)).find(
      (event) => event.event === 'crash_detected',
    );
    assert.equal(detected?.dead_container, store.instanceId);
    assert.equal(detected?.crash_count, 1);
  });

  it('counts a /crash when it happens, and not again at the next start', async (t) => {
    const { store, reopen } = await factory.open(t);
    await store.startInstance();
    assert.equal(await serve(store).crash(), 1);
    assert.equal((await statsOf(store)).crash_count, 1);
    const { store: again, start: second } = await nextStart(reopen);
    assert.deepEqual([second.startupCount, second.crashCount, second.detected], [2, 1, []]);
    assert.deepEqual(
      (await recentEvents(again, 10)).map((event) => event.event),
      ['startup', 'crash_triggered', 'startup'],
    );
  });

  it('reports a failing background flush with its cause, retries it, and reports its recovery', async (t) => {
    const failed: string[] = [];
    const succeeded: string[] = [];
    const { store, breakStorage } = await factory.open(t, {
      failed: (task, error) => failed.push(`${task}: ${String(error)}`),
      succeeded: (task) => succeeded.push(task),
    });
    const heal = await breakStorage();
    store.countRequest();
    await until(
      () => failed.filter((line) => line.startsWith('stats_flush: ')).length >= 2,
      'each failed try of the flush is reported',
    );
    assert.ok(
      failed.every((line) => line.length > 'stats_flush: '.length + 5),
      'with its cause',
    );
    succeeded.length = 0;
    await heal();
    await until(() => succeeded.includes('stats_flush'), 'the retry that lands is reported');
    assert.equal((await statsOf(store)).total_requests, 1, 'counted once');
  });

  it('pages through every session exactly once, both ways, while others are created and deleted', async (t) => {
    const { store } = await factory.open(t);
    const sessions = serve(store).sessions;
    const kept: string[] = [];
    const doomed: string[] = [];
    for (let i = 0; i < 120; i++) {
      const session = await sessions.create({ name: `s${i}` });
      (i % 3 === 0 ? doomed : kept).push(session.id);
    }
    for (const newestFirst of [false, true]) {
      const seen: string[] = [];
      let after: string | null = null;
      let churn = 0;
      for (;;) {
        const page: Awaited<ReturnType<Store['sessionPage']>> = await store.sessionPage({
          after,
          limit: 7,
          newestFirst,
          search: null,
          maxBytes: DEFAULT_PAGE_MAX_BYTES,
        });
        seen.push(...page.items.map((json) => (JSON.parse(json) as Session).id));
        // Writes between pages: new sessions, and deletes behind and ahead of the cursor.
        const victim = doomed.pop();
        if (victim !== undefined) await sessions.delete(victim);
        await sessions.create({ name: `late${newestFirst}${churn++}` });
        if (page.next === null) break;
        assert.equal(page.items.length, 7);
        after = page.next;
      }
      assert.equal(new Set(seen).size, seen.length, 'no session twice');
      const order = newestFirst ? [...kept].reverse() : kept;
      assert.deepEqual(
        seen.filter((id) => kept.includes(id)),
        order,
        'every session that lived throughout, once, in order',
      );
    }
    await assert.rejects(
      async () =>
        store.sessionPage({
          after: 'not-a-cursor',
          limit: 5,
          newestFirst: false,
          search: null,
          maxBytes: DEFAULT_PAGE_MAX_BYTES,
        }),
      /not a cursor this service gave out/,
    );
    const empty = await factory.open(t);
    assert.deepEqual(
      await empty.store.sessionPage({
        after: null,
        limit: 5,
        newestFirst: true,
        search: null,
        maxBytes: DEFAULT_PAGE_MAX_BYTES,
      }),
      {
        items: [],
        next: null,
      },
    );
  });

  it('reads any stretch of a long event log, before and after a reopen', async (t) => {
    const { store, reopen } = await factory.open(t);
    const total = 11_500; // past the events kept in memory, across many index steps
    // The truth: the position each event is told with as it commits.
    const byPosition: unknown[] = [];
    const stop = store.onEvent((event, position) => {
      byPosition[position - 1] = event.n;
    });
    for (let start = 1; start <= total; start += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          // Some lines carry multi-byte characters, so reads split them across chunks.
          appendEvent(
            store,
            makeEvent('startup', store.instanceId, {
              n: start + i,
              ...((start + i) % 7 === 0 ? { u: 'é😀ß'.repeat((start + i) % 40) } : {}),
            }),
          ),
        ),
      );
    }
    stop();
    assert.equal(byPosition.length, total);
    assert.equal(new Set(byPosition).size, total, 'each event at one position');
    const check = async (current: Store) => {
      for (const [from, to] of [
        [1, 5],
        [1020, 1030],
        [5000, 5999],
        [total - 3, total + 10],
        [0, 2],
        [1, total],
      ] as const) {
        const range = await current.eventRange(from, to);
        assert.equal(range.count, total);
        const expected = byPosition.slice(Math.max(1, from) - 1, Math.min(to, total));
        assert.deepEqual(
          range.events.map((event) => event.n),
          expected,
          `positions ${from} to ${to}`,
        );
        for (const event of range.events) {
          const n = Number(event.n);
          assert.equal(event.u, n % 7 === 0 ? 'é😀ß'.repeat(n % 40) : undefined, `event ${n}`);
        }
      }
    };
    await check(store);
    await check(await reopen());
  });

  it('finds sessions by name (any case) or by the start of their id, a page at a time', async (t) => {
    const { store } = await factory.open(t);
    const sessions = serve(store).sessions;
    const names = [
      'Alice',
      'bob',
      'ALICE B',
      'carol',
      'malice',
      'Dave',
      'alicia',
      '50% off',
      'x_y',
    ];
    const created = [];
    for (const name of names) created.push(await sessions.create({ name }));
    const find = async (search: string, limit: number, newestFirst = false) => {
      const found: string[] = [];
      let scanned = 0;
      let after: string | null = null;
      do {
        const page: Awaited<ReturnType<Store['sessionPage']>> = await store.sessionPage({
          after,
          limit,
          newestFirst,
          search,
          maxBytes: DEFAULT_PAGE_MAX_BYTES,
        });
        assert.ok(page.items.length <= limit);
        found.push(...page.items.map((json) => (JSON.parse(json) as Session).name));
        scanned += page.scanned ?? Number.NaN;
        after = page.next;
      } while (after !== null);
      assert.equal(scanned, names.length, 'the pages looked at every session once');
      return found;
    };
    assert.deepEqual(await find('alic', 2), ['Alice', 'ALICE B', 'malice', 'alicia']);
    assert.deepEqual(await find('alic', 10, true), ['alicia', 'malice', 'ALICE B', 'Alice']);
    assert.deepEqual(await find('%', 5), ['50% off'], 'no wildcards');
    assert.deepEqual(await find('_', 5), ['x_y']);
    assert.deepEqual(await find('nobody', 5), []);
    const dave = created[5] as { id: string };
    assert.deepEqual(await find(dave.id.slice(0, 8), 5), ['Dave'], 'by the start of its id');
  });

  it('ends a page before the session that would take it past maxBytes, never before the first', async (t) => {
    const { store } = await factory.open(t);
    const sessions = serve(store).sessions;
    // Sizes in characters of data; names mark every third session for a search.
    // (Each session's JSON is about 165 characters more than its data's text.)
    const sizes = [10, 900, 20, 3000, 30, 40, 2500, 700, 600, 50, 400, 5000, 10, 10, 10, 10, 10];
    const created: Session[] = [];
    for (const [i, size] of sizes.entries()) {
      const name = i % 3 === 0 ? `big${i}` : `s${i}`;
      created.push(await sessions.create({ name, data: { text: 'é'.repeat(size) } }));
    }
    const maxBytes = 2000;
    const walk = async (newestFirst: boolean, search: string | null) => {
      const pages: Session[][] = [];
      let after: string | null = null;
      do {
        const page: Awaited<ReturnType<Store['sessionPage']>> = await store.sessionPage({
          after,
          limit: 4,
          newestFirst,
          search,
          maxBytes,
        });
        const bytes = page.items.reduce((sum, json) => sum + json.length, 0);
        assert.ok(page.items.length >= 1 || page.next === null, 'a page goes on');
        assert.ok(page.items.length === 1 || bytes <= maxBytes, `${bytes} characters on a page`);
        pages.push(page.items.map((json) => JSON.parse(json) as Session));
        after = page.next;
      } while (after !== null);
      return pages;
    };
    const names = (pages: Session[][]) => pages.map((page) => page.map((s) => s.name));
    const all = await walk(false, null);
    assert.deepEqual(
      all.flat().map((s) => s.id),
      created.map((s) => s.id),
      'every session once, in order',
    );
    assert.deepEqual(names(all), [
      ['big0', 's1', 's2'], // big3 would take it past 2000
      ['big3'], // alone past 2000: a page holds at least one
      ['s4', 's5'],
      ['big6'],
      ['s7', 's8', 'big9'],
      ['s10'],
      ['s11'],
      ['big12', 's13', 's14', 'big15'], // the limit
      ['s16'],
    ]);
    const newest = await walk(true, null);
    assert.deepEqual(
      newest.flat().map((s) => s.id),
      created.map((s) => s.id).reverse(),
    );
    assert.deepEqual(names(newest).slice(0, 3), [
      ['s16', 'big15', 's14', 's13'],
      ['big12'],
      ['s11'],
    ]);
    assert.deepEqual(names(await walk(false, 'big')), [
      ['big0'],
      ['big3'],
      ['big6'],
      ['big9', 'big12', 'big15'],
    ]);
  });
}
