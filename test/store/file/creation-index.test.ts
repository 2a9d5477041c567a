import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CreationIndex, type IndexKey } from '../../../src/store/file/creation-index.js';
import { compareCreationOrder } from '../../../src/store/file/session-files.js';

/** The original's sessions (no seq, by created_at and id) and ours (by seq). */
const key = (n: number): IndexKey =>
  n < 1000
    ? {
        seq: undefined,
        id: `00000000-0000-4000-8000-${String(n % 37).padStart(12, '0')}`,
        created_at: `2026-01-01T00:00:${String(Math.floor(n / 37)).padStart(2, '0')}Z`,
      }
    : { seq: n, id: `s${n}`, created_at: '2026-12-01T00:00:00Z' };

const name = (k: IndexKey) => (k.seq === undefined ? `${k.created_at}/${k.id}` : `#${k.seq}`);

describe('the creation index', () => {
  it('pages through every key exactly once, in order both ways, after adds and removes (model check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3000 }),
        fc.array(fc.nat(), { maxLength: 1500 }),
        fc.integer({ min: 1, max: 700 }),
        (numbers, removals, limit) => {
          const index = new CreationIndex();
          const model: IndexKey[] = [];
          for (const n of new Set(numbers)) {
            index.add(key(n));
            model.push(key(n));
          }
          model.sort(compareCreationOrder);
          for (const r of removals) {
            if (model.length === 0) break;
            const [gone] = model.splice(r % model.length, 1);
            assert.ok(index.remove(gone as IndexKey));
          }
          assert.equal(index.size, model.length);
          for (const newestFirst of [false, true]) {
            const seen: string[] = [];
            let cursor: IndexKey | null = null;
            for (;;) {
              const page = index.page(cursor, limit, newestFirst);
              seen.push(...page.keys.map(name));
              if (!page.more) break;
              assert.equal(page.keys.length, limit);
              cursor = page.keys.at(-1) ?? null;
            }
            const expected = model.map(name);
            assert.deepEqual(seen, newestFirst ? expected.reverse() : expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('continues from a cursor whose key was removed meanwhile', () => {
    const index = new CreationIndex();
    for (let n = 1000; n < 2200; n++) index.add(key(n));
    const first = index.page(null, 600, false);
    const cursor = first.keys.at(-1) as IndexKey;
    assert.ok(index.remove(cursor));
    assert.ok(index.remove(key(1600)));
    const next = index.page(cursor, 10, false);
    assert.deepEqual(next.keys.map(name).slice(0, 2), ['#1601', '#1602']);
    const back = index.page(cursor, 2, true);
    assert.deepEqual(back.keys.map(name), ['#1598', '#1597']);
    assert.equal(index.remove(key(1600)), false, 'already gone');
  });

  it('scans no more keys than its budget, and says where to go on', () => {
    const index = new CreationIndex();
    for (let n = 1000; n < 1100; n++) index.add(key(n));
    const even = (k: IndexKey) => ((k.seq ?? 0) % 2 === 0 ? 'take' : 'skip');
    const first = index.scan(null, 100, false, 10, even);
    assert.deepEqual(first.keys.map(name), ['#1000', '#1002', '#1004', '#1006', '#1008']);
    assert.equal(first.last === null ? '' : name(first.last), '#1009', 'the last key looked at');
    assert.equal(first.more, true);
    const full = index.scan(null, 2, true, 1000, even);
    assert.deepEqual(full.keys.map(name), ['#1098', '#1096']);
    assert.equal(full.last === null ? '' : name(full.last), '#1096');
    const rest = index.scan(key(1090), 100, false, 1000, even);
    assert.deepEqual(rest.keys.map(name), ['#1092', '#1094', '#1096', '#1098']);
    assert.equal(rest.more, false);
  });

  it('ends a scan before the key it is told to stop at, which the next scan starts with', () => {
    const index = new CreationIndex();
    for (let n = 1000; n < 1010; n++) index.add(key(n));
    const untilFourth = (k: IndexKey) => ((k.seq ?? 0) === 1003 ? 'stop' : 'take');
    const first = index.scan(null, 100, false, 1000, untilFourth);
    assert.deepEqual(first.keys.map(name), ['#1000', '#1001', '#1002']);
    assert.equal(first.last === null ? '' : name(first.last), '#1002', '#1003 not looked at');
    assert.equal(first.more, true);
    const back = index.scan(key(1006), 100, true, 1000, untilFourth);
    assert.deepEqual(back.keys.map(name), ['#1005', '#1004']);
    assert.equal(back.more, true);
    const rest = index.scan(key(1002), 100, false, 1000, () => 'take');
    assert.equal(rest.keys.map(name)[0], '#1003');
  });

  it('is empty-safe', () => {
    const index = new CreationIndex();
    assert.deepEqual(index.page(null, 5, false), { keys: [], more: false });
    assert.deepEqual(index.page(key(1234), 5, true), { keys: [], more: false });
    assert.equal(index.remove(key(1)), false);
  });
});
