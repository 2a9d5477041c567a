import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { sendRaw } from '../helpers/raw-http.js';
import { storedSessions } from '../helpers/stored-sessions.js';
import { tempDir } from '../helpers/temp-dir.js';

const json: [string, string][] = [['Content-Type', 'application/json']];

describe('bad input over real HTTP', () => {
  it('is answered with JSON 4xx, the service stays up and stored data is unharmed', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const kept = field(await postJson(`${service.url}/sessions`, { name: 'kept', data: { a: 1 } }));
    const before = await storedSessions(dir);
    assert.equal(before.get(kept.id)?.name, 'kept');

    const huge = Buffer.from(JSON.stringify({ data: { blob: 'x'.repeat(3 * 1024 * 1024) } }));
    assert.equal(
      await sendRaw(service.url, { method: 'POST', path: '/sessions', headers: json, body: huge }),
      413,
    );
    assert.equal(
      await sendRaw(service.url, {
        method: 'PUT',
        path: `/sessions/${kept.id}`,
        headers: json,
        body: huge,
      }),
      413,
    );
    const checks: [string, string, string | undefined, number][] = [
      ['POST', '/sessions', '{"name":123}', 400],
      ['POST', '/sessions', 'not json at all', 400],
      ['PUT', `/sessions/${kept.id}`, '{"data":"x"}', 400],
      ['GET', `/sessions/${'f'.repeat(101)}`, undefined, 404],
      ['GET', '/sessions/..%2F..%2Fetc%2Fpasswd', undefined, 404],
      ['GET', '/events?limit=abc', undefined, 400],
      ['GET', '/whatever', undefined, 404],
    ];
    for (const [method, path, body, status] of checks) {
      const answer = await request(`${service.url}${path}`, method, body, {
        'content-type': 'application/json',
      });
      assert.equal(answer.status, status, `${method} ${path}: ${answer.text}`);
      assert.match(answer.contentType ?? '', /application\/json/);
      assert.equal(typeof field(answer).error, 'string');
    }

    assert.deepEqual(await storedSessions(dir), before);
    const state = field(await request(`${service.url}/state`));
    assert.equal(state.total_sessions, 1);
    assert.equal(field(await request(`${service.url}/sessions/${kept.id}`)).access_count, 0);
  });
});
