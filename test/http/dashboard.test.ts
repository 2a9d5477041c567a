import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { build } from '../helpers/build-app.js';
import { tempDir } from '../helpers/temp-dir.js';

const json = { 'content-type': 'application/json' };

describe('the dashboard and /metrics', () => {
  it('serves the page and its assets with a strict Content-Security-Policy and an ETag', async (t) => {
    const { app } = await build(t);
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    const policy = page.headers['content-security-policy'] as string;
    assert.match(policy, /default-src 'none'/);
    assert.match(policy, /script-src 'self'/);
    assert.doesNotMatch(policy, /unsafe/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.match(page.body, /<script type="module" src="\/dashboard\/app.js"><\/script>/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'nothing fetched from elsewhere');

    // Every module the page's script imports, and each of theirs, is served.
    const served = new Map<string, string>();
    const pending = ['app.js'];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (served.has(file)) continue;
      const script = await app.inject({ method: 'GET', url: `/dashboard/${file}` });
      assert.equal(script.statusCode, 200, file);
      assert.match(script.headers['content-type'] as string, /^text\/javascript/);
      served.set(file, script.body);
      for (const [, imported] of script.body.matchAll(/from '\.\/([\w-]+\.js)'/g)) {
        pending.push(imported as string);
      }
    }
    assert.ok(served.size >= 5, `app.js and the modules it imports: ${[...served.keys()]}`);
    assert.match([...served.values()].join('\n'), /new EventSource\(`\/events\/stream\?/);
    const again = await app.inject({
      method: 'GET',
      url: '/dashboard/app.css',
      headers: {
        'if-none-match': (await app.inject({ method: 'GET', url: '/dashboard/app.css' })).headers
          .etag as string,
      },
    });
    assert.equal(again.statusCode, 304);
  });

  it('answers a JSON 404 for the page when public/ is missing, and the API still works', async (t) => {
    const { app } = await build(t, {}, { publicDir: await tempDir(t) });
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.equal(page.statusCode, 404);
    assert.equal(page.json().error, 'not_found');
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  });

  it('exposes requests, latency, the durable counters, fsync latency and process metrics', async (t) => {
    const { app, service, kind } = await build(t);
    await app.inject({ method: 'GET', url: '/health' });
    await app.inject({ method: 'POST', url: '/sessions', headers: json, payload: '{"name":"m"}' });
    await app.inject({ method: 'GET', url: '/sessions/nope' });
    const scrape = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(scrape.statusCode, 200);
    assert.match(scrape.headers['content-type'] as string, /^text\/plain; version=0.0.4/);
    const text = scrape.body;
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    assert.equal(
      value(/^http_requests_total\{method="GET",route="\/health",status_code="200"\} (\d+)$/m),
      1,
    );
    assert.equal(
      value(
        /^http_requests_total\{method="GET",route="\/sessions\/:id",status_code="404"\} (\d+)$/m,
      ),
      1,
    );
    assert.match(text, /^http_request_duration_seconds_bucket\{le="0.005",method="POST"/m);
    assert.equal(value(/^stateful_total_sessions (\d+)$/m), 1);
    assert.equal(value(/^stateful_live_sessions (\d+)$/m), 1);
    assert.equal(value(/^stateful_crash_count (\d+)$/m), 0);
    assert.ok(value(/^stateful_event_log_events (\d+)$/m) >= 1);
    if (kind === 'file') {
      assert.ok(value(/^stateful_fsync_duration_seconds_count\{file="journal"\} (\d+)$/m) >= 1);
    }
    assert.ok(text.includes(`\nstateful_instance_info{container_id="${service.instanceId}"} 1\n`));
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
  });
});
