import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with what the server sent before it closed the connection. */
function closed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString();
  });
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(received)));
}

describe('slow and idle clients', () => {
  it('are cut off by the timeouts while other clients are served', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, {
      REQUEST_TIMEOUT_MS: '2000',
      IDLE_TIMEOUT_MS: '3000',
      KEEP_ALIVE_TIMEOUT_MS: '1000',
    });
    t.after(() => service.process.kill('SIGKILL'));
    const started = Date.now();

    // A body trickled in a byte at a time, far slower than the request timeout allows.
    const slow = await openSocket(service.url);
    const slowAnswer = closed(slow);
    slow.write(
      'POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{',
    );
    const trickle = setInterval(() => slow.writable && slow.write(' '), 200);
    t.after(() => clearInterval(trickle));

    // Many connections that never send a byte.
    const idle = await Promise.all(Array.from({ length: 200 }, () => openSocket(service.url)));
    const idleClosed = idle.map(closed);

    // Meanwhile everyone else is served.
    for (let i = 0; i < 10; i++) {
      assert.equal((await request(`${service.url}/health`)).status, 200);
      assert.equal((await postJson(`${service.url}/sessions`, { name: `ok${i}` })).status, 201);
    }

    const answer = await slowAnswer;
    clearInterval(trickle);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"error":"request_timeout"/);
    const slowCutAfter = Date.now() - started;
    assert.ok(slowCutAfter < 10_000, `the slow client was cut after ${slowCutAfter} ms`);

    await Promise.all(idleClosed);
    assert.ok(idle.every((socket) => socket.destroyed));
    const state = field(await request(`${service.url}/state`));
    assert.equal(state.live_sessions, 10, 'the slow create was never stored');
  });
});
