import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../src/domain/errors.js';
import { makeEvent, parseEventLimit, serializeEvent } from '../../src/domain/event.js';

describe('events', () => {
  it('are written in the original line format', () => {
    const event = makeEvent(
      'startup',
      'a9f09b61',
      { startup_count: 1, crash_count: 0 },
      new Date('2026-02-21T10:00:00.250Z'),
    );
    assert.equal(
      serializeEvent(event),
      '{"ts":1771668000.25,"time":"2026-02-21T10:00:00Z","event":"startup","container":"a9f09b61","startup_count":1,"crash_count":0}',
    );
  });

  it('keep ts a float on a whole second, as Python writes it, and only ts', () => {
    const event = makeEvent(
      'session_created',
      'a9f09b61',
      { session_id: 'x', name: '"ts":1771668000' },
      new Date('2026-02-21T10:00:00.000Z'),
    );
    const line = serializeEvent(event);
    assert.equal(
      line,
      '{"ts":1771668000.0,"time":"2026-02-21T10:00:00Z","event":"session_created","container":"a9f09b61","session_id":"x","name":"\\"ts\\":1771668000"}',
    );
    assert.deepEqual(JSON.parse(line), event);
  });

  it('limit defaults to 50 and accepts integers from 1 to 10000 only', () => {
    assert.equal(parseEventLimit(undefined), 50);
    assert.equal(parseEventLimit('1'), 1);
    assert.equal(parseEventLimit('10000'), 10_000);
    for (const bad of ['abc', '0', '10001', '1.5', '-1', '', ' 5', '1e3', ['1', '2']]) {
      assert.throws(() => parseEventLimit(bad), InvalidInputError, String(bad));
    }
  });
});
