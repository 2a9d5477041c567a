import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeEvent } from '../../src/domain/event.js';
import { appendEvent } from '../helpers/append-event.js';
import { build } from '../helpers/build-app.js';
import { openStream } from '../helpers/event-stream.js';

describe('GET /events/stream', () => {
  it('sends the recent events, then each new one, and resumes after Last-Event-ID', async (t) => {
    const { app, store } = await build(t);
    // Positions 2 to 4, after the service's own startup event.
    for (let i = 10; i < 13; i++) {
      await appendEvent(store, makeEvent('startup', store.instanceId, { startup_count: i }));
    }
    const base = await app.listen({ port: 0, host: '127.0.0.1' });

    const stream = await openStream(`${base}/events/stream?limit=2`);
    assert.equal(stream.response.status, 200);
    assert.match(stream.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const backlog = [await stream.next(), await stream.next()];
    assert.deepEqual(
      backlog.map((message) => [message?.id, message?.event.startup_count]),
      [
        [3, 11],
        [4, 12],
      ],
    );
    const created = await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"live"}',
    });
    const live = await stream.next();
    assert.equal(live?.id, 5);
    assert.equal(live?.event.event, 'session_created');
    assert.equal(live?.event.session_id, created.json().id);
    stream.close();

    const resumed = await openStream(`${base}/events/stream`, { 'last-event-id': '4' });
    assert.equal((await resumed.next())?.id, 5, 'only what came after the last one seen');
    resumed.close();
  });

  it('answers bad input with a JSON 400, and ends open streams when the service stops', async (t) => {
    const { app } = await build(t);
    const bad = await app.inject({ method: 'GET', url: '/events/stream?since=abc' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error, 'invalid_input');
    const badHeader = await app.inject({
      method: 'GET',
      url: '/events/stream',
      headers: { 'last-event-id': '-1' },
    });
    assert.equal(badHeader.statusCode, 400);
    const badState = await app.inject({ method: 'GET', url: '/events/stream?state=yes' });
    assert.equal(badState.statusCode, 400);
    assert.match(badState.json().message, /"state"/);

    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const stream = await openStream(`${base}/events/stream`);
    assert.equal((await stream.next())?.event.event, 'startup', 'the backlog: this start');
    const closing = app.close();
    assert.equal(await stream.next(), null, 'the stream ended');
    await closing;
  });

  it('with state=1 pushes the /state answer on connect, after changes and while idle, counting no request', async (t) => {
    const { app } = await build(t);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const stream = await openStream(`${base}/events/stream?state=1`);
    const first = await stream.nextState();
    const served = (await app.inject({ method: 'GET', url: '/state' })).json();
    assert.deepEqual(Object.keys(first ?? {}), Object.keys(served), 'the /state answer');
    assert.equal(first?.container_id, served.container_id);

    await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"pushed"}',
    });
    let after = await stream.nextState();
    while (after !== null && after.total_sessions !== (first?.total_sessions as number) + 1) {
      after = await stream.nextState();
    }
    assert.equal(after?.live_sessions, 1, 'the change was pushed');
    // Idle: pushes go on (the uptime grows) and no request is counted for them.
    const idle = [await stream.nextState(), await stream.nextState()];
    assert.ok((idle[1]?.uptime_seconds as number) > (after?.uptime_seconds as number));
    assert.equal(idle[1]?.total_requests, after?.total_requests, 'pushes are not requests');
    stream.close();

    const plain = await openStream(`${base}/events/stream`);
    assert.equal((await plain.next())?.event.event, 'startup');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"unpushed"}',
    });
    assert.equal((await plain.next())?.event.event, 'session_created');
    assert.equal(plain.states.length, 0, 'no state unless asked for');
    plain.close();
  });
});
