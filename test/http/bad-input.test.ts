import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Session } from '../../src/domain/session.js';
import { build } from '../helpers/build-app.js';
import { storedSessions } from '../helpers/stored-sessions.js';

const json = { 'content-type': 'application/json' };

describe('bad input', () => {
  it('is a clear JSON 4xx, never a 500, and harms nothing stored', async (t) => {
    const { app, store, kind, dataDir: dir } = await build(t);
    const dataDir = kind === 'file' ? dir : undefined;
    const kept = (
      await app.inject({ method: 'POST', url: '/sessions', headers: json, payload: { name: 'k' } })
    ).json();
    // What the store holds, read past the HTTP layer (on disk for the file store).
    const stored = async () => {
      const sessions = new Map<string, Session>();
      for await (const batch of store.sessionBatches(100)) {
        for (const json of batch) {
          const session = JSON.parse(json) as Session;
          sessions.set(session.id, session);
        }
      }
      return sessions;
    };
    const before = await stored();
    assert.equal(before.get(kept.id)?.name, 'k');

    const cases: {
      what: string;
      method: 'POST' | 'PUT' | 'GET' | 'DELETE' | 'OPTIONS';
      url: string;
      payload?: string | Buffer;
      status: number;
      headers?: Record<string, string>;
    }[] = [
      { what: 'body not JSON', method: 'POST', url: '/sessions', payload: '{"name":', status: 400 },
      { what: 'body an array', method: 'POST', url: '/sessions', payload: '[1,2]', status: 400 },
      { what: 'body a string', method: 'POST', url: '/sessions', payload: '"alice"', status: 400 },
      { what: 'body null', method: 'POST', url: '/sessions', payload: 'null', status: 400 },
      {
        what: 'name a number',
        method: 'POST',
        url: '/sessions',
        payload: '{"name":123}',
        status: 400,
      },
      {
        what: 'name too long',
        method: 'POST',
        url: '/sessions',
        payload: JSON.stringify({ name: 'n'.repeat(201) }),
        status: 400,
      },
      {
        what: 'data an array',
        method: 'POST',
        url: '/sessions',
        payload: '{"data":[1]}',
        status: 400,
      },
      {
        what: 'data a string',
        method: 'POST',
        url: '/sessions',
        payload: '{"data":"x"}',
        status: 400,
      },
      {
        what: 'invalid UTF-8',
        method: 'POST',
        url: '/sessions',
        payload: Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
        status: 400,
      },
      {
        what: 'nesting too deep',
        method: 'POST',
        url: '/sessions',
        payload: `{"data":${'['.repeat(5000)}${']'.repeat(5000)}}`,
        status: 400,
      },
      {
        what: 'body over 1 MiB',
        method: 'POST',
        url: '/sessions',
        payload: JSON.stringify({ data: { big: 'x'.repeat(1024 * 1024) } }),
        status: 413,
      },
      {
        what: 'update with name a number',
        method: 'PUT',
        url: `/sessions/${kept.id}`,
        payload: '{"name":123}',
        status: 400,
      },
      {
        what: 'update with data null',
        method: 'PUT',
        url: `/sessions/${kept.id}`,
        payload: '{"data":null}',
        status: 400,
      },
      {
        what: 'update with body over 1 MiB',
        method: 'PUT',
        url: `/sessions/${kept.id}`,
        payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
        status: 413,
      },
      { what: 'limit not a number', method: 'GET', url: '/events?limit=abc', status: 400 },
      { what: 'limit zero', method: 'GET', url: '/events?limit=0', status: 400 },
      { what: 'limit too big', method: 'GET', url: '/events?limit=10001', status: 400 },
      { what: 'limit a fraction', method: 'GET', url: '/events?limit=1.5', status: 400 },
      { what: 'limit negative', method: 'GET', url: '/events?limit=-1', status: 400 },
      { what: 'limit twice', method: 'GET', url: '/events?limit=1&limit=2', status: 400 },
      { what: 'id not a UUID', method: 'GET', url: '/sessions/not-a-uuid', status: 404 },
      { what: 'id a traversal', method: 'GET', url: '/sessions/..%2F..%2Fstats', status: 404 },
      {
        what: 'id over 100 characters',
        method: 'GET',
        url: `/sessions/${'a'.repeat(150)}`,
        status: 404,
      },
      {
        what: 'id over 100 characters on PUT',
        method: 'PUT',
        url: `/sessions/${'a'.repeat(5000)}`,
        payload: '{}',
        status: 404,
      },
      // (Not `/sessions/..`: the URL would be resolved to `/` before it is sent.)
      { what: 'delete of a non-UUID', method: 'DELETE', url: '/sessions/..%2Fx', status: 404 },
      {
        what: 'upper-case UUID',
        method: 'GET',
        url: `/sessions/${kept.id.toUpperCase()}`,
        status: 404,
      },
      { what: 'bad percent-encoding', method: 'GET', url: '/sessions/%zz', status: 404 },
      { what: 'unknown route', method: 'GET', url: '/nope', status: 404 },
      { what: 'unknown method on a route', method: 'DELETE', url: '/sessions', status: 405 },
      { what: 'unknown method on an id', method: 'POST', url: `/sessions/${kept.id}`, status: 405 },
      { what: 'a method no route takes', method: 'OPTIONS', url: '/state', status: 405 },
    ];
    for (const c of cases) {
      const answer = await app.inject({
        method: c.method,
        url: c.url,
        headers: c.headers ?? json,
        ...(c.payload !== undefined ? { payload: c.payload } : {}),
      });
      assert.equal(answer.statusCode, c.status, `${c.what}: ${answer.body}`);
      const body = answer.json();
      assert.equal(typeof body.error, 'string', c.what);
      assert.equal(typeof body.message, 'string', c.what);
      assert.ok(body.message.length < 400, `${c.what}: message stays short`);
    }

    assert.deepEqual(await stored(), before);
    if (dataDir !== undefined) assert.deepEqual(await storedSessions(dataDir), before);
    const state = (await app.inject({ method: 'GET', url: '/state' })).json();
    assert.equal(state.total_sessions, 1, 'rejected creates are not counted');
    assert.equal(state.live_sessions, 1);
  });

  it('keeps the connection open after a body read whole and refused', async (t) => {
    const { app } = await build(t);
    const refused = [
      '{"name":',
      Buffer.from([0x22, 0xff, 0x22]),
      `${'['.repeat(100)}${']'.repeat(100)}`,
    ];
    for (const payload of refused) {
      const answer = await app.inject({ method: 'POST', url: '/sessions', headers: json, payload });
      assert.equal(answer.statusCode, 400, answer.body);
      assert.equal(answer.json().error, 'invalid_input');
      assert.notEqual(answer.headers.connection, 'close', String(payload));
    }
    // A body refused before it was read whole still closes it: the rest may be on its way.
    const tooLarge = await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: json,
      payload: JSON.stringify({ data: { big: 'x'.repeat(1024 * 1024) } }),
    });
    assert.equal(tooLarge.statusCode, 413);
    assert.equal(tooLarge.headers.connection, 'close');
  });

  it('answers a method a path does not take with 405 and its Allow header, a path that does not exist with 404', async (t) => {
    const { app } = await build(t);
    const id = '00000000-0000-4000-8000-000000000000';
    const cases = [
      { method: 'DELETE', url: '/sessions', allow: 'GET, HEAD, POST' },
      { method: 'PUT', url: '/sessions?limit=1', allow: 'GET, HEAD, POST' },
      { method: 'POST', url: `/sessions/${id}`, allow: 'DELETE, GET, HEAD, PATCH, PUT' },
      { method: 'POST', url: '/sessions/not-even-a-uuid', allow: 'DELETE, GET, HEAD, PATCH, PUT' },
      { method: 'DELETE', url: '/events', allow: 'GET, HEAD' },
      { method: 'OPTIONS', url: '/health', allow: 'GET, HEAD' },
      { method: 'GET', url: '/crash', allow: 'POST' },
    ] as const;
    for (const c of cases) {
      const answer = await app.inject({ method: c.method, url: c.url });
      const where = `${c.method} ${c.url}`;
      assert.equal(answer.statusCode, 405, `${where}: ${answer.body}`);
      assert.equal(answer.headers.allow, c.allow, where);
      assert.match(String(answer.headers['content-type']), /^application\/json/, where);
      const body = answer.json();
      assert.deepEqual(Object.keys(body), ['error', 'message'], where);
      assert.equal(body.error, 'method_not_allowed', where);
      assert.ok(body.message.includes(c.allow), `${where}: ${body.message}`);
    }
    for (const url of ['/nope', '/sessions/a/b', '/events/streams', '/sessions/']) {
      const answer = await app.inject({ method: 'DELETE', url });
      assert.equal(answer.statusCode, 404, `DELETE ${url}: ${answer.body}`);
      assert.equal(answer.json().error, 'not_found');
      assert.equal(answer.headers.allow, undefined);
    }
    // A route that takes the method but finds nothing under the path is a 404, not a
    // 405 that names the very method asked for.
    for (const method of ['GET', 'HEAD'] as const) {
      const missing = await app.inject({ method, url: '/docs/static/no-such-file.js' });
      assert.equal(missing.statusCode, 404, `${method} of a missing static file: ${missing.body}`);
      assert.equal(missing.headers.allow, undefined);
    }
    const long = await app.inject({ method: 'POST', url: `/sessions/${'x'.repeat(5000)}` });
    assert.equal(long.statusCode, 405, 'a long id is still the path of a session');
    assert.ok(long.json().message.length < 400, 'and the message stays short');
  });
});
