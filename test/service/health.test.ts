import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BackgroundHealth, FAILURES_BEFORE_DEGRADED } from '../../src/service/health.js';

describe('background health', () => {
  it('degrades after repeated failures of a task, names it and its cause, and clears on a success', () => {
    const heard: string[] = [];
    const health = new BackgroundHealth({
      failed: (task) => heard.push(`failed ${task}`),
      succeeded: (task) => heard.push(`succeeded ${task}`),
    });
    for (let i = 1; i < FAILURES_BEFORE_DEGRADED; i++) {
      health.failed('checkpoint', new Error(`disk ${i}`));
    }
    assert.deepEqual(health.problems(), [], 'a few retried failures are not yet a problem');
    health.failed('checkpoint', new Error('disk full'));
    health.failed('lease_renewal', new Error('gone'));
    const [problem, ...others] = health.problems();
    assert.match(
      problem ?? '',
      new RegExp(
        `^checkpoint has failed ${FAILURES_BEFORE_DEGRADED} times in a row since .*: disk full$`,
      ),
    );
    assert.deepEqual(others, [], 'one failure of another task is not a problem');
    health.succeeded('checkpoint');
    assert.deepEqual(health.problems(), []);
    assert.deepEqual(heard.slice(-3), [
      'failed checkpoint',
      'failed lease_renewal',
      'succeeded checkpoint',
    ]);
  });

  it('never degrades for a passing failure (an idle database connection lost: no later success ends it), but still reports it', () => {
    const told: [string, boolean | undefined][] = [];
    const health = new BackgroundHealth({
      failed: (task, _error, passing) => told.push([task, passing]),
      succeeded() {},
    });
    for (let i = 0; i < 10; i++) health.failed('idle_connection', new Error('terminated'), true);
    assert.deepEqual(health.problems(), []);
    assert.equal(told.length, 10, 'each is passed on to be logged and counted');
    assert.deepEqual(told[0], ['idle_connection', true]);
    for (let i = 0; i < FAILURES_BEFORE_DEGRADED; i++) health.failed('idle_connection', 'x');
    assert.equal(health.problems().length, 1, 'the same task failing as retried work does degrade');
  });

  it('shortens a long cause', () => {
    const health = new BackgroundHealth({ failed() {}, succeeded() {} });
    for (let i = 0; i < FAILURES_BEFORE_DEGRADED; i++)
      health.failed('event_feed', 'x'.repeat(5000));
    assert.ok((health.problems()[0]?.length ?? 0) < 400);
  });
});
