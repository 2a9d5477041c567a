/**
 * The Store contract for the event log's retention policy (EVENTS_RETAIN_*,
 * docs/design/expiry-and-retention.md): what a policy drops is gone from the
 * oldest on, `count` stays every event ever logged, `oldest` says where what
 * is kept begins, and all of it holds across a reopen. Every store runs these.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { makeEvent } from '../../src/domain/event.js';
import type { RetentionPolicy } from '../../src/domain/retention.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/store.js';
import { appendEvent } from '../helpers/append-event.js';
import type { StoreFactory } from './contract.js';
import { TestClock } from './expiry-contract.js';

/** Drops now what the policy no longer keeps, each store its own way (both also do it every second). */
async function retainNow(store: Store): Promise<void> {
  if (store instanceof FileStore) {
    await store.writeBehind.snapshot(); // what a boot needs of the log begins at its snapshot
    await store.retention.runIfDue();
  } else if (store instanceof PostgresStore) {
    await store.dropOldEvents();
  } else {
    throw new Error('retainNow: a store this helper does not know');
  }
}

async function logEvents(store: Store, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await appendEvent(store, makeEvent('startup', 'c0ffee00', { startup_count: i }));
  }
}

const keep = (policy: Partial<RetentionPolicy>): RetentionPolicy => ({
  count: null,
  maxAgeMs: null,
  bytes: null,
  ...policy,
});

export function retentionContract(factory: StoreFactory): void {
  it('keeps the newest events, with every position and the count of all as before', async (t) => {
    const { store, reopen } = await factory.open(t, undefined, undefined, keep({ count: 100 }));
    await logEvents(store, 1000);
    await retainNow(store);
    const tail = await store.eventTail(5);
    assert.equal(tail.count, 1000);
    assert.equal(tail.oldest, 901);
    assert.deepEqual(
      tail.events.map((event) => event.startup_count),
      [995, 996, 997, 998, 999],
    );
    // A range reaching into what was dropped gets what is kept of it.
    const page = await store.eventRange(890, 905);
    assert.equal(page.oldest, 901);
    assert.deepEqual(
      page.events.map((event) => event.startup_count),
      [900, 901, 902, 903, 904],
    );
    assert.deepEqual((await store.eventRange(1, 900)).events, []);

    const again = await reopen();
    const after = await again.eventTail(1);
    assert.equal(after.oldest, 901);
    assert.equal(after.count, 1000);
    await logEvents(again, 1, 1000);
    assert.equal((await again.eventTail(1)).events[0]?.startup_count, 1000);
    assert.equal(await again.eventCount(), 1001);
  });

  it('drops events older than the age bound, by the store clock, and may drop them all', async (t) => {
    const clock = new TestClock();
    clock.ms = Date.now();
    const day = 86_400_000;
    const { store } = await factory.open(t, undefined, clock.now, keep({ maxAgeMs: day }));
    await logEvents(store, 500);
    await retainNow(store);
    assert.equal((await store.eventTail(1)).oldest, 1, 'nothing is a day old yet');
    clock.advance(2 * 86_400);
    await retainNow(store);
    const tail = await store.eventTail(10);
    assert.equal(tail.count, 500);
    assert.equal(tail.oldest, 501);
    assert.deepEqual(tail.events, []);
    await logEvents(store, 1, 500);
    assert.equal((await store.eventTail(10)).events.length, 1);
  });
}
