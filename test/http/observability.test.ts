import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '../../src/domain/event.js';
import { appendEvent } from '../helpers/append-event.js';
import { build } from '../helpers/build-app.js';

describe('health, state, events and crash', () => {
  it('health carries the original keys and ours', async (t) => {
    const { app, service } = await build(t);
    const answer = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(answer.statusCode, 200);
    const body = answer.json();
    const id = service.instanceId;
    assert.ok(answer.body.startsWith(`{"status":"ok","container":"${id}","uptime":`));
    assert.equal(body.container_id, id);
    assert.equal(typeof body.uptime_seconds, 'number');
  });

  it('state shows every counter, and total_requests counts every request served', async (t) => {
    const { app } = await build(t);
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'GET', url: '/no-such-route' });
    const body = (await app.inject({ method: 'GET', url: '/state' })).json();
    assert.deepEqual(Object.keys(body), [
      'container_id',
      'uptime_seconds',
      'requests_this_instance',
      'startup_count',
      'crash_count',
      'total_sessions',
      'total_requests',
      'live_sessions',
      'live_replicas',
      'expired_sessions',
      'status',
      'problems',
    ]);
    assert.equal(body.expired_sessions, 0);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.problems, []);
    assert.equal(body.requests_this_instance, 3);
    assert.equal(body.total_requests, 3);
  });

  it('events returns the last N, oldest first, and the total count', async (t) => {
    const { app, store } = await build(t);
    // After the service's own startup event (startup_count 1).
    for (let i = 2; i <= 6; i++) {
      await appendEvent(store, makeEvent('startup', store.instanceId, { startup_count: i }));
    }
    const answer = await app.inject({ method: 'GET', url: '/events?limit=2' });
    const body = answer.json();
    assert.equal(body.count, 6);
    assert.deepEqual(
      body.events.map((event: { startup_count: number }) => event.startup_count),
      [5, 6],
    );
    const all = (await app.inject({ method: 'GET', url: '/events' })).json();
    assert.equal(all.events.length, 6);
  });

  it('events pages back through history with before=P, following Link to the start', async (t) => {
    const { app, store } = await build(t);
    // After the service's own startup event: positions 2 to 8.
    for (let i = 2; i <= 8; i++) {
      await appendEvent(store, makeEvent('startup', store.instanceId, { startup_count: i }));
    }
    const latest = await app.inject({ method: 'GET', url: '/events?limit=3' });
    assert.deepEqual(Object.keys(latest.json()), ['events', 'count'], "the original's answer");
    assert.equal(latest.headers.link, '</events?limit=3&before=6>; rel="next"');
    const seen: number[] = latest
      .json()
      .events.map((event: { startup_count: number }) => event.startup_count);
    let link = latest.headers.link as string | undefined;
    while (link !== undefined) {
      const url = /^<([^>]+)>/.exec(link)?.[1] as string;
      const page = await app.inject({ method: 'GET', url });
      const body = page.json();
      assert.equal(body.count, 8);
      seen.unshift(...body.events.map((event: { startup_count: number }) => event.startup_count));
      link = page.headers.link as string | undefined;
      assert.equal(body.next === null, link === undefined);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8]);
    const beyond = (await app.inject({ method: 'GET', url: '/events?limit=2&before=500' })).json();
    assert.deepEqual(
      beyond.events.map((event: { startup_count: number }) => event.startup_count),
      [7, 8],
      'a position beyond the log gives the last page',
    );
    for (const bad of ['before=-1', 'before=x', 'before=1.5']) {
      const answer = await app.inject({ method: 'GET', url: `/events?${bad}` });
      assert.equal(answer.statusCode, 400, bad);
    }
  });

  it('crash answers 202 with the new crash_count, then ends the process', async (t) => {
    const test = await build(t);
    const answer = await test.app.inject({ method: 'POST', url: '/crash' });
    assert.equal(answer.statusCode, 202);
    assert.equal(answer.body, '{"status":"crashing","crash_count":1}');
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(test.crashes >= 1);
  });

  it('crash can be switched off: then it is a 404 like any unknown route', async (t) => {
    const test = await build(t, { CRASH_ENDPOINT: 'off' });
    const answer = await test.app.inject({ method: 'POST', url: '/crash' });
    assert.equal(answer.statusCode, 404);
    assert.equal(answer.json().error, 'not_found');
    assert.equal(test.crashes, 0);
  });

  it('crash can require a bearer token', async (t) => {
    const test = await build(t, { ADMIN_TOKEN: 's3cret' });
    for (const authorization of [
      undefined,
      'Bearer wrong',
      'Bearer ',
      's3cret',
      'Bearer s3cret2',
    ]) {
      const answer = await test.app.inject({
        method: 'POST',
        url: '/crash',
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(answer.statusCode, 401, String(authorization));
      assert.equal(answer.json().error, 'unauthorized');
      assert.equal(answer.headers['www-authenticate'], 'Bearer');
    }
    assert.equal(test.crashes, 0);
    assert.equal(
      (await test.store.overview()).stats.crash_count,
      0,
      'a refused crash counts nothing',
    );
    const allowed = await test.app.inject({
      method: 'POST',
      url: '/crash',
      headers: { authorization: 'Bearer s3cret' },
    });
    assert.equal(allowed.statusCode, 202);
  });
});
