import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher } from '../../../src/store/postgres/batcher.js';

interface Item {
  key: string;
  value: number;
}

describe('Batcher (group commit with a result each)', () => {
  it('sends the first write alone, then what waited meanwhile together, each with its own result', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<Item, number>(
      async (items) => {
        batches.push(items.map((item) => item.value));
        await new Promise((resolve) => setTimeout(resolve, 5));
        return items.map((item) => item.value * 10);
      },
      (item) => item.key,
    );
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((value) => batcher.submit({ key: `k${value}`, value })),
    );
    assert.deepEqual(results, [10, 20, 30, 40, 50]);
    assert.deepEqual(batches, [[1], [2, 3, 4, 5]]);
  });

  it('never puts two writes with one key in the same batch, and keeps their order', async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<Item, number>(
      async (items) => {
        batches.push(items.map((item) => item.value));
        return items.map((item) => item.value);
      },
      (item) => item.key,
    );
    await Promise.all([
      batcher.submit({ key: 'a', value: 1 }),
      batcher.submit({ key: 'a', value: 2 }),
      batcher.submit({ key: 'b', value: 3 }),
      batcher.submit({ key: 'a', value: 4 }),
    ]);
    assert.deepEqual(batches, [[1], [2, 3], [4]]);
  });

  it('fails every write of a failed batch, and goes on with the next', async () => {
    let calls = 0;
    const batcher = new Batcher<Item, number>(
      async (items) => {
        calls++;
        if (items.some((item) => item.value === 2)) throw new Error('database away');
        return items.map((item) => item.value);
      },
      (item) => item.key,
      { maxBatch: 2 },
    );
    const outcomes = await Promise.allSettled(
      [1, 2, 3, 4].map((value) => batcher.submit({ key: `k${value}`, value })),
    );
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.equal(calls, 3, 'batches of at most 2: [1], [2, 3], [4]');
  });

  it('tries a batch that failed for one item’s sake again an item at a time: only that item fails', async () => {
    const batches: number[][] = [];
    const refused = Object.assign(new Error('invalid byte sequence'), { code: '22021' });
    const batcher = new Batcher<Item, number>(
      async (items) => {
        batches.push(items.map((item) => item.value));
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (items.some((item) => item.value === 3)) throw refused;
        return items.map((item) => item.value * 10);
      },
      (item) => item.key,
      { failsAlone: (error) => (error as { code?: string }).code === '22021' },
    );
    const outcomes = await Promise.allSettled(
      [1, 2, 3, 4].map((value) => batcher.submit({ key: `k${value}`, value })),
    );
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'refused')),
      [10, 20, 'refused', 40],
    );
    assert.deepEqual(batches, [[1], [2, 3, 4], [2], [3], [4]]);
  });
});
