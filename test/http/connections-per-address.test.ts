import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { describe, it } from 'node:test';
import { loadServiceConfig } from '../../src/config.js';
import { TrustedProxies } from '../../src/http/client-address.js';
import { limitConnectionsPerAddress } from '../../src/http/connections-per-address.js';

/** A connection as the server's 'connection' event hands it over, from `address`. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function connect(server: EventEmitter, address: string): FakeSocket {
  const socket = new FakeSocket(address);
  server.emit('connection', socket);
  return socket;
}

describe('connections one client address may hold', () => {
  it('closes an address’s connections past its share at once, and counts a closed one out', () => {
    const server = new EventEmitter();
    const said: Record<string, unknown>[] = [];
    limitConnectionsPerAddress(server as unknown as Server, 2, (fields) => said.push(fields));
    const [a, b] = [connect(server, '10.0.0.7'), connect(server, '10.0.0.7')];
    const third = connect(server, '10.0.0.7');
    assert.deepEqual([a.destroyed, b.destroyed, third.destroyed], [false, false, true]);
    assert.deepEqual(said, [{ address: '10.0.0.7', connections: 1, limit: 2 }]);
    assert.equal(connect(server, '2001:db8::1').destroyed, false, 'another address has its own');
    a.destroy();
    assert.equal(connect(server, '10.0.0.7').destroyed, false, 'a place freed by a close');
  });

  it('leaves the reverse proxies TRUST_PROXY names the whole capacity: they carry many clients', () => {
    const server = new EventEmitter();
    const proxies = new TrustedProxies(
      loadServiceConfig({ TRUST_PROXY: '10.9.0.0/16' }).trustProxy,
    );
    limitConnectionsPerAddress(server as unknown as Server, 1, () => undefined, proxies);
    const fromProxy = [connect(server, '10.9.1.1'), connect(server, '::ffff:10.9.1.1')];
    assert.deepEqual(
      fromProxy.map((socket) => socket.destroyed),
      [false, false],
    );
    connect(server, '10.8.0.1');
    assert.equal(connect(server, '10.8.0.1').destroyed, true, 'any other address has its share');
  });

  it('leaves loopback clients (a reverse proxy on the same machine among them) the whole capacity', () => {
    const server = new EventEmitter();
    limitConnectionsPerAddress(server as unknown as Server, 1);
    for (const address of [
      '127.0.0.1',
      '127.0.0.1',
      '::1',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:127.0.0.1',
    ]) {
      assert.equal(connect(server, address).destroyed, false, address);
    }
  });

  it('is half of MAX_CONNECTIONS by default, and at most MAX_CONNECTIONS', () => {
    assert.equal(loadServiceConfig({}).limits.maxConnectionsPerAddress, 500);
    assert.equal(loadServiceConfig({ MAX_CONNECTIONS: '10' }).limits.maxConnectionsPerAddress, 5);
    assert.throws(
      () => loadServiceConfig({ MAX_CONNECTIONS: '10', MAX_CONNECTIONS_PER_ADDRESS: '11' }),
      /MAX_CONNECTIONS_PER_ADDRESS must be an integer from 0 to 10/,
    );
  });
});
