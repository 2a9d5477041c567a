import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  expiryFrom,
  expiryReason,
  isExpired,
  MAX_EXPIRY_SECONDS,
  parseDuration,
  touched,
} from '../../src/domain/expiry.js';

const at = (text: string) => new Date(text);

describe('when a session expires', () => {
  it('reads durations as seconds or with a unit, never for none, and refuses the rest', () => {
    assert.equal(parseDuration('90'), 90);
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('1H'), 3600);
    assert.equal(parseDuration(' 30d '), 30 * 86_400);
    assert.equal(parseDuration(''), null);
    assert.equal(parseDuration('never'), null);
    for (const bad of ['0', '-1', '1.5h', '1w', 'h', '1 h', `${MAX_EXPIRY_SECONDS + 1}`, '1e3']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });

  it('has none of the keys without a lifetime or an idle timeout', () => {
    assert.equal(expiryFrom(null, null, at('2026-12-07T10:00:00Z')), null);
  });

  it('expires at the earlier of its lifetime and its idle timeout, to the second', () => {
    const now = at('2026-12-07T10:00:00.900Z');
    assert.deepEqual(expiryFrom(3600, null, now), {
      expires_at: '2026-12-07T11:00:00Z',
      ends_at: '2026-12-07T11:00:00Z',
      idle_seconds: null,
    });
    assert.deepEqual(expiryFrom(3600, 900, now), {
      expires_at: '2026-12-07T10:15:00Z',
      ends_at: '2026-12-07T11:00:00Z',
      idle_seconds: 900,
    });
    assert.deepEqual(expiryFrom(600, 900, now)?.expires_at, '2026-12-07T10:10:00Z');
  });

  it('moves an idle expiry on a touch, never past the lifetime, and not for a touch too small', () => {
    const made = expiryFrom(3600, 900, at('2026-12-07T10:00:00Z'));
    assert.ok(made !== null);
    assert.equal(touched(made, at('2026-12-07T10:01:00Z')), null, 'a minute: under a tenth of 15');
    assert.equal(touched(made, at('2026-12-07T10:05:00Z'))?.expires_at, '2026-12-07T10:20:00Z');
    const late = touched(made, at('2026-12-07T10:55:00Z'));
    assert.equal(late?.expires_at, '2026-12-07T11:00:00Z', 'the lifetime still ends it');
    assert.equal(late === null ? null : expiryReason(late), 'lifetime');
    const lifetimeOnly = expiryFrom(3600, null, at('2026-12-07T10:00:00Z'));
    assert.ok(lifetimeOnly !== null);
    assert.equal(touched(lifetimeOnly, at('2026-12-07T10:30:00Z')), null, 'nothing to move');
    assert.equal(expiryReason(made), 'idle');
  });

  it('is gone from its second on', () => {
    assert.equal(isExpired(undefined, at('2999-01-01T00:00:00Z')), false);
    assert.equal(isExpired('2026-12-07T10:15:00Z', at('2026-12-07T10:14:59.999Z')), false);
    assert.equal(isExpired('2026-12-07T10:15:00Z', at('2026-12-07T10:15:00Z')), true);
  });
});
