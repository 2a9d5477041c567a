import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DueSessions } from '../../../src/store/file/due-sessions.js';

interface Held {
  name: string;
  expiresAt: number | undefined;
}

const at = (seconds: number) => seconds * 1000;
const names = (queue: DueSessions<Held>) => [...queue.dueSessions()].map((held) => held.name);

describe("the file store's sessions by when they expire", () => {
  it('gives what is due at a time, in the order it came due, and nothing that never expires', () => {
    const queue = new DueSessions<Held>();
    const sessions: Held[] = [
      { name: 'c', expiresAt: at(30) },
      { name: 'never', expiresAt: undefined },
      { name: 'a', expiresAt: at(10) },
      { name: 'b', expiresAt: at(20) },
      { name: 'a2', expiresAt: at(10) },
    ];
    for (const held of sessions) queue.add(held);
    queue.advance(at(9) + 999);
    assert.deepEqual(names(queue), []);
    queue.advance(at(10)); // due from its second on
    assert.deepEqual(names(queue), ['a', 'a2']);
    queue.advance(at(100));
    assert.deepEqual(names(queue), ['a', 'a2', 'b', 'c']);
    assert.equal(queue.dueCount, 4);
  });

  it('lets go of a removed session, due or not, and queues one found not expired again', () => {
    const queue = new DueSessions<Held>();
    const early = { name: 'early', expiresAt: at(10) };
    const late = { name: 'late', expiresAt: at(20) };
    queue.add(early);
    queue.add(late);
    queue.remove(late);
    queue.advance(at(15));
    assert.deepEqual(names(queue), ['early']);
    // The clock went back: the sweep found it not expired, and queues it by its second again.
    queue.requeue(early);
    assert.equal(queue.dueCount, 0);
    queue.advance(at(30));
    assert.deepEqual(names(queue), ['early']);
    queue.remove(early);
    assert.equal(queue.dueCount, 0);
  });

  it('keeps its heap bounded when sessions expiring far ahead come and go', () => {
    const queue = new DueSessions<Held>();
    const kept = { name: 'kept', expiresAt: at(5) };
    queue.add(kept);
    for (let i = 0; i < 100_000; i++) {
      const passing = { name: `p${i}`, expiresAt: at(1_000_000 + i) };
      queue.add(passing);
      queue.remove(passing);
    }
    assert.ok(queue.heapSize <= 2 * 1 + 1024 + 1, `the heap holds ${queue.heapSize} seconds`);
    queue.advance(at(10));
    assert.deepEqual(names(queue), ['kept']);
  });

  it('rebuilds a heap of hundreds of thousands of seconds, and still gives them in order', () => {
    const queue = new DueSessions<Held>();
    for (let i = 0; i < 300_000; i++) queue.add({ name: `s${i}`, expiresAt: at(300_000 - i) });
    // Enough churn far ahead to rebuild the heap from 300,000 buckets.
    for (let i = 0; i < 700_000; i++) {
      const passing = { name: 'p', expiresAt: at(10_000_000 + i) };
      queue.add(passing);
      queue.remove(passing);
    }
    assert.ok(queue.heapSize < 700_000, `the heap holds ${queue.heapSize} seconds`);
    queue.advance(at(3));
    assert.deepEqual(names(queue), ['s299999', 's299998', 's299997']);
    assert.equal(queue.advance(at(300_000)), 299_997);
    assert.equal(queue.dueCount, 300_000);
  });
});
