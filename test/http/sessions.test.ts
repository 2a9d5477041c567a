import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/build-app.js';
import { SESSION_KEYS } from '../helpers/session-keys.js';

const json = { 'content-type': 'application/json' };

describe('the sessions API', () => {
  it('creates a session: 201 with the original compact wire format', async (t) => {
    const { app } = await build(t);
    const answer = await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: json,
      payload: { name: 'alice', data: { note: 'first session' } },
    });
    assert.equal(answer.statusCode, 201);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    const session = answer.json();
    assert.deepEqual(Object.keys(session), SESSION_KEYS);
    assert.ok(answer.body.includes('"name":"alice"'), 'no spaces in keys and values');
    assert.match(session.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('defaults name and data, also for a body sent as form data (curl -d) or no body', async (t) => {
    const { app } = await build(t);
    const form = await app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '{"name":"bob"}',
    });
    assert.equal(form.statusCode, 201);
    assert.equal(form.json().name, 'bob');
    const empty = await app.inject({ method: 'POST', url: '/sessions' });
    assert.equal(empty.statusCode, 201);
    assert.equal(empty.json().name, 'unnamed');
    assert.deepEqual(empty.json().data, {});
  });

  it('lists full sessions in creation order with a count', async (t) => {
    const { app } = await build(t);
    for (const name of ['a', 'b', 'c']) {
      await app.inject({ method: 'POST', url: '/sessions', headers: json, payload: { name } });
    }
    const answer = await app.inject({ method: 'GET', url: '/sessions' });
    assert.equal(answer.statusCode, 200);
    const body = answer.json();
    assert.equal(body.count, 3);
    assert.deepEqual(
      body.sessions.map((session: { name: string }) => session.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(Object.keys(body), ['sessions', 'count']);
    assert.equal(body.sessions[0].access_count, 0);

    // The listing is cached between changes: every change shows at once.
    const id = body.sessions[1].id;
    await app.inject({
      method: 'PUT',
      url: `/sessions/${id}`,
      headers: json,
      payload: { name: 'B' },
    });
    await app.inject({ method: 'DELETE', url: `/sessions/${body.sessions[0].id}` });
    await app.inject({ method: 'POST', url: '/sessions', headers: json, payload: { name: 'd' } });
    const again = (await app.inject({ method: 'GET', url: '/sessions' })).json();
    assert.deepEqual(
      again.sessions.map((session: { name: string }) => session.name),
      ['B', 'c', 'd'],
    );
    assert.equal(again.count, 3);
  });

  it('gets, updates (access_count + 1) and deletes a session', async (t) => {
    const { app } = await build(t);
    const created = (
      await app.inject({ method: 'POST', url: '/sessions', headers: json, payload: { name: 'x' } })
    ).json();
    const got = await app.inject({ method: 'GET', url: `/sessions/${created.id}` });
    assert.deepEqual(got.json(), created);
    const updated = await app.inject({
      method: 'PUT',
      url: `/sessions/${created.id}`,
      headers: json,
      payload: { data: { step: 2 } },
    });
    assert.equal(updated.statusCode, 200);
    assert.equal(updated.json().access_count, 1);
    assert.equal(updated.json().name, 'x');
    assert.deepEqual(updated.json().data, { step: 2 });
    const deleted = await app.inject({ method: 'DELETE', url: `/sessions/${created.id}` });
    assert.equal(deleted.statusCode, 200);
    assert.equal(deleted.body, `{"status":"deleted","id":"${created.id}"}`);
    const gone = await app.inject({ method: 'GET', url: `/sessions/${created.id}` });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().error, 'not_found');
  });

  it('pages: ?limit=N answers a page with the next cursor (body and Link), to the end, either way', async (t) => {
    const { app } = await build(t);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await app.inject({
        method: 'POST',
        url: '/sessions',
        payload: { name: `p${i}` },
      });
      ids.push(created.json().id);
    }
    for (const [order, expected] of [
      ['oldest', ids],
      ['newest', [...ids].reverse()],
    ] as const) {
      const seen: string[] = [];
      let url: string | null = `/sessions?limit=2&order=${order}`;
      while (url !== null) {
        const current: string = url;
        const answer = await app.inject({ method: 'GET', url: current });
        assert.equal(answer.statusCode, 200);
        const body: { sessions: { id: string }[]; count: number; next: string | null } =
          answer.json();
        assert.deepEqual(Object.keys(body), ['sessions', 'count', 'next']);
        assert.equal(body.count, body.sessions.length);
        seen.push(...body.sessions.map((session: { id: string }) => session.id));
        const link: string | undefined = answer.headers.link as string | undefined;
        if (body.next === null) {
          assert.equal(link, undefined, 'no Link on the last page');
          url = null;
        } else {
          assert.equal(link, `</sessions?limit=2&order=${order}&after=${body.next}>; rel="next"`);
          url = /^<([^>]+)>/.exec(link ?? '')?.[1] ?? null;
        }
      }
      assert.deepEqual(seen, expected);
    }
    const found = (await app.inject({ method: 'GET', url: '/sessions?q=P3' })).json();
    assert.deepEqual(
      found.sessions.map((session: { name: string }) => session.name),
      ['p3'],
      'a search by name, any case',
    );
    assert.equal(found.scanned, 5, 'a search says how many sessions it looked at');
    const plain = (await app.inject({ method: 'GET', url: '/sessions?limit=2' })).json();
    assert.deepEqual(Object.keys(plain), ['sessions', 'count', 'next'], 'no scanned without q');
    const byDefault = (await app.inject({ method: 'GET', url: '/sessions?order=newest' })).json();
    assert.equal(byDefault.count, 5, 'a page holds 100 unless asked');
    const whole = (await app.inject({ method: 'GET', url: '/sessions' })).json();
    assert.deepEqual(
      Object.keys(whole),
      ['sessions', 'count'],
      'no parameters: the original listing',
    );
    assert.equal(whole.count, 5);

    for (const bad of [
      'limit=0',
      'limit=1001',
      'limit=x',
      'order=up',
      'after=garbage',
      'after=WyJ4Il0',
    ]) {
      const answer = await app.inject({ method: 'GET', url: `/sessions?${bad}` });
      assert.equal(answer.statusCode, 400, bad);
      assert.equal(answer.json().error, 'invalid_input', bad);
    }
  });

  it('PATCH merges a JSON Merge Patch into the data, keeps what it does not name, and counts as a PUT', async (t) => {
    const { app } = await build(t);
    const created = (
      await app.inject({
        method: 'POST',
        url: '/sessions',
        headers: json,
        payload: { name: 'cart', data: { cart: [1, 2], x: { y: true }, drop: 1 } },
      })
    ).json();
    const merge = { 'content-type': 'application/merge-patch+json' };
    const patched = await app.inject({
      method: 'PATCH',
      url: `/sessions/${created.id}`,
      headers: merge,
      payload: { data: { note: 'x', x: { z: 1 }, drop: null } },
    });
    assert.equal(patched.statusCode, 200);
    assert.deepEqual(Object.keys(patched.json()), SESSION_KEYS);
    assert.deepEqual(patched.json().data, { cart: [1, 2], x: { y: true, z: 1 }, note: 'x' });
    assert.equal(patched.json().name, 'cart', 'a name it does not give is kept');
    assert.equal(patched.json().access_count, 1, 'counted as a PUT is');
    const renamed = await app.inject({
      method: 'PATCH',
      url: `/sessions/${created.id}`,
      headers: json, // plain JSON is read as a merge patch too
      payload: { name: 'renamed' },
    });
    assert.equal(renamed.json().name, 'renamed');
    assert.deepEqual(renamed.json().data, patched.json().data);
    assert.equal(renamed.json().access_count, 2);
    const read = await app.inject({ method: 'GET', url: `/sessions/${created.id}` });
    assert.deepEqual(read.json(), renamed.json(), 'stored as answered');
    const events = (await app.inject({ method: 'GET', url: '/events?limit=2' })).json().events;
    assert.deepEqual(
      events.map((event: { event: string; session_id: string }) => [event.event, event.session_id]),
      [
        ['session_updated', created.id],
        ['session_updated', created.id],
      ],
    );
  });

  it('PATCH refuses what it cannot apply, with a JSON error, and changes nothing', async (t) => {
    const { app } = await build(t, { SESSION_MAX_NODES: '10' });
    const created = (
      await app.inject({
        method: 'POST',
        url: '/sessions',
        headers: json,
        payload: { name: 'kept', data: { a: 1, b: 2, c: 3, d: 4 } },
      })
    ).json();
    const patch = (payload: unknown, headers: Record<string, string> = json) =>
      app.inject({
        method: 'PATCH',
        url: `/sessions/${created.id}`,
        headers,
        payload: JSON.stringify(payload),
      });
    for (const [payload, status, code] of [
      [{ name: null }, 400, 'invalid_input'],
      [{ data: null }, 400, 'invalid_input'],
      [{ data: [1] }, 400, 'invalid_input'],
      [{ name: 7 }, 400, 'invalid_input'],
      [{ data: { e: 5, f: 6 } }, 413, 'session_too_large'],
    ] as const) {
      const answer = await patch(payload);
      assert.equal(answer.statusCode, status, JSON.stringify(payload));
      assert.equal(answer.json().error, code);
    }
    const jsonPatch = await patch([{ op: 'add', path: '/data/e', value: 5 }], {
      'content-type': 'application/json-patch+json',
    });
    assert.equal(jsonPatch.statusCode, 415);
    assert.equal(jsonPatch.json().error, 'unsupported_media_type');
    const missing = await app.inject({
      method: 'PATCH',
      url: '/sessions/00000000-0000-4000-8000-000000000000',
      headers: json,
      payload: { name: 'x' },
    });
    assert.equal(missing.statusCode, 404);
    const read = (await app.inject({ method: 'GET', url: `/sessions/${created.id}` })).json();
    assert.deepEqual(read, created, 'nothing changed, nothing counted');
  });
});
