/**
 * The Store contract for sessions that expire (docs/design/expiry-and-retention.md):
 * an expired session is gone everywhere at once, before the sweep removes it;
 * the sweep removes it durably with a `session_expired` event; a session that
 * expired while no instance ran is hidden from the first request and swept
 * after the start. Every store runs these with a clock the test moves.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { NotFoundError } from '../../src/domain/errors.js';
import { makeEvent } from '../../src/domain/event.js';
import type { TouchRule } from '../../src/domain/expiry.js';
import type { Session } from '../../src/domain/session.js';
import { StatefulService } from '../../src/service/service.js';
import type { Store } from '../../src/store/store.js';
import { SESSION_KEYS as ORIGINAL_KEYS } from '../helpers/session-keys.js';
import type { StoreFactory } from './contract.js';

/** A clock the test moves: what the stores and the service read as now. */
export class TestClock {
  ms = Date.parse('2026-12-07T10:00:00Z');
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The application over `store` with `clock`, as production wires it. */
const serve = (store: Store, clock: TestClock, touch: TouchRule = 'writes') =>
  new StatefulService(store, {
    sessionMaxNodes: 10_000,
    clock: clock.now,
    expiry: { ttlSeconds: null, idleSeconds: null, touch },
  });

/** What every read of the store shows of `id`: served, listed, paged, found, counted. */
async function seen(store: Store, id: string, name: string) {
  const listed: string[] = [];
  for await (const batch of store.sessionBatches(100)) {
    for (const json of batch) listed.push((JSON.parse(json) as Session).id);
  }
  const pageIds = async (newestFirst: boolean, search: string | null) =>
    (
      await store.sessionPage({ after: null, limit: 10, newestFirst, search, maxBytes: 1 << 20 })
    ).items.map((json) => (JSON.parse(json) as Session).id);
  return {
    served: (await store.getSession(id)) !== undefined,
    listed: listed.includes(id),
    paged: (await pageIds(false, null)).includes(id) || (await pageIds(true, null)).includes(id),
    found: (await pageIds(false, name)).includes(id),
    count: await store.sessionCount(),
    live: (await store.overview()).liveSessions,
  };
}

/** Waits until the log's last events hold a `session_expired` of `id`, for at most 15 s. */
async function expiredEvent(store: Store, id: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const { events } = await store.eventTail(1000);
    const found = events.find((e) => e.event === 'session_expired' && e.session_id === id);
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`no session_expired event for ${id}`);
    await sleep(100);
  }
}

