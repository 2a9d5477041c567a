import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runStateful, runToEnd } from '../../tools/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the logs', () => {
  it('are JSON lines off a terminal, one readable line an entry with LOG_FORMAT=pretty (a terminal by default)', async (t) => {
    const dir = await tempDir(t);
    const service = runStateful(['serve'], { DATA_DIR: dir, PORT: '0', LOG_FORMAT: 'pretty' });
    t.after(() => service.kill('SIGKILL'));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if (/: listening\n/.test(service.stdout)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const lines = service.stdout.trim().split('\n');
    const listening = lines.find((line) => line.endsWith(': listening')) ?? '';
    assert.match(listening, /^\[\d\d:\d\d:\d\d\] INFO \(\d+\): listening$/, service.stdout);
    assert.ok(
      lines.every((line) => !line.startsWith('{"level"')),
      'no JSON line among them',
    );
    service.kill('SIGTERM');
    assert.equal((await service.exited).code, 0);

    const bad = await runToEnd(['serve'], { DATA_DIR: dir, LOG_FORMAT: 'xml' });
    assert.equal(bad.code, 78);
    assert.match(bad.stderr, /LOG_FORMAT must be one of auto, json, pretty; got "xml"/);
  });
});
