import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_STATS, type InstanceMarker, judgeStart } from '../../src/domain/counters.js';

const marker = (state: InstanceMarker['state'], counts = { startup_count: 1, crash_count: 0 }) => ({
  container: 'a9f09b61',
  pid: 42,
  started_at: '2026-02-21T10:00:00Z',
  state,
  ...counts,
});

describe('crash accounting at start', () => {
  it('taking over a directory without a marker is a start, not a crash', () => {
    const verdict = judgeStart(null, { ...EMPTY_STATS, startup_count: 3, crash_count: 1 });
    assert.deepEqual(verdict, { startupCount: 4, crashCount: 1, detected: null });
  });

  it('a clean stop counts no crash', () => {
    const verdict = judgeStart(marker('stopped'), { ...EMPTY_STATS, startup_count: 1 });
    assert.equal(verdict.crashCount, 0);
    assert.equal(verdict.detected, null);
  });

  it('an instance still marked running died unseen: one crash, naming it', () => {
    const verdict = judgeStart(marker('running'), { ...EMPTY_STATS, startup_count: 1 });
    assert.equal(verdict.crashCount, 1);
    assert.equal(verdict.startupCount, 2);
    assert.equal(verdict.detected?.container, 'a9f09b61');
  });

  it('a /crash already counted is not counted again', () => {
    const crashing = marker('crashing', { startup_count: 1, crash_count: 1 });
    const verdict = judgeStart(crashing, { ...EMPTY_STATS, startup_count: 1, crash_count: 1 });
    assert.equal(verdict.crashCount, 1);
    assert.equal(verdict.detected, null);
  });

  it('counts the marker announced but stats.json never got are made good', () => {
    // Died after writing its marker, before writing stats.json.
    const announced = marker('running', { startup_count: 5, crash_count: 2 });
    const verdict = judgeStart(announced, { ...EMPTY_STATS, startup_count: 4, crash_count: 1 });
    assert.equal(verdict.startupCount, 6);
    assert.equal(verdict.crashCount, 3);
    const crashing = marker('crashing', { startup_count: 5, crash_count: 3 });
    const afterCrash = judgeStart(crashing, { ...EMPTY_STATS, startup_count: 5, crash_count: 2 });
    assert.equal(afterCrash.crashCount, 3);
  });
});
