import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { type BaseLogger, pino } from 'pino';
import { Supervisor } from '../../src/lifecycle/supervisor.js';

interface Logged {
  msg: string;
  restart_in_ms?: number;
  code?: number;
  seconds?: number;
  phase?: string;
}

function capture() {
  const lines: Logged[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Logged);
      done();
    },
  });
  return { lines, logger: pino(stream) };
}

function supervisorFor(script: string, logger: BaseLogger, stableAfterMs = 60_000) {
  return new Supervisor(
    {
      command: process.execPath,
      args: ['-e', script],
      env: { PATH: process.env.PATH ?? '' },
      initialBackoffMs: 20,
      maxBackoffMs: 80,
      stableAfterMs,
      stopTimeoutMs: 2000,
    },
    logger,
  );
}

const delays = (lines: Logged[]) =>
  lines.filter((line) => line.restart_in_ms !== undefined).map((line) => line.restart_in_ms);

/** Waits until `done()` holds, failing after `timeoutMs` instead of hanging. */
async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the supervisor', () => {
  it('restarts a service that keeps dying, with a backoff that doubles up to its cap', async () => {
    const { lines, logger } = capture();
    const supervisor = supervisorFor('process.exit(1)', logger);
    supervisor.start();
    await until(() => supervisor.restarts >= 5);
    supervisor.stop('SIGTERM');
    assert.equal(await supervisor.done, 0);
    assert.deepEqual(delays(lines).slice(0, 5), [20, 40, 80, 80, 80]);
  });

  it('resets the backoff after a stable run', async () => {
    const { lines, logger } = capture();
    const supervisor = supervisorFor('setTimeout(() => process.exit(1), 150)', logger, 100);
    supervisor.start();
    await until(() => supervisor.restarts >= 3);
    supervisor.stop('SIGTERM');
    await supervisor.done;
    assert.deepEqual(delays(lines).slice(0, 3), [20, 20, 20]);
  });

  it('restarts a service that was killed by a signal', async () => {
    const { logger } = capture();
    const supervisor = supervisorFor('process.kill(process.pid, "SIGKILL")', logger);
    supervisor.start();
    await until(() => supervisor.restarts >= 2);
    supervisor.stop('SIGTERM');
    assert.equal(await supervisor.done, 0);
  });

  it('restarts the service cleanly when asked (SIGHUP), and says so', async () => {
    const { lines, logger } = capture();
    const supervisor = supervisorFor(
      'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)',
      logger,
    );
    supervisor.start();
    await until(
      () => lines.filter((line) => line.msg === 'supervisor started the service').length === 1,
    );
    supervisor.restart();
    await until(
      () => lines.filter((line) => line.msg === 'supervisor started the service').length === 2,
    );
    assert.ok(lines.some((line) => line.msg === 'restarting the service cleanly, as asked'));
    assert.equal(supervisor.restarts, 0, 'a restart asked for is no crash');
    supervisor.stop('SIGTERM');
    assert.equal(await supervisor.done, 0);
  });

  it('gives up on a start that can never succeed, with its exit status', async () => {
    // 3 the directory held, 4 the address, 5 unsafe, 6 unusable, 78 configuration.
    for (const status of [3, 4, 5, 6, 78]) {
      const { lines, logger } = capture();
      const supervisor = supervisorFor(`process.exit(${status})`, logger);
      supervisor.start();
      assert.equal(await supervisor.done, status);
      assert.equal(supervisor.restarts, 0);
      assert.ok(lines.some((line) => line.msg.includes('not restarting')));
    }
  });

  it('leaves the giving up unsaid when asked (the service has said why, on a terminal)', async () => {
    const { lines, logger } = capture();
    const supervisor = new Supervisor(
      {
        command: process.execPath,
        args: ['-e', 'process.exit(6)'],
        env: { PATH: process.env.PATH ?? '' },
        initialBackoffMs: 20,
        maxBackoffMs: 80,
        stableAfterMs: 60_000,
        stopTimeoutMs: 2000,
        logGivingUp: false,
      },
      logger,
    );
    supervisor.start();
    assert.equal(await supervisor.done, 6);
    assert.ok(!lines.some((line) => line.msg.includes('not restarting')));
  });

  it('forwards a stop and waits for the service to end', async () => {
    const { logger } = capture();
    const supervisor = supervisorFor(
      'process.on("SIGTERM", () => setTimeout(() => process.exit(0), 100)); setInterval(() => {}, 1000)',
      logger,
    );
    supervisor.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stoppedAt = Date.now();
    supervisor.stop('SIGTERM');
    assert.equal(await supervisor.done, 0);
    assert.ok(Date.now() - stoppedAt >= 90, 'waited for the service to finish its stop');
    assert.equal(supervisor.restarts, 0);
  });

  it('logs "starting (N s)" every second until the service says it is listening, with what it said it was doing', async () => {
    const { lines, logger } = capture();
    // A service that reports a phase at once and says it listens after 2.5 s.
    const supervisor = supervisorFor(
      'process.send({ kind: "starting", detail: { phase: "replaying the journal", seconds: 0.2 } });' +
        'setTimeout(() => process.send({ kind: "listening", url: "http://127.0.0.1:1" }), 2500);' +
        'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)',
      logger,
    );
    supervisor.start();
    await until(() => lines.some((line) => line.msg === 'starting (2 s)'));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const count = lines.filter((line) => line.msg.startsWith('starting (')).length;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    supervisor.stop('SIGTERM');
    await supervisor.done;
    const starting = lines.filter((line) => line.msg.startsWith('starting ('));
    assert.equal(starting.length, count, 'no line once the service said it was listening');
    assert.deepEqual(
      starting.slice(0, 2).map((line) => [line.msg, line.seconds]),
      [
        ['starting (1 s)', 1],
        ['starting (2 s)', 2],
      ],
    );
    assert.equal(starting[0]?.phase, 'replaying the journal');
  });

  it('stops logging "starting" when a service dies before it listens', async () => {
    const { lines, logger } = capture();
    const supervisor = supervisorFor('setTimeout(() => process.exit(3), 1500)', logger);
    supervisor.start();
    assert.equal(await supervisor.done, 3);
    const count = lines.filter((line) => line.msg.startsWith('starting (')).length;
    assert.ok(count >= 1, 'a line in its 1.5 s');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(lines.filter((line) => line.msg.startsWith('starting (')).length, count);
  });
});
