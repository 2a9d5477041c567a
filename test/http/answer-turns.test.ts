import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AnswerTurns } from '../../src/http/answer-turns.js';

/** Fills the turn, then queues reads a, b and c, each building `builds` characters when it goes. */
function queueReads(turns: AnswerTurns, builds: number) {
  turns.built(100);
  const released: string[] = [];
  const reads = ['a', 'b', 'c'].map((name) =>
    (turns.turn() as Promise<void>).then(() => {
      released.push(name);
      turns.built(builds);
    }),
  );
  return { released, reads };
}

describe('large answers, a few each turn of the event loop', () => {
  it('lets reads go at once while the turn has built little, and never makes a quiet service wait', async () => {
    const turns = new AnswerTurns(100);
    assert.equal(turns.turn(), null);
    turns.built(60);
    assert.equal(turns.turn(), null, 'under the turn’s share');
    turns.built(60);
    const waiting = turns.turn();
    assert.notEqual(waiting, null, 'past it, a read waits');
    await waiting;
    assert.equal(turns.turn(), null, 'a new turn starts with nothing built');
  });

  it('releases waiting reads one a turn, first come first served, with the loop turning between them', async () => {
    const turns = new AnswerTurns(100);
    const { released, reads } = queueReads(turns, 100); // each builds a large answer in its turn
    assert.equal(turns.queued, 3);
    assert.equal(turns.turn() instanceof Promise, true, 'a later read queues behind them');
    await nextTurn();
    await nextTurn();
    assert.ok(released.length <= 2, `${released.join(',')} went within two turns`);
    await Promise.all(reads);
    assert.deepEqual(released, ['a', 'b', 'c']);
  });

  it('lets waiting reads that build little go one after another in the same turn', async () => {
    const turns = new AnswerTurns(100);
    const { released, reads } = queueReads(turns, 10);
    await nextTurn();
    assert.deepEqual(released, ['a', 'b', 'c'], 'all in the first turn that had room');
    await Promise.all(reads);
  });
});
