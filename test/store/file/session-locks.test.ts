/**
 * The per-session lock (store/file/session-locks.ts): tasks of one session
 * one at a time and in order, other sessions not held up, and writes queued
 * behind a running task taken together as one batch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionLocks } from '../../../src/store/file/session-locks.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An item of a batch: its label, and its caller's promise. */
interface Item {
  label: string;
  resolve(batch: string[]): void;
  reject(error: unknown): void;
}

describe('the per-session lock', () => {
  it('runs the tasks of one session one at a time, in order, even when one fails', async () => {
    const locks = new SessionLocks();
    const order: string[] = [];
    const slow =
      (label: string, ms: number, fail = false) =>
      async () => {
        order.push(`${label} start`);
        await pause(ms);
        order.push(`${label} end`);
        if (fail) throw new Error(label);
      };
    await Promise.allSettled([
      locks.run('s', slow('first', 20, true)),
      locks.run('s', slow('second', 1)),
      locks.run('other', slow('other', 5)),
    ]);
    const mine = order.filter((entry) => !entry.startsWith('other'));
    assert.deepEqual(mine, ['first start', 'first end', 'second start', 'second end']);
    assert.ok(
      order.indexOf('other end') < order.indexOf('first end'),
      'another session is not held up',
    );
  });

  it('takes the items queued behind a running task as one batch, in order, after it', async () => {
    const locks = new SessionLocks();
    const order: string[] = [];
    const runBatch = async (items: Item[]) => {
      const labels = items.map((item) => item.label);
      order.push(`batch ${labels.join(',')}`);
      await pause(5);
      for (const item of items) item.resolve(labels);
    };
    const join = (id: string, label: string) =>
      new Promise<string[]>((resolve, reject) =>
        locks.join(id, { label, resolve, reject }, runBatch),
      );
    const first = join('s', 'a');
    await pause(1); // a's batch runs
    const rest = [join('s', 'b'), join('s', 'c'), join('s', 'd')];
    const other = join('t', 'x');
    assert.deepEqual(await first, ['a']);
    for (const batch of await Promise.all(rest)) assert.deepEqual(batch, ['b', 'c', 'd']);
    assert.deepEqual(await other, ['x']);
    assert.deepEqual(order, ['batch a', 'batch x', 'batch b,c,d']);
  });

  it('keeps the order of tasks and batches: an item queued after a task runs after it', async () => {
    const locks = new SessionLocks();
    const order: string[] = [];
    const runBatch = async (items: Item[]) => {
      order.push(`batch ${items.map((item) => item.label).join(',')}`);
      await pause(2);
      for (const item of items) item.resolve([]);
    };
    const join = (label: string) =>
      new Promise<string[]>((resolve, reject) =>
        locks.join('s', { label, resolve, reject }, runBatch),
      );
    const first = join('a');
    await pause(1);
    const done = [
      first,
      join('b'),
      join('c'),
      locks.run('s', async () => {
        order.push('delete');
        await pause(2);
      }),
      join('d'),
      join('e'),
    ];
    await Promise.all(done);
    assert.deepEqual(order, ['batch a', 'batch b,c', 'delete', 'batch d,e']);
  });

  it('takes at most 256 items a batch: later ones start the next', async () => {
    const locks = new SessionLocks();
    const sizes: number[] = [];
    const runBatch = async (items: Item[]) => {
      sizes.push(items.length);
      await pause(1);
      for (const item of items) item.resolve([]);
    };
    const join = (label: string) =>
      new Promise<string[]>((resolve, reject) =>
        locks.join('s', { label, resolve, reject }, runBatch),
      );
    const first = join('first');
    await pause(1);
    await Promise.all([first, ...Array.from({ length: 300 }, (_, n) => join(String(n)))]);
    assert.deepEqual(sizes, [1, 256, 44]);
  });

  it('rejects every item of a batch whose run throws, and runs the next', async () => {
    const locks = new SessionLocks();
    let calls = 0;
    const runBatch = async (items: Item[]) => {
      calls++;
      await pause(2);
      if (calls === 2) throw new Error('the batch failed');
      for (const item of items) item.resolve([item.label]);
    };
    const join = (label: string) =>
      new Promise<string[]>((resolve, reject) =>
        locks.join('s', { label, resolve, reject }, runBatch),
      );
    const first = join('a');
    await pause(1);
    const results = await Promise.allSettled([first, join('b'), join('c')]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'rejected'],
    );
    assert.deepEqual(await join('d'), ['d'], 'the lock is free again');
  });
});
