import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { AnswerTurns } from '../../src/http/answer-turns.js';
import { registerErrorHandlers } from '../../src/http/errors.js';
import { boundUnreadAnswers, STALE_MS, UnreadAnswers } from '../../src/http/unread-answers.js';

/** A connection that records whether it was closed; its close is emitted as a socket's. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  destroy(): this {
    this.destroyed = true;
    this.emit('close');
    return this;
  }
}

function socket(): Socket & FakeSocket {
  return new FakeSocket() as Socket & FakeSocket;
}

describe('the bound on unread answers over all connections', () => {
  it('counts an answer until it is finished, once', () => {
    const unread = new UnreadAnswers({ maxWeight: 100, maxPerAddress: 0 });
    const connection = socket();
    const [first, second] = [new EventEmitter(), new EventEmitter()];
    unread.hold(connection, first, 60, '10.0.0.1');
    unread.hold(connection, second, 30, '10.0.0.1');
    assert.equal(unread.weight, 90);
    first.emit('finish');
    first.emit('finish');
    assert.equal(unread.weight, 30);
    second.emit('finish');
    assert.equal(unread.weight, 0);
  });

  it('releases every answer of a connection when the connection closes, even queued ones that never hear of it', () => {
    const unread = new UnreadAnswers({ maxWeight: 100, maxPerAddress: 0 });
    const connection = socket();
    for (let i = 0; i < 12; i++) unread.hold(connection, new EventEmitter(), 10, '10.0.0.1');
    assert.equal(
      connection.listenerCount('close'),
      1,
      'one listener a connection, not one an answer',
    );
    connection.destroy();
    assert.equal(unread.weight, 0);
  });

  it('past the bound, closes only connections that took nothing for STALE_MS, holding the most first, until a quarter is free', () => {
    let now = 0;
    const said: Record<string, unknown>[] = [];
    const unread = new UnreadAnswers(
      { maxWeight: 100, maxPerAddress: 0 },
      { say: (fields) => said.push(fields), now: () => now },
    );
    const [old, older, reading, fresh] = [socket(), socket(), socket(), socket()];
    unread.hold(older, new EventEmitter(), 30, '10.0.0.1');
    unread.hold(old, new EventEmitter(), 50, '10.0.0.1');
    const taken = new EventEmitter();
    unread.hold(reading, taken, 10, '10.0.0.1');
    unread.hold(reading, new EventEmitter(), 20, '10.0.0.1');
    now = STALE_MS - 1;
    taken.emit('finish'); // `reading` takes its answers: not stale
    now = STALE_MS;
    unread.hold(fresh, new EventEmitter(), 40, '10.0.0.1');
    assert.equal(unread.weight, 140);
    assert.equal(unread.full, false, 'closing `old` and `older` brought it to 60');
    assert.deepEqual(
      [old.destroyed, older.destroyed, reading.destroyed, fresh.destroyed],
      [true, true, false, false],
    );
    assert.deepEqual(said, [{ unread_weight: 60, limit: 100, connections: 2 }]);
  });

  it('refuses the requests of one address past its share, and serves everyone else’s', async (t) => {
    const unread = new UnreadAnswers({ maxWeight: 1_000, maxPerAddress: 100 });
    const app = Fastify({ trustProxy: (address: string) => address === '127.0.0.1' });
    registerErrorHandlers(app);
    t.after(() => app.close());
    const gate = boundUnreadAnswers(app, unread, new AnswerTurns());
    app.addHook('onRequest', async (request, reply) => gate.check(request, reply));
    app.get('/x', async () => 'small');
    const from = (address: string) =>
      app.inject({ method: 'GET', url: '/x', headers: { 'x-forwarded-for': address } });
    const held = new EventEmitter();
    unread.hold(socket(), held, 150, '10.0.0.7');
    unread.hold(socket(), new EventEmitter(), 150, '127.0.0.1');
    assert.equal(unread.overShare('127.0.0.1'), false, 'loopback is never limited');
    const proxied = new UnreadAnswers(
      { maxWeight: 1_000, maxPerAddress: 100 },
      { unshared: (a) => a === '10.9.0.1' },
    );
    proxied.hold(socket(), new EventEmitter(), 150, '10.9.0.1');
    assert.equal(proxied.overShare('10.9.0.1'), false, 'nor an address given as unshared');
    const refused = await from('10.0.0.7');
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.json().error, 'too_busy');
    assert.match(refused.json().message, /UNREAD_ANSWERS_PER_ADDRESS_MB/);
    assert.equal((await from('10.0.0.8')).statusCode, 200, 'another address is served');
    held.emit('finish');
    assert.equal((await from('10.0.0.7')).statusCode, 200, 'served again once it read');
  });

  it('while nothing is stale, closes nothing and stays full', () => {
    let now = 0;
    const unread = new UnreadAnswers({ maxWeight: 100, maxPerAddress: 0 }, { now: () => now });
    const connection = socket();
    unread.hold(connection, new EventEmitter(), 150, '10.0.0.1');
    now = STALE_MS - 1;
    assert.equal(unread.full, true);
    assert.equal(connection.destroyed, false);
  });

  it('past the bound, refuses new requests and replaces a read’s large answer by the 503, never a write’s', async (t) => {
    const unread = new UnreadAnswers({ maxWeight: 100, maxPerAddress: 0 });
    const app = Fastify();
    t.after(() => app.close());
    const gate = boundUnreadAnswers(app, unread, new AnswerTurns());
    app.addHook('onRequest', async (request, reply) => gate.check(request, reply));
    const big = 'x'.repeat(8 * 1024);
    // Each handler fills the bound while it runs (as other connections would).
    const fill = () => unread.hold(socket(), new EventEmitter(), 1_000, '10.0.0.1');
    app.get('/page', async (_request, reply) => {
      fill();
      return reply.header('etag', '"v1"').header('link', '</next>').send(big);
    });
    app.post('/write', async (_request, reply) => {
      fill();
      return reply.code(201).header('location', '/x').send(big);
    });
    const page = await app.inject({ method: 'GET', url: '/page' });
    assert.equal(page.statusCode, 503);
    assert.equal(page.json().error, 'too_busy');
    assert.equal(page.headers['retry-after'], '1');
    assert.equal(page.headers.etag, undefined, 'none of the route’s headers');
    assert.equal(page.headers.link, undefined);
    // The bound is full now: a new request is refused before its handler runs.
    const refused = await app.inject({ method: 'POST', url: '/write' });
    assert.equal(refused.statusCode, 503);
  });

  it('lets a write that committed while the bound filled answer as it did', async (t) => {
    const unread = new UnreadAnswers({ maxWeight: 100, maxPerAddress: 0 });
    const app = Fastify();
    t.after(() => app.close());
    boundUnreadAnswers(app, unread, new AnswerTurns());
    app.post('/write', async (_request, reply) => {
      unread.hold(socket(), new EventEmitter(), 1_000, '10.0.0.1');
      return reply
        .code(201)
        .header('location', '/x')
        .send('x'.repeat(8 * 1024));
    });
    const write = await app.inject({ method: 'POST', url: '/write' });
    assert.equal(write.statusCode, 201);
    assert.equal(write.headers.location, '/x');
  });
});
