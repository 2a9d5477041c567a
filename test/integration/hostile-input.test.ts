/**
 * Property-based hostile input against the running service (fast-check):
 * random methods, paths (traversal attempts, encoded dots, very long ids, NUL
 * bytes, absolute-form targets), headers (cross-site Origin and
 * Sec-Fetch-Site, Host, repeated Host, compressed bodies), content types and
 * bodies (deep nesting, huge strings, hundreds of thousands of tiny values,
 * wrong types, invalid UTF-8, any UTF-16 code units in every string), sent
 * as raw HTTP.
 * The invariants: never a 5xx, never a crash, nothing touched outside
 * DATA_DIR, and stored sessions change only through requests that were
 * answered 2xx. Then pipelined bursts and crowds of event streams: the
 * service keeps answering in bounded memory.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { type StartedService, spawnService } from '../../tools/service-process.js';
import { openStream } from '../helpers/event-stream.js';
import { field, postJson, request } from '../helpers/http.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { healthLatencyMs, residentMiB } from '../helpers/process-memory.js';
import { type RawRequest, sendRaw } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/temp-dir.js';

const UUID = '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c';

function requestArbitrary(existingIds: string[]): fc.Arbitrary<RawRequest> {
  const id = fc.oneof(
    fc.constantFrom(...existingIds),
    fc.constantFrom(
      UUID,
      UUID.toUpperCase(),
      '..',
      '.',
      '%2e%2e',
      '..%2f..%2fstats.json',
      '..%2F..%2F..%2Fetc%2Fpasswd',
      '%2e%2e%2f%2e%2e%2fevents.jsonl',
      `${UUID}%00.json`,
      `${UUID}.json`,
      '%00',
      '%zz',
      '%',
      '~root',
      'sessions',
    ),
    fc.integer({ min: 1, max: 6000 }).map((length) => 'a'.repeat(length)),
    fc.string({ maxLength: 40 }).map((text) => encodeURIComponent(text)),
  );
  const path = fc.oneof(
    fc.constant('/sessions'),
    id.map((value) => `/sessions/${value}`),
    fc
      .oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '-1', '10001', '1e3', '50', 'abc'))
      .map((limit) => `/events?limit=${encodeURIComponent(limit)}`),
    // Only invalid positions: a valid one would open a stream that never ends.
    fc
      .constantFrom('abc', '-1', '1e3', '', '%00', '9'.repeat(40))
      .map((since) => `/events/stream?since=${since}`),
    fc.constantFrom(
      '/health',
      '/state',
      '/events',
      '/',
      '/metrics',
      '/dashboard/app.js',
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/%2e%2e/package.json',
      '/../../etc/passwd',
      '/sessions/../stats.json',
      '/crash',
      // Absolute-form targets: checked by their authority, which Host must agree with.
      'http://127.0.0.1/health',
      'http://localhost/sessions',
      'http://evil.example/state',
      'https://localhost:443/events',
      'http://user@localhost/health',
    ),
    fc.string({ maxLength: 60 }).map((text) => `/${encodeURIComponent(text)}`),
  );
  const method = fc.oneof(
    fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT'),
    fc.stringMatching(/^[A-Z]{1,10}$/),
  );
  const contentType = fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '',
    ),
    fc.stringMatching(/^[a-z/;= -]{0,40}$/),
  );
  const jsonText = (value: unknown) => Buffer.from(JSON.stringify(value));
  const body = fc.oneof(
    fc.constant(Buffer.alloc(0)),
    fc
      .record({
        name: fc.string({ maxLength: 250 }),
        data: fc.dictionary(fc.string(), fc.jsonValue()),
      })
      .map(jsonText),
    fc.record({ name: fc.jsonValue(), data: fc.jsonValue() }, { requiredKeys: [] }).map(jsonText),
    // Any UTF-16 code units: control characters, U+0000, unpaired surrogates.
    fc
      .record({
        name: fc.string({ unit: 'binary', maxLength: 40 }),
        data: fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })),
      })
      .map(jsonText),
    fc.jsonValue().map(jsonText),
    fc
      .integer({ min: 1, max: 200_000 })
      .map((depth) => Buffer.from(`{"data":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
    fc
      .integer({ min: 1, max: 3 * 1024 * 1024 })
      .map((size) => Buffer.from(JSON.stringify({ name: 'x', data: { big: 'x'.repeat(size) } }))),
    // Many tiny values: what costs memory, whatever the byte size.
    fc
      .tuple(fc.integer({ min: 1, max: 349_000 }), fc.constantFrom('{}', '[]', '0', '""', 'null'))
      .map(([count, item]) =>
        Buffer.from(`{"data":{"a":[${`${item},`.repeat(count - 1)}${item}]}}`),
      ),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(
      Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      Buffer.from('{"name":"\u0000"}'),
      Buffer.from('{"__proto__":{"polluted":true},"name":"p"}'),
      Buffer.from('{"name":"a","name":"b"}'),
    ),
  );
  const extraHeader = fc.tuple(
    fc.constantFrom(
      'X-Forwarded-For',
      'Accept',
      'Transfer-Encoding',
      'Expect',
      'X-Random',
      'Authorization',
    ),
    fc.stringMatching(/^[\x20-\x7e]{0,200}$/),
  );
  const siteHeader = fc.oneof(
    fc.tuple(
      fc.constant('Origin'),
      fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1', 'file://', 'x'),
    ),
    fc.tuple(
      fc.constant('Sec-Fetch-Site'),
      fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none'),
    ),
    fc.tuple(
      fc.constant('Host'),
      fc.constantFrom('evil.example', 'localhost', '127.0.0.1:1', '[::1]', ''),
    ),
    fc.tuple(fc.constant('Content-Encoding'), fc.constantFrom('gzip', 'br', 'identity', 'x')),
  );
  return fc.record({
    method,
    path,
    headers: fc
      .tuple(
        contentType,
        fc.array(extraHeader, { maxLength: 3 }),
        fc.array(siteHeader, { maxLength: 2 }),
      )
      .map(([type, extra, site]) => [
        ['Content-Type', type] as [string, string],
        ...extra.filter(([name]) => name !== 'Transfer-Encoding' && name !== 'Expect'),
        ...site,
      ]),
    body,
  });
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

/**
 * Throws hostile requests at a running service (HOSTILE_RUNS, 1,000 by
 * default): none may get a 5xx or stop it, and the sessions no write named
 * stay as they were.
 */
