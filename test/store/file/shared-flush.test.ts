import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SharedFlush } from '../../../src/store/file/shared-flush.js';

describe('a shared flush', () => {
  it('shares one flush among callers that arrive while one runs, and never overlaps flushes', async () => {
    let flushes = 0;
    let running = 0;
    let maxRunning = 0;
    const group = new SharedFlush(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      flushes++;
      running--;
    });
    await Promise.all(Array.from({ length: 50 }, () => group.run()));
    assert.equal(maxRunning, 1);
    assert.ok(flushes <= 2, `expected at most 2 flushes, got ${flushes}`);
  });

  it('resolves a caller only after a flush that started after its call', async () => {
    let value = 0;
    let flushed = -1;
    const group = new SharedFlush(async () => {
      const snapshot = value;
      await new Promise((resolve) => setTimeout(resolve, 5));
      flushed = snapshot;
    });
    const first = group.run();
    value = 1; // changed while the first flush runs
    const second = group.run();
    await first;
    await second;
    assert.equal(flushed, 1);
  });

  it('passes a failed flush to its callers and recovers for the next', async () => {
    let fail = true;
    const group = new SharedFlush(async () => {
      if (fail) throw new Error('disk on fire');
    });
    await assert.rejects(group.run(), /disk on fire/);
    fail = false;
    await group.run();
  });
});
