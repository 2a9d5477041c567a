import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort, runStateful, runToEnd } from '../../tools/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the logs', () => {
  it('are JSON lines off a terminal, one readable line an entry with LOG_FORMAT=pretty (a terminal by default), one "listening" line a start', async (t) => {
    const dir = await tempDir(t);
    const service = runStateful(['serve'], { DATA_DIR: dir, PORT: '0', LOG_FORMAT: 'pretty' });
    t.after(() => service.kill('SIGKILL'));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if (/: listening \{.*\}\n/.test(service.stdout)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lines = service.stdout.trim().split('\n');
    const listening = lines.filter((line) => /listening/i.test(line));
    assert.equal(listening.length, 1, `one "listening" line a start:\n${service.stdout}`);
    // A new directory has nothing to take over: one line says so, not four.
    assert.equal(
      lines.filter((line) => /new data directory: nothing to take over/.test(line)).length,
      1,
    );
    assert.ok(
      !lines.some((line) => /taking over|took the directory over/.test(line)),
      `no takeover lines for an empty directory:\n${service.stdout}`,
    );
    assert.match(
      listening[0] as string,
      /^\[\d\d:\d\d:\d\d\] INFO \(\d+\): listening \{"url":"http:\/\/127\.0\.0\.1:\d+",.*"container_id":"[0-9a-f]{8}".*\}$/,
      'its fields on the same line',
    );
    assert.ok(
      lines.every((line) => /^\[\d\d:\d\d:\d\d\] [A-Z]+ \(\d+\): /.test(line)),
      `every entry one readable line, no JSON line:\n${service.stdout}`,
    );
    service.kill('SIGTERM');
    assert.equal((await service.exited).code, 0);

    // Off a terminal: JSON lines, and there too one "listening" line a start.
    const json = runStateful(['serve'], { DATA_DIR: dir, PORT: '0' });
    t.after(() => json.kill('SIGKILL'));
    await json.listening();
    json.kill('SIGTERM');
    await json.exited;
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { msg: string });
    assert.deepEqual(
      entries.filter((entry) => /listening/i.test(entry.msg)).map((entry) => entry.msg),
      ['listening'],
    );

    const bad = await runToEnd(['serve'], { DATA_DIR: dir, LOG_FORMAT: 'xml' });
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /LOG_FORMAT must be one of auto, json, pretty; got "xml"/);
  });

  it('of the supervisor are one readable line a start, crash and restart on a terminal', async (t) => {
    const dir = await tempDir(t);
    const port = await freePort();
    const supervisor = runStateful(['supervise'], {
      DATA_DIR: dir,
      PORT: String(port),
      LOG_FORMAT: 'pretty',
    });
    t.after(() => supervisor.kill('SIGKILL'));
    const waitFor = async (pattern: RegExp, count: number) => {
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
        if ((supervisor.stdout.match(pattern) ?? []).length >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.fail(`no ${count} × ${pattern} in:\n${supervisor.stdout}`);
    };
    await waitFor(/: listening \{/g, 1);
    await fetch(`http://127.0.0.1:${port}/crash`, { method: 'POST' }).catch(() => undefined);
    await waitFor(/: listening \{/g, 2);
    supervisor.kill('SIGTERM');
    await supervisor.exited;
    const lines = supervisor.stdout.trim().split('\n');
    const line = /^\[\d\d:\d\d:\d\d\] [A-Z]+ \(\d+\): /;
    assert.ok(
      lines.every((entry) => line.test(entry)),
      supervisor.stdout,
    );
    const said = (text: string) => lines.filter((entry) => entry.includes(text)).length;
    assert.equal(said('supervisor started the service'), 2, 'a line a start');
    assert.equal(said('crash requested'), 1, 'a line for the crash');
    assert.equal(said('restarting it'), 1, 'a line for the restart');
    assert.equal(said('listening'), 2);
  });
});
