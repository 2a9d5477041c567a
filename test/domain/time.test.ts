import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { epochSeconds, utcTimestamp } from '../../src/domain/time.js';

describe('time as the original wrote it', () => {
  it('formats each date to its own second, whatever was formatted before', () => {
    const dates = [
      '2026-12-02T19:30:00.000Z',
      '2026-12-02T19:30:00.999Z',
      '2026-12-02T19:30:01.000Z',
      '2026-12-02T19:30:00.500Z',
      '1969-12-31T23:59:59.500Z',
      '1970-01-01T00:00:00.000Z',
      '2026-12-02T19:30:01.000Z',
    ];
    for (const text of dates) {
      assert.equal(utcTimestamp(new Date(text)), `${text.slice(0, 19)}Z`);
    }
  });

  it('refuses an invalid date, even right after a valid one', () => {
    utcTimestamp(new Date(0));
    assert.throws(() => utcTimestamp(new Date(Number.NaN)), RangeError);
    assert.equal(utcTimestamp(new Date(0)), '1970-01-01T00:00:00Z');
  });

  it('gives epoch seconds with their fraction', () => {
    assert.equal(epochSeconds(new Date(1_796_239_238_846)), 1_796_239_238.846);
  });
});
