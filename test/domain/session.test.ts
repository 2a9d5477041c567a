import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../src/domain/errors.js';
import { mergePatch } from '../../src/domain/merge-patch.js';
import {
  applyUpdate,
  createSession,
  expiresAtInSessionJson,
  isSessionId,
  nameInSessionJson,
  validateSessionInput,
} from '../../src/domain/session.js';
import { parseStoredSession } from '../../src/domain/stored-session.js';
import { SESSION_KEYS } from '../helpers/session-keys.js';

describe('session rules', () => {
  it('reads the name from a session held as JSON without parsing the rest, whatever it holds', () => {
    const names = [
      'plain',
      '',
      'he said "hi"',
      'back\\slash\\',
      'a\\"b',
      '","name":"not this',
      'line\u2028sep\u0001',
      'é😀\ud800',
    ];
    for (const name of names) {
      const session = createSession({ name, data: { name: 'the data', big: 'x'.repeat(1000) } });
      assert.equal(nameInSessionJson(JSON.stringify(session)), name, JSON.stringify(name));
    }
    // The canonical key order puts the name right after the id: read there, the
    // rest never parsed (cut short, it would not parse).
    const json = JSON.stringify(createSession({ name: 'fast', data: { a: 1 } }));
    assert.equal(nameInSessionJson(json.slice(0, json.indexOf(',"data"'))), 'fast');
    // Another key order (not what a store holds): parsed whole, still right.
    const other = JSON.stringify({ name: 'first', id: createSession({}).id, data: {} });
    assert.equal(nameInSessionJson(other), 'first');
  });

  it('reads when a session expires from its JSON, whatever its data holds', () => {
    const now = new Date('2026-12-07T10:00:00Z');
    const tricky = {
      access_count: 7,
      text: ',"access_count":1,"expires_at":"2000-01-01T00:00:00Z"',
      expires_at: '2000-01-01T00:00:00Z',
    };
    const never = createSession({ name: 'never', data: tricky }, now);
    assert.equal(expiresAtInSessionJson(JSON.stringify(never)), undefined);
    const brief = createSession({ name: 'brief', data: tricky, ttl_seconds: 90 }, now);
    assert.equal(brief.expires_at, '2026-12-07T10:01:30Z');
    assert.equal(expiresAtInSessionJson(JSON.stringify(brief)), Date.parse('2026-12-07T10:01:30Z'));
    const counted = { ...applyUpdate(brief, {}, now), access_count: 123_456 };
    assert.equal(expiresAtInSessionJson(JSON.stringify(counted)), Date.parse(brief.expires_at));
  });

  it('a new session defaults its name to "unnamed" and its data to {}', () => {
    const session = createSession({}, new Date('2026-02-21T10:00:00.750Z'));
    assert.equal(session.name, 'unnamed');
    assert.deepEqual(session.data, {});
    assert.equal(session.access_count, 0);
    assert.equal(session.created_at, '2026-02-21T10:00:00Z');
    assert.equal(session.last_active, session.created_at);
    assert.ok(isSessionId(session.id));
    assert.deepEqual(Object.keys(session), SESSION_KEYS);
  });

  it('an update replaces only the fields it names and counts the access', () => {
    const session = createSession({ name: 'alice', data: { a: 1 } }, new Date(0));
    const renamed = applyUpdate(session, { name: 'alicia' }, new Date('2026-01-01T00:00:09Z'));
    assert.equal(renamed.name, 'alicia');
    assert.deepEqual(renamed.data, { a: 1 });
    assert.equal(renamed.access_count, 1);
    assert.equal(renamed.last_active, '2026-01-01T00:00:09Z');
    assert.equal(renamed.created_at, session.created_at);
    const touched = applyUpdate(renamed, {});
    assert.equal(touched.access_count, 2);
    assert.equal(touched.name, 'alicia');
  });

  it('rejects names that are not strings or longer than 200 characters', () => {
    assert.throws(() => validateSessionInput({ name: 123 }), InvalidInputError);
    assert.throws(() => validateSessionInput({ name: null }), InvalidInputError);
    assert.throws(() => validateSessionInput({ name: 'x'.repeat(201) }), InvalidInputError);
    assert.equal(validateSessionInput({ name: 'x'.repeat(200) }).name?.length, 200);
    // 200 characters outside the BMP are 400 UTF-16 units, and still allowed.
    assert.equal([...(validateSessionInput({ name: '😀'.repeat(200) }).name ?? '')].length, 200);
  });

  it('rejects data that is not an object and bodies that are not objects', () => {
    for (const data of [[], 'x', 1, null, true]) {
      assert.throws(() => validateSessionInput({ data }), InvalidInputError);
    }
    for (const body of [[], 'x', 1, null]) {
      assert.throws(() => validateSessionInput(body), InvalidInputError);
    }
    assert.deepEqual(validateSessionInput(undefined), {});
  });

  it('recognises only canonical lower-case UUIDs as session ids', () => {
    assert.ok(isSessionId('3f2a0c1e-0000-4000-8000-000000000000'));
    assert.ok(!isSessionId('3F2A0C1E-0000-4000-8000-000000000000'));
    assert.ok(!isSessionId('../../etc/passwd'));
    assert.ok(!isSessionId(''));
  });

  it('reads a stored session back, and says what is wrong with a bad one', () => {
    const session = createSession({ name: 'bob' });
    assert.deepEqual(parseStoredSession(JSON.parse(JSON.stringify(session))), session);
    assert.equal(typeof parseStoredSession({ ...session, access_count: -1 }), 'string');
    assert.equal(typeof parseStoredSession({ ...session, data: [] }), 'string');
    assert.equal(typeof parseStoredSession([]), 'string');
    // What a quarantine event and the inspector say of a file: the field, and what is wrong.
    const { name: _name, ...nameless } = session;
    assert.equal(parseStoredSession(nameless), 'missing or malformed "name"');
    assert.equal(parseStoredSession({ ...session, name: 5 }), '"name" is not a string');
    assert.equal(
      parseStoredSession({ ...session, access_count: -1 }),
      '"access_count" is not a non-negative integer',
    );
  });

  it('merges as RFC 7396 says (its appendix A examples), keys defined, never assigned', () => {
    const cases: [unknown, unknown, unknown][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [
        ['a', 'b'],
        ['c', 'd'],
        ['c', 'd'],
      ],
      [{ a: 'b' }, ['c'], ['c']],
      [{ a: 'foo' }, null, null],
      [{ a: 'foo' }, 'bar', 'bar'],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [[1, 2], { a: 'b', c: null }, { a: 'b' }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [target, patch, result] of cases) {
      assert.deepEqual(mergePatch(target, patch), result, JSON.stringify([target, patch]));
    }
    const merged = mergePatch({}, JSON.parse('{"__proto__":{"polluted":true}}')) as object;
    assert.equal(Object.getPrototypeOf(merged), Object.prototype, 'no prototype was set');
    assert.deepEqual(Object.keys(merged), ['__proto__'], 'it is a key like any other');
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });
});
