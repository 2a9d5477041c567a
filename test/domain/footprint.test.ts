import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SessionTooLargeError } from '../../src/domain/errors.js';
import {
  footprintGrowth,
  measureJson,
  NODE_BYTES,
  sessionFootprint,
} from '../../src/domain/footprint.js';
import { applyUpdate, createSession, validateSessionInput } from '../../src/domain/session.js';

describe('what a session costs in memory', () => {
  it('counts every value and every key, and the characters of strings, two bytes where UTF-16 is needed', () => {
    assert.deepEqual(measureJson({}), { nodes: 1, bytes: NODE_BYTES });
    // {"ab": [1, "xy"]}: the object, the key, the array, 1 and "xy".
    assert.deepEqual(measureJson({ ab: [1, 'xy'] }), { nodes: 5, bytes: 5 * NODE_BYTES + 2 + 2 });
    assert.equal(measureJson('é').bytes, NODE_BYTES + 1, 'Latin-1 fits one byte');
    assert.equal(measureJson('€€').bytes, NODE_BYTES + 4, 'beyond Latin-1, two bytes a character');
  });

  it('grows with the values a body holds, not with its bytes', () => {
    const objects = { a: Array.from({ length: 1000 }, () => ({})) };
    const text = { a: 'x'.repeat(6000) };
    assert.ok(JSON.stringify(objects).length < JSON.stringify(text).length);
    assert.ok(measureJson(objects).bytes > 10 * measureJson(text).bytes);
    const session = createSession({ name: 'n', data: objects });
    assert.ok(sessionFootprint(session) > measureJson(objects).bytes);
  });

  it('measures an update as the difference of the footprints before and after', () => {
    const before = createSession({ name: 'ab', data: { list: [1, 2, 3] } });
    const renamed = applyUpdate(before, { name: 'abcd' });
    assert.equal(footprintGrowth(before, renamed), 2);
    const grown = applyUpdate(before, { data: { list: [1, 2, 3, 4] } });
    assert.equal(
      footprintGrowth(before, grown),
      sessionFootprint(grown) - sessionFootprint(before),
    );
  });

  it('refuses data over the node limit with a 413 that names the setting', () => {
    const data = { a: Array.from({ length: 8 }, () => 0) }; // 1 + 1 + 1 + 8 = 11 nodes
    assert.deepEqual(validateSessionInput({ data }, 11).data, data);
    assert.throws(
      () => validateSessionInput({ data }, 10),
      (error: unknown) =>
        error instanceof SessionTooLargeError &&
        error.statusCode === 413 &&
        /SESSION_MAX_NODES/.test(error.message),
    );
  });
});
