import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { field, postJson, request } from '../helpers/http.js';
import { startService } from '../helpers/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Sends a request over a plain socket and returns the status line's code. The
 * server may answer 413 on the headers and close before the body is sent;
 * the answer is read then, as curl would.
 */
function rawRequest(url: string, method: string, path: string, body: Buffer): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match === null) reject(new Error(`no HTTP answer: ${received.slice(0, 200)}`));
      else resolve(Number(match[1]));
    });
    socket.write(
      `${method} ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    // Like curl: give the server a moment to refuse on the headers alone, then
    // send the body in pieces and stop as soon as an answer arrives.
    let offset = 0;
    const sendMore = () => {
      while (offset < body.length && received === '' && !socket.destroyed) {
        const piece = body.subarray(offset, offset + 64 * 1024);
        offset += piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', sendMore);
          return;
        }
      }
    };
    setTimeout(sendMore, 300);
  });
}

describe('bad input over real HTTP', () => {
  it('is answered with JSON 4xx, the service stays up and stored data is unharmed', async (t) => {
    const dir = await tempDir(t);
    const service = await startService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const kept = field(await postJson(`${service.url}/sessions`, { name: 'kept', data: { a: 1 } }));
    const file = join(dir, 'sessions', `${kept.id}.json`);
    const before = await readFile(file, 'utf8');

    const huge = Buffer.from(JSON.stringify({ data: { blob: 'x'.repeat(3 * 1024 * 1024) } }));
    assert.equal(await rawRequest(service.url, 'POST', '/sessions', huge), 413);
    assert.equal(await rawRequest(service.url, 'PUT', `/sessions/${kept.id}`, huge), 413);
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

    assert.equal(await readFile(file, 'utf8'), before);
    const state = field(await request(`${service.url}/state`));
    assert.equal(state.total_sessions, 1);
    assert.equal(field(await request(`${service.url}/sessions/${kept.id}`)).access_count, 0);
  });
});