async function throwHostileRequests(t: TestContext, service: StartedService): Promise<void> {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(
      field(await postJson(`${service.url}/sessions`, { name: `kept${i}`, data: { i } })).id,
    );
  }
  const before = new Map<string, string>();
  for (const id of ids) before.set(id, (await request(`${service.url}/sessions/${id}`)).text);

  const changed = new Set<string>();
  const statuses = new Map<number, number>();
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(requestArbitrary(ids), async (raw) => {
      tried++;
      const status = await sendRaw(service.url, raw);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      assert.ok(
        status >= 200 && status < 500,
        `${raw.method} ${raw.path.slice(0, 100)} answered ${status}`,
      );
      assert.equal(service.process.child.exitCode, null, 'the service is still running');
      if (status < 300 && raw.method !== 'GET' && raw.method !== 'HEAD') {
        for (const id of ids) if (raw.path.includes(id)) changed.add(id);
      }
    }),
    { numRuns: Number(process.env.HOSTILE_RUNS ?? 1000) },
  );

  assert.equal((await request(`${service.url}/health`)).status, 200);
  for (const id of ids) {
    if (!changed.has(id)) {
      assert.equal(
        (await request(`${service.url}/sessions/${id}`)).text,
        before.get(id),
        `session ${id} unchanged`,
      );
    }
  }
  const byStatus = [...statuses.entries()]
    .sort(([a], [b]) => a - b)
    .map(([code, n]) => `${code}:${n}`);
  t.diagnostic(`hostile requests tried: ${tried} (answers ${byStatus.join(' ')})`);
}

