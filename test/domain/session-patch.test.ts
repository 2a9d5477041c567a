/**
 * A write as what it changed (SessionPatch): what a PUT and a PATCH record,
 * and that replaying the records gives the session the writes made, from the
 * session as it was before them or from any later version of it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isJsonObject, mergeInto, mergePatch, sameJson } from '../../src/domain/merge-patch.js';
import {
  applySessionPatch,
  createSession,
  type JsonObject,
  patchSession,
  type Session,
  type SessionPatch,
  updateSession,
} from '../../src/domain/session.js';
import { parseStoredPatch } from '../../src/domain/stored-session.js';
import { seeded } from '../helpers/seeded.js';

const MAX_NODES = 10_000;

describe('a write as what it changed', () => {
  const session = createSession({
    name: 'big',
    data: { blob: 'x'.repeat(10_000), nested: { a: 1, b: [1, 2] } },
  });

  it('records a PUT that keeps the data as its name and access, and one of new data as null (the whole session)', () => {
    const touch = updateSession(session, {});
    assert.deepEqual(touch.patch, {
      last_active: touch.session.last_active,
      access_count: 1,
    });
    assert.deepEqual(Object.keys(updateSession(session, { name: 'big' }).patch ?? {}), [
      'last_active',
      'access_count',
    ]);
    const same = updateSession(session, {
      name: 'renamed',
      data: { blob: 'x'.repeat(10_000), nested: { a: 1, b: [1, 2] } },
    });
    assert.deepEqual(same.patch, {
      name: 'renamed',
      last_active: same.session.last_active,
      access_count: 1,
    });
    // The same values in another key order are new bytes: the whole session.
    assert.equal(
      updateSession(session, { data: { nested: { a: 1, b: [1, 2] }, blob: 'x'.repeat(10_000) } })
        .patch,
      null,
    );
    assert.equal(updateSession(session, { data: { blob: 'y' } }).patch, null);
  });

  it("records a PATCH as the request's own name and merge patch, whatever the session weighs", () => {
    const change = patchSession(session, { data: { nested: { a: null, c: 3 } } }, MAX_NODES);
    assert.deepEqual(change.patch, {
      data: { nested: { a: null, c: 3 } },
      last_active: change.session.last_active,
      access_count: 1,
    });
    assert.ok(JSON.stringify(change.patch).length < 100);
    const empty = patchSession(session, {}, MAX_NODES);
    assert.deepEqual(Object.keys(empty.patch ?? {}), ['last_active', 'access_count']);
    // A merge that leaves every value as it was, a name as it is: a count only.
    const same = patchSession(session, { name: 'big', data: { nested: { a: 1 } } }, MAX_NODES);
    assert.deepEqual(Object.keys(same.patch ?? {}), ['last_active', 'access_count']);
  });

  it('replays a patch to the session the write made, and leaves the patch as it was', () => {
    const input = { name: 'n', data: { nested: { b: null, d: { e: 1 } }, list: [{ x: 1 }] } };
    const change = patchSession(session, input, MAX_NODES);
    const patch = change.patch as SessionPatch;
    const before = JSON.stringify(patch);
    const replayed = structuredClone(session);
    applySessionPatch(replayed, patch);
    assert.equal(JSON.stringify(replayed), JSON.stringify(change.session));
    (replayed.data.nested as JsonObject).d = 'changed later';
    assert.equal(JSON.stringify(patch), before, 'the replay copied what it took');
  });

  it('merges in place as mergePatch merges into a copy, and replays a run of writes from any version up to them to exactly the same session', () => {
    const random = seeded(7);
    const keys = ['a', 'b', 'c', '__proto__'];
    const value = (depth: number): unknown => {
      const roll = random();
      if (depth > 2 || roll < 0.3) return Math.floor(random() * 3);
      if (roll < 0.45) return null;
      if (roll < 0.5) return [Math.floor(random() * 3)];
      const object: JsonObject = {};
      for (const key of keys) {
        if (random() < 0.5)
          Object.defineProperty(object, key, {
            value: value(depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      return object;
    };
    for (let trial = 0; trial < 3000; trial++) {
      const initial = value(0);
      const start: Session = {
        ...session,
        data: isJsonObject(initial) ? (mergePatch({}, initial) as JsonObject) : {},
      };
      const patches: SessionPatch[] = [];
      const versions: Session[] = [start];
      for (let write = 0; write < 1 + Math.floor(random() * 4); write++) {
        const patch = value(1);
        const input = { data: isJsonObject(patch) ? patch : {} };
        const change = patchSession(versions.at(-1) as Session, input, MAX_NODES);
        patches.push(change.patch as SessionPatch);
        versions.push(change.session);
        // In place, as a copy: the same bytes.
        const inPlace = structuredClone((versions.at(-2) as Session).data);
        mergeInto(inPlace, input.data);
        assert.equal(JSON.stringify(inPlace), JSON.stringify(change.session.data));
      }
      const last = versions.at(-1) as Session;
      for (const from of versions) {
        const replayed = structuredClone(from);
        for (const patch of patches) applySessionPatch(replayed, patch);
        // Exactly: the patches a later version holds already are skipped.
        assert.equal(JSON.stringify(replayed), JSON.stringify(last));
      }
    }
  });

  it('compares JSON values as their serializations compare, stopping at the first difference', () => {
    assert.ok(sameJson({ a: [1, { b: 'x' }], c: null }, { a: [1, { b: 'x' }], c: null }));
    assert.ok(sameJson(-0, 0), 'both serialize as 0');
    assert.ok(!sameJson({ a: 1, b: 2 }, { b: 2, a: 1 }), 'key order is in the bytes');
    assert.ok(!sameJson([1, 2], { 0: 1, 1: 2 }));
    assert.ok(!sameJson('1', 1));
  });

  it('reads a stored patch back, and refuses one that cannot be replayed', () => {
    const patch = {
      name: 'n',
      data: { a: 1 },
      last_active: '2026-01-01T00:00:00Z',
      access_count: 3,
    };
    assert.deepEqual(parseStoredPatch(patch), patch);
    assert.equal(typeof parseStoredPatch({ ...patch, access_count: -1 }), 'string');
    assert.equal(typeof parseStoredPatch({ ...patch, last_active: 'yesterday' }), 'string');
    assert.equal(typeof parseStoredPatch({ ...patch, data: [1] }), 'string');
    assert.equal(typeof parseStoredPatch({ ...patch, name: 1 }), 'string');
  });
});
