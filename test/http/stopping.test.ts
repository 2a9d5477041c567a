/**
 * A request that arrives while the service stops is refused in the
 * service's own JSON, and the connection closes; one already in flight is
 * finished first.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { build } from '../helpers/build-app.js';

describe('a stop', () => {
  it('finishes the request in flight and refuses the next on its connection with 503 `stopping`, then closes it', async (t) => {
    const { app, stop } = await build(t, {}, { store: 'file' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      received += chunk;
    });
    const host = `Host: 127.0.0.1:${port}\r\n`;
    // In flight: its body not all sent, so the stop waits for it.
    socket.write(
      `POST /sessions HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{`,
    );
    await sleep(100);
    const stopped = stop('test');
    await sleep(100);
    socket.write(`}GET /state HTTP/1.1\r\n${host}\r\n`);
    await once(socket, 'close');
    await stopped;
    const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
    assert.match(first ?? '', /^HTTP\/1\.1 201 /, received);
    assert.match(second ?? '', /^HTTP\/1\.1 503 /, received);
    assert.match(second ?? '', /\r\nretry-after: 1\r\n/i);
    assert.match(second ?? '', /\r\nconnection: close\r\n/i);
    const body = JSON.parse((second ?? '').split('\r\n\r\n')[1] ?? '') as Record<string, string>;
    assert.equal(body.error, 'stopping');
    assert.match(body.message ?? '', /changed nothing/);
  });
});
