import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { STALE_MS, UnreadAnswers } from '../../src/http/unread-answers.js';

/** A socket that only records whether it was closed. */
function fakeSocket(): Socket & { destroyed: boolean } {
  const socket = { destroyed: false, destroy: () => undefined } as unknown as Socket & {
    destroyed: boolean;
  };
  socket.destroy = () => {
    socket.destroyed = true;
    return socket;
  };
  return socket;
}

describe('the bound on unread answers over all connections', () => {
  it('counts an answer until it is finished or its connection closes', () => {
    const unread = new UnreadAnswers(100);
    const socket = fakeSocket();
    const first = new EventEmitter();
    const second = new EventEmitter();
    unread.hold(socket, first, 60);
    unread.hold(socket, second, 30);
    assert.equal(unread.bytes, 90);
    first.emit('finish');
    first.emit('close'); // once only
    assert.equal(unread.bytes, 30);
    second.emit('close');
    assert.equal(unread.bytes, 0);
  });

  it('past the bound, closes only connections unread for STALE_MS, holding the most first, until a quarter is free', () => {
    let now = 0;
    const said: Record<string, number>[] = [];
    const unread = new UnreadAnswers(
      100,
      (fields) => said.push(fields),
      () => now,
    );
    const [old, older, fresh] = [fakeSocket(), fakeSocket(), fakeSocket()];
    unread.hold(older, new EventEmitter(), 30);
    unread.hold(old, new EventEmitter(), 50);
    now = STALE_MS;
    unread.hold(fresh, new EventEmitter(), 40);
    assert.equal(unread.full, true, '120 of 100');
    assert.equal(old.destroyed, true, 'the stale connection holding the most');
    assert.equal(older.destroyed, false, '120 - 50 is under three quarters of 100');
    assert.equal(fresh.destroyed, false, 'not stale yet');
    assert.deepEqual(said, [{ connections: 1, unread_bytes: 120, limit_bytes: 100 }]);
  });

  it('while nothing is stale, closes nothing and stays full', () => {
    let now = 0;
    const unread = new UnreadAnswers(
      100,
      () => undefined,
      () => now,
    );
    const socket = fakeSocket();
    unread.hold(socket, new EventEmitter(), 150);
    now = STALE_MS - 1;
    assert.equal(unread.full, true);
    assert.equal(socket.destroyed, false);
  });
});
