/**
 * The file store's session table on its own (store/file/session-table.ts):
 * creation order, pages and search, and the storage budget, without a
 * directory or a journal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageBudgetError } from '../../../src/domain/errors.js';
import type { PageQuery } from '../../../src/domain/page.js';
import { createSession } from '../../../src/domain/session.js';
import { residentOf, SessionTable } from '../../../src/store/file/session-table.js';

const UNBOUNDED = {
  budgetBytes: Number.POSITIVE_INFINITY,
  minFreeBytes: 0,
  root: '/',
  clock: Date.now,
};

function tableOf(names: string[], limits = UNBOUNDED): SessionTable {
  const table = new SessionTable({ sessions: [], outcome: new Map() }, limits);
  for (const name of names) {
    const resident = table.newResident(createSession({ name, data: {} }));
    table.add(resident);
  }
  return table;
}

const query = (over: Partial<PageQuery>): PageQuery => ({
  after: null,
  limit: 2,
  newestFirst: false,
  search: null,
  maxBytes: Number.POSITIVE_INFINITY,
  ...over,
});

const names = (json: readonly string[]) => json.map((item) => JSON.parse(item).name as string);

describe('the session table', () => {
  it('pages in creation order, oldest or newest first, each page after the last one’s cursor', () => {
    const table = tableOf(['a', 'b', 'c', 'd', 'e']);
    const first = table.page(query({}));
    assert.deepEqual(names(first.items), ['a', 'b']);
    const second = table.page(query({ after: first.next }));
    assert.deepEqual(names(second.items), ['c', 'd']);
    const last = table.page(query({ after: second.next }));
    assert.deepEqual(names(last.items), ['e']);
    assert.equal(last.next, null);
    assert.deepEqual(names(table.page(query({ newestFirst: true })).items), ['e', 'd']);
  });

  it('finds by name, any case, and by id prefix; refuses a cursor it did not give out', () => {
    const table = tableOf(['Alice', 'bob', 'ALICE-2', 'carol']);
    const found = table.page(query({ limit: 10, search: 'alice' }));
    assert.deepEqual(names(found.items), ['Alice', 'ALICE-2']);
    const [bob] = table.list().filter((session) => session.name === 'bob');
    const byId = table.page(query({ limit: 10, search: bob?.id.slice(0, 8) ?? '' }));
    assert.deepEqual(names(byId.items), ['bob']);
    assert.throws(() => table.page(query({ after: 'bm90IG91cnM' })), /not a cursor/);
  });

  it('lists and batches every session as of the call, whatever changes after', () => {
    const table = tableOf(['a', 'b', 'c']);
    const batches = table.jsonBatches(2);
    const [a] = table.list();
    table.remove(table.require(a?.id ?? ''));
    assert.deepEqual(
      [...batches].map((batch) => names(batch)),
      [['b', 'c']],
      'a generator takes its copy when it starts',
    );
    assert.equal(table.size, 2);
  });

  it('changes its version when a session expires, so no cached listing serves it', () => {
    let now = Date.parse('2026-12-07T10:00:00Z');
    const table = tableOf([], { ...UNBOUNDED, clock: () => now });
    const brief = table.newResident(
      createSession({ name: 'brief', ttl_seconds: 5 }, new Date(now)),
    );
    table.add(brief);
    table.add(table.newResident(createSession({ name: 'kept' }, new Date(now))));
    table.changed();
    const before = table.version;
    now += 4000;
    assert.equal(table.version, before, 'nothing expired yet');
    now += 1000;
    assert.notEqual(table.version, before, 'brief expired: what a listing holds changed');
    assert.deepEqual(names([...table.jsonBatches(10)].flat()), ['kept']);
    assert.equal(table.liveCount(), 1);
    assert.equal(table.size, 2, 'held until the sweep removes it');
  });

  it('looks at no more than 20,000 sessions a page, however many expired ones wait for the sweep', () => {
    let now = Date.parse('2026-12-07T10:00:00Z');
    const table = tableOf([], { ...UNBOUNDED, clock: () => now });
    for (let i = 0; i < 25_000; i++) {
      table.add(
        table.newResident(createSession({ name: `gone${i}`, ttl_seconds: 1 }, new Date(now))),
      );
    }
    table.add(table.newResident(createSession({ name: 'live' }, new Date(now))));
    now += 1000;
    const first = table.page(query({ limit: 10 }));
    assert.deepEqual(names(first.items), [], 'the budget spent on expired sessions');
    assert.notEqual(first.next, null, 'and the page says where to go on');
    const second = table.page(query({ limit: 10, after: first.next }));
    assert.deepEqual(names(second.items), ['live']);
    assert.equal(second.next, null);
  });

  it('refuses growth past the budget before writing, and gives back a failed write’s reservation', async () => {
    const session = createSession({ name: 'x', data: { text: 'y'.repeat(1000) } });
    const footprint = residentOf(session, 1).footprint;
    const table = tableOf([], { ...UNBOUNDED, budgetBytes: footprint * 2 });
    let wrote = 0;
    await table.withBudget(footprint, async () => {
      wrote++;
    });
    await assert.rejects(
      table.withBudget(footprint, async () => {
        throw new Error('the disk failed');
      }),
      /the disk failed/,
    );
    assert.equal(table.usage().bytes, footprint, 'the failed write gave its bytes back');
    await assert.rejects(
      table.withBudget(footprint + 1, async () => {
        wrote++;
      }),
      StorageBudgetError,
    );
    assert.equal(wrote, 1, 'a refused write never ran');
    await table.withBudget(-footprint, async () => undefined);
    assert.equal(table.usage().bytes, 0, 'shrinking is always allowed');
  });

  it('keeps a replaced session in its creation place when its created_at changes', () => {
    const table = tableOf(['a', 'b', 'c']);
    const [, b] = table.list();
    assert.ok(b !== undefined);
    const current = table.require(b.id);
    const next = residentOf({ ...b, name: 'b2', created_at: '1999-01-01T00:00:00Z' }, current.seq);
    table.replace(current, next);
    assert.deepEqual(
      table.list().map((session) => session.name),
      ['a', 'b2', 'c'],
    );
    assert.deepEqual(names(table.page(query({ limit: 10 })).items), ['a', 'b2', 'c']);
  });
});
