import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/build-app.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

describe('storage errors over HTTP', () => {
  it('are 507 (disk full) and 503 (I/O) JSON answers; reads keep working', async (t) => {
    const fs = new FaultyFileSystem();
    const { app } = await build(t, {}, { store: 'file', fileSystem: fs });
    const kept = (
      await app.inject({ method: 'POST', url: '/sessions', payload: { name: 'k' } })
    ).json();

    fs.fail('write', 'ENOSPC', { pathIncludes: 'journal/' });
    const full = await app.inject({ method: 'POST', url: '/sessions', payload: { name: 'x' } });
    assert.equal(full.statusCode, 507);
    assert.equal(full.json().error, 'storage_full');
    assert.match(full.json().message, /full/);
    const update = await app.inject({ method: 'PUT', url: `/sessions/${kept.id}`, payload: {} });
    assert.equal(update.statusCode, 507);
    fs.heal();

    fs.fail('write', 'EIO', { pathIncludes: 'events.jsonl' });
    const broken = await app.inject({ method: 'DELETE', url: `/sessions/${kept.id}` });
    assert.equal(broken.statusCode, 503);
    assert.equal(broken.json().error, 'storage_unavailable');

    const list = await app.inject({ method: 'GET', url: '/sessions' });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().count, 1);
    assert.equal((await app.inject({ method: 'GET', url: '/state' })).json().total_sessions, 1);
    fs.heal();
    assert.equal((await app.inject({ method: 'POST', url: '/sessions' })).statusCode, 201);
  });

  it('make /health and /state say degraded, and why, while background work keeps failing', async (t) => {
    const fs = new FaultyFileSystem();
    const { app } = await build(t, {}, { store: 'file', fileSystem: fs });
    const health = async () => (await app.inject({ method: 'GET', url: '/health' })).json();
    const until = async (status: string) => {
      const deadline = Date.now() + 20_000;
      let body = await health();
      while (body.status !== status && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        body = await health(); // each request changes total_requests: another flush to try
      }
      return body;
    };
    assert.deepEqual((await health()).problems, []);
    assert.equal((await health()).status, 'ok');

    fs.fail('sync', 'EIO', { pathIncludes: 'stats.json' });
    const degraded = await until('degraded');
    assert.equal(degraded.status, 'degraded');
    assert.equal(degraded.problems.length, 1);
    assert.match(degraded.problems[0], /^stats_flush has failed \d+ times in a row since .*EIO/);
    const state = (await app.inject({ method: 'GET', url: '/state' })).json();
    assert.equal(state.status, 'degraded');
    assert.match(state.problems[0], /stats_flush/);

    fs.heal();
    const healed = await until('ok');
    assert.equal(healed.status, 'ok', 'one flush that lands ends it');
    assert.deepEqual(healed.problems, []);
  });
});
