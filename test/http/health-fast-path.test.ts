/**
 * The plain `GET /health` is answered before Fastify (http/health-fast-path.ts):
 * the same bytes as the route, counted, measured and checked as any request,
 * and everything that is not plain left to Fastify.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { build } from '../helpers/build-app.js';

/** The answers to `requests`, written down one connection at once (pipelined), as text. */
async function exchange(port: number, requests: string[]): Promise<string[]> {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    received += chunk;
  });
  socket.write(requests.join(''));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answers = received.split(/(?=HTTP\/1\.1 \d{3} )/).filter((part) => part !== '');
    const last = answers.at(-1) ?? '';
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(last)?.[1] ?? -1);
    const body = last.split('\r\n\r\n')[1];
    if (answers.length === requests.length && body !== undefined && body.length === length) {
      socket.destroy();
      return answers;
    }
    if (Date.now() > deadline) throw new Error(`no whole answers in 10 s: ${received}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An answer without its Date header and with its uptimes set to 0. */
function comparable(answer: string): string {
  return answer
    .replace(/\r\nDate: [^\r]*/i, '')
    .replace(/"uptime(_seconds)?":[0-9.]+/g, '"uptime$1":0');
}

async function listening(t: TestContext) {
  const started = await build(t, {}, { store: 'file' });
  await started.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = started.app.server.address() as AddressInfo;
  return { ...started, port };
}

describe('GET /health before Fastify', () => {
  it('answers the same bytes as the route, and counts and measures each answer', async (t) => {
    const { app, port } = await listening(t);
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const [plain, routed] = await exchange(port, [
      `GET /health HTTP/1.1\r\n${host}\r\n`,
      `GET /health?from=fastify HTTP/1.1\r\n${host}\r\n`,
    ]);
    assert.match(plain ?? '', /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(comparable(plain ?? ''), comparable(routed ?? ''));
    const body = JSON.parse((plain ?? '').split('\r\n\r\n')[1] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), [
      'status',
      'container',
      'uptime',
      'container_id',
      'uptime_seconds',
      'problems',
    ]);

    const before = (await app.inject({ url: '/state' })).json<{ total_requests: number }>();
    await exchange(port, Array(5).fill(`GET /health HTTP/1.1\r\n${host}\r\n`));
    const after = (await app.inject({ url: '/state' })).json<{ total_requests: number }>();
    assert.equal(after.total_requests, before.total_requests + 6, 'five probes and one /state');
    const metrics = (await app.inject({ url: '/metrics' })).body;
    const counted = /http_requests_total\{method="GET",route="\/health",status_code="200"\} (\d+)/;
    assert.equal(Number(counted.exec(metrics)?.[1]), 7);
    const measured =
      /http_request_duration_seconds_count\{method="GET",route="\/health",status_code="200"\} (\d+)/;
    assert.equal(Number(measured.exec(metrics)?.[1]), 7);
  });

  it('leaves to Fastify what is not plain: a Host refused, HEAD, a body, a compressed one', async (t) => {
    const { port } = await listening(t);
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const [foreign, head, withBody, compressed, twoHosts] = await exchange(port, [
      'GET /health HTTP/1.1\r\nHost: rebound.example\r\n\r\n',
      `HEAD /health HTTP/1.1\r\n${host}\r\n`,
      `GET /health HTTP/1.1\r\n${host}Content-Length: 2\r\n\r\n{}`,
      `GET /health HTTP/1.1\r\n${host}Content-Encoding: gzip\r\n\r\n`,
      `GET /health HTTP/1.1\r\n${host}${host}\r\n`,
    ]);
    assert.match(foreign ?? '', /^HTTP\/1\.1 403 [\s\S]*"error":"host_not_allowed"/);
    assert.match(head ?? '', /^HTTP\/1\.1 200 /);
    assert.match(withBody ?? '', /^HTTP\/1\.1 200 [\s\S]*"status":"ok"/);
    assert.match(compressed ?? '', /^HTTP\/1\.1 415 /);
    assert.match(twoHosts ?? '', /^HTTP\/1\.1 400 [\s\S]*more than one Host/);
  });

  it('is served by a server that takes the longest REQUEST_TIMEOUT_MS allowed', async (t) => {
    // Node refuses a headersTimeout past its default requestTimeout (300 s) unless both are set.
    const { app } = await build(t, { REQUEST_TIMEOUT_MS: '600000' }, { store: 'file' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    assert.equal(app.server.requestTimeout, 600_000);
    assert.equal(app.server.headersTimeout, 600_000);
    const { port } = app.server.address() as AddressInfo;
    const [answer] = await exchange(port, [
      `GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    ]);
    assert.match(answer ?? '', /^HTTP\/1\.1 200 /);
  });

  it('answers in order behind a request still in progress on its connection', async (t) => {
    const { port } = await listening(t);
    const host = `Host: 127.0.0.1:${port}\r\n`;
    const answers = await exchange(port, [
      `POST /sessions HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{"name":"first"}`,
      `GET /health HTTP/1.1\r\n${host}\r\n`,
      `GET /sessions?limit=1 HTTP/1.1\r\n${host}\r\n`,
      `GET /health HTTP/1.1\r\n${host}\r\n`,
    ]);
    assert.deepEqual(
      answers.map((answer) => /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]),
      ['201', '200', '200', '200'],
    );
    assert.match(answers[0] ?? '', /"name":"first"/);
    assert.match(answers[1] ?? '', /"status":"ok"/);
    assert.match(answers[2] ?? '', /^HTTP[\s\S]*\{"sessions":\[/);
    assert.match(answers[3] ?? '', /"status":"ok"/);
  });
});