describe('hostile input against the running service', () => {
  it('never gets a 5xx, never crashes it, touches nothing outside DATA_DIR, harms no stored session', async (t) => {
    const root = await tempDir(t);
    const dataDir = join(root, 'data');
    await mkdir(join(root, 'outside'));
    await writeFile(join(root, 'outside', 'canary.json'), '{"untouched":true}');
    const service = await spawnService(dataDir, { CRASH_ENDPOINT: 'off' });
    t.after(() => service.process.kill('SIGKILL'));

    const outsideBefore = await listFiles(join(root, 'outside'));
    const canaryBefore = await stat(join(root, 'outside', 'canary.json'));
    await throwHostileRequests(t, service);

    assert.deepEqual(await listFiles(join(root, 'outside')), outsideBefore);
    assert.equal(
      await readFile(join(root, 'outside', 'canary.json'), 'utf8'),
      '{"untouched":true}',
    );
    assert.equal((await stat(join(root, 'outside', 'canary.json'))).mtimeMs, canaryBefore.mtimeMs);
    assert.deepEqual((await readdir(root)).sort(), ['data', 'outside']);
    const inData = await readdir(dataDir);
    for (const name of inData) {
      assert.ok(
        [
          'sessions',
          'journal',
          'snapshot.jsonl',
          'events.jsonl',
          'stats.json',
          'instance.json',
          'instance.lock',
          'spare',
        ].includes(name),
        name,
      );
    }
    for (const name of await readdir(join(dataDir, 'sessions'))) {
      assert.match(name, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.json$/);
    }
    // Replaced session files kept by the writer, under names of its own.
    for (const name of await readdir(join(dataDir, 'spare'))) {
      assert.match(name, /^[0-9a-f]{8}-\d+$/);
    }
  });

  it('keeps answering in bounded memory through pipelined bursts and crowds of event streams', async (t) => {
    const root = await tempDir(t);
    const service = await spawnService(join(root, 'data'), { CRASH_ENDPOINT: 'off' });
    t.after(() => service.process.kill('SIGKILL'));
    const note = 'n'.repeat(500);
    for (let i = 0; i < 500; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () => postJson(`${service.url}/sessions`, { data: { note } })),
      );
    }
    const pid = service.process.child.pid as number;
    const before = await residentMiB(pid);
    const { port } = new URL(service.url);
    const line = fc.constantFrom(
      'GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET /events?limit=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}',
      'GET /nope HTTP/1.1\r\nHost: evil.example\r\n\r\n',
    );
    let peak = before;
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 0, max: 130 }),
        async (lines, repeat, streamCount) => {
          const socket = connect(Number(port), '127.0.0.1');
          socket.on('error', () => undefined);
          socket.pause(); // never reads its answers
          socket.write(lines.join('').repeat(repeat));
          const streams = await Promise.all(
            Array.from({ length: streamCount }, () =>
              openStream(`${service.url}/events/stream?limit=10000`),
            ),
          );
          try {
            const statuses = streams.map((stream) => stream.response.status);
            assert.ok(statuses.every((status) => status === 200 || status === 503));
            assert.ok(statuses.filter((status) => status === 200).length <= 100, 'MAX_STREAMS');
            assert.ok((await healthLatencyMs(service.url)) < 10_000);
            peak = Math.max(peak, await residentMiB(pid));
            assert.ok(peak < before + 400, `RSS ${peak} MiB, ${before} MiB before`);
            assert.equal(service.process.child.exitCode, null);
          } finally {
            socket.destroy();
            for (const stream of streams) stream.close();
          }
        },
      ),
      { numRuns: Number(process.env.HOSTILE_BURSTS ?? 25) },
    );
    t.diagnostic(`RSS ${before.toFixed(0)} MiB before the bursts, at most ${peak.toFixed(0)} MiB`);
  });
});

describeOnPostgres('hostile input against the running service, on PostgreSQL', (server) => {
  it('never gets a 5xx, never crashes it, harms no stored session', async (t) => {
    const url = await server().createDatabase();
    const service = await spawnService(await tempDir(t), {
      STORE: 'postgres',
      DATABASE_URL: url,
      CRASH_ENDPOINT: 'off',
    });
    t.after(() => service.process.kill('SIGKILL'));
    await throwHostileRequests(t, service);
  });
});