export function expiryContract(factory: StoreFactory): void {
  it('hides a session from its expires_at on: not served, listed, paged, found or counted', async (t) => {
    const clock = new TestClock();
    const { store } = await factory.open(t, undefined, clock.now);
    const service = serve(store, clock);
    const keeps = await service.sessions.create({ name: 'keeps' });
    const brief = await service.sessions.create({ name: 'brief', ttl_seconds: 60 });
    assert.equal(brief.expires_at, '2026-12-07T10:01:00Z');
    assert.deepEqual(await store.getSession(brief.id), brief);
    clock.advance(59);
    assert.deepEqual(await seen(store, brief.id, 'brief'), {
      served: true,
      listed: true,
      paged: true,
      found: true,
      count: 2,
      live: 2,
    });
    clock.advance(1);
    assert.deepEqual(await seen(store, brief.id, 'brief'), {
      served: false,
      listed: false,
      paged: false,
      found: false,
      count: 1,
      live: 1,
    });
    assert.equal((await store.getSession(keeps.id))?.name, 'keeps');
    for (const write of [
      () => service.sessions.update(brief.id, { name: 'again' }),
      () => service.sessions.patch(brief.id, { data: { a: 1 } }),
      () => service.sessions.delete(brief.id),
      () => service.sessions.get(brief.id),
    ]) {
      await assert.rejects(write(), NotFoundError);
    }
  });

  it('moves an idle expiry with every write, never past the lifetime, and clears it with null', async (t) => {
    const clock = new TestClock();
    const { store } = await factory.open(t, undefined, clock.now);
    const service = serve(store, clock);
    const idle = await service.sessions.create({
      name: 'idle',
      idle_seconds: 60,
      ttl_seconds: 100,
    });
    assert.deepEqual(
      [idle.expires_at, idle.ends_at, idle.idle_seconds],
      ['2026-12-07T10:01:00Z', '2026-12-07T10:01:40Z', 60],
    );
    clock.advance(50);
    const touched = await service.sessions.update(idle.id, { data: { seen: 1 } });
    assert.equal(touched.expires_at, '2026-12-07T10:01:40Z'); // the lifetime's end comes first
    assert.deepEqual(await store.getSession(idle.id), touched);
    clock.advance(30);
    const kept = await service.sessions.patch(idle.id, { ttl_seconds: null });
    assert.deepEqual(
      [kept.expires_at, kept.ends_at, kept.idle_seconds],
      ['2026-12-07T10:02:20Z', null, 60],
    );
    const never = await service.sessions.update(idle.id, { idle_seconds: null });
    assert.deepEqual(Object.keys(never), ORIGINAL_KEYS, "the original's keys, no more");
    clock.advance(3600);
    assert.deepEqual(await store.getSession(idle.id), never);
  });

  it('lets a read move an idle expiry only with SESSION_TOUCH=reads, written a tenth at a time', async (t) => {
    const clock = new TestClock();
    const { store, reopen } = await factory.open(t, undefined, clock.now);
    const made = await serve(store, clock).sessions.create({ name: 'read', idle_seconds: 100 });
    clock.advance(50);
    // By default a read is no touch.
    assert.deepEqual(await serve(store, clock).sessions.get(made.id), made);
    const reads = serve(store, clock, 'reads').sessions;
    const events = await store.eventCount();
    clock.advance(-45); // 5 s after the create: a touch would move it by 5 s, under a tenth
    assert.deepEqual(await reads.get(made.id), made);
    assert.equal(await store.eventCount(), events, 'a touch under a tenth is not written');
    clock.advance(15); // 20 s after the create
    const touched = await reads.get(made.id);
    assert.equal(touched.expires_at, '2026-12-07T10:02:00Z');
    assert.equal(touched.access_count, 0, 'a read is not an access');
    assert.equal(touched.last_active, made.last_active);
    const [event] = (await store.eventTail(1)).events;
    assert.deepEqual(
      [event?.event, event?.session_id, event?.expires_at],
      ['session_touched', made.id, '2026-12-07T10:02:00Z'],
    );
    // A burst of reads that come due together is one write.
    clock.advance(20);
    const before = await store.eventCount();
    const burst = await Promise.all(Array.from({ length: 50 }, () => reads.get(made.id)));
    assert.equal(await store.eventCount(), before + 1, 'one session_touched for the burst');
    assert.ok(burst.every((read) => read.expires_at === '2026-12-07T10:02:20Z'));
    const again = await reopen();
    assert.deepEqual(await again.getSession(made.id), burst[0], 'the touch is durable');
  });

  it('sweeps nothing once the instance has logged its stop', async (t) => {
    const clock = new TestClock();
    const { store } = await factory.open(t, undefined, clock.now);
    await store.startInstance();
    await serve(store, clock).sessions.create({ name: 'late', ttl_seconds: 1 });
    await store.stopInstance(makeEvent('shutdown', store.instanceId));
    clock.advance(5);
    await sleep(1500); // a sweep's tick, were it still running
    const [last] = (await store.eventTail(1)).events;
    assert.equal(last?.event, 'shutdown');
  });

  it('sweeps an expired session away for good, logging session_expired with who, when and why', async (t) => {
    const clock = new TestClock();
    const { store, reopen } = await factory.open(t, undefined, clock.now);
    await store.startInstance(); // the sweep starts with the instance
    const service = serve(store, clock);
    const gone = await service.sessions.create({ name: 'gone', ttl_seconds: 10 });
    const idle = await service.sessions.create({ name: 'idler', idle_seconds: 5 });
    clock.advance(10);
    const lifetime = await expiredEvent(store, gone.id);
    assert.deepEqual(
      [lifetime.name, lifetime.reason, lifetime.expired_at, lifetime.container],
      ['gone', 'lifetime', '2026-12-07T10:00:10Z', store.instanceId],
    );
    assert.equal((await expiredEvent(store, idle.id)).reason, 'idle');
    assert.equal(lifetime.time, '2026-12-07T10:00:10Z', "the event's time is the store's clock");
    assert.equal((await store.overview()).stats.expired_sessions, 2);
    // Removed, not hidden: with the clock back before its expiry it stays gone.
    clock.advance(-10);
    const again = await reopen();
    assert.equal(await again.getSession(gone.id), undefined);
    assert.equal(await again.sessionCount(), 0);
    assert.equal((await again.overview()).stats.expired_sessions, 2, 'counted across a death');
  });

  it('hides a session that expired while no instance ran at once, and sweeps it after the start', async (t) => {
    const clock = new TestClock();
    const { store, reopen } = await factory.open(t, undefined, clock.now);
    const service = serve(store, clock);
    const stale = await service.sessions.create({ name: 'stale', ttl_seconds: 30 });
    const fresh = await service.sessions.create({ name: 'fresh', ttl_seconds: 3600 });
    clock.advance(60);
    const next = await reopen();
    assert.equal(await next.getSession(stale.id), undefined);
    assert.equal((await next.getSession(fresh.id))?.name, 'fresh');
    await next.startInstance();
    assert.equal((await expiredEvent(next, stale.id)).reason, 'lifetime');
    const kinds = (await next.eventTail(5)).events.map((event) => event.event);
    assert.ok(
      kinds.lastIndexOf('startup') < kinds.indexOf('session_expired'),
      `the start is logged before its sweep's work: ${kinds.join(' ')}`,
    );
    assert.equal(await next.sessionCount(), 1);
    assert.equal((await next.overview()).stats.expired_sessions, 1);
  });

  it('lets a write racing its expiry land before it or get NotFound, never bring it back', async (t) => {
    const clock = new TestClock();
    const { store } = await factory.open(t, undefined, clock.now);
    await store.startInstance();
    const service = serve(store, clock);
    const sessions = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        service.sessions.create({ name: `racer${i}`, idle_seconds: 2 }),
      ),
    );
    const outcomes = { landed: 0, notFound: 0 };
    const writes: Promise<void>[] = [];
    for (let round = 0; round < 6; round++) {
      for (const session of sessions) {
        writes.push(
          service.sessions.update(session.id, { data: { round } }).then(
            () => {
              outcomes.landed++;
            },
            (error: unknown) => {
              assert.ok(error instanceof NotFoundError, String(error));
              outcomes.notFound++;
            },
          ),
        );
      }
      clock.advance(1 + (round % 2));
      await sleep(300); // the sweep's turn, between the writes
    }
    await Promise.all(writes);
    assert.ok(outcomes.landed > 0 && outcomes.notFound > 0, JSON.stringify(outcomes));
    clock.advance(10);
    for (const session of sessions) await expiredEvent(store, session.id);
    assert.equal(await store.sessionCount(), 0);
    for (const session of sessions) {
      await assert.rejects(service.sessions.update(session.id, { name: 'back' }), NotFoundError);
    }
    // In the log, no write of a session comes after its expiry, and each expired once.
    const { events } = await store.eventTail(1000);
    for (const session of sessions) {
      const own = events.filter((e) => e.session_id === session.id).map((e) => e.event);
      assert.equal(own.filter((kind) => kind === 'session_expired').length, 1, own.join(' '));
      assert.equal(own.at(-1), 'session_expired', own.join(' '));
    }
    assert.equal((await store.overview()).stats.expired_sessions, sessions.length);
  });
}
