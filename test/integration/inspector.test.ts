import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { field, postJson } from '../helpers/http.js';
import { writeOriginalDataDir } from '../helpers/original-data-dir.js';
import { runToEnd, startService } from '../helpers/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the offline inspector', () => {
  it("reads a stopped service's directory: the spec's three sections", async (t) => {
    const dir = await tempDir(t);
    const service = await startService(dir);
    const alice = field(await postJson(`${service.url}/sessions`, { name: 'alice' }));
    await postJson(`${service.url}/sessions`, { name: 'bob' });
    service.process.kill('SIGTERM');
    await service.process.exited;

    const run = await runToEnd(['inspect', '--data-dir', dir], {});
    assert.equal(run.code, 0, run.stderr);
    const out = run.stdout;
    for (const title of ['PERSISTENT STATS', 'SESSIONS', 'RECENT EVENTS  (last 10)']) {
      const escaped = title.replace(/[()]/g, '\\$&');
      assert.match(out, new RegExp(`─{62}\\n  ${escaped}\\n─{62}`));
    }
    assert.match(out, / {2}startup_count {16}1\n/);
    assert.match(out, / {2}total_sessions {15}2\n/);
    assert.match(out, new RegExp(`  ${alice.id}  alice {17} {7}0  \\d{4}-`));
    assert.match(out, / {2}Total: 2\n/);
    assert.match(out, /\[[0-9a-f]{8}\] {2}startup {2}\{'startup_count': 1, 'crash_count': 0\}/);
    assert.match(out, / {2}Total events: 4\n/);

    const json = await runToEnd(['inspect', '--data-dir', dir, '--json', '--events', '2'], {});
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout);
    assert.equal(report.stats.total_sessions, 2);
    assert.equal(report.sessions.length, 2);
    assert.deepEqual(
      report.events.map((event: { event: string }) => event.event),
      ['session_created', 'shutdown'],
    );
    assert.deepEqual(report.problems, []);
  });

  it('reports a torn tail and unreadable files without failing or changing them', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    await writeFile(join(dir, 'events.jsonl'), '{"ts": 1', { flag: 'a' });
    await writeFile(join(dir, 'sessions', '11111111-2222-4333-8444-555555555555.json'), 'oops');
    const before = await readFile(join(dir, 'events.jsonl'));
    const run = await runToEnd(['inspect', '--data-dir', dir], {});
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Total: 2/);
    assert.match(run.stdout, /PROBLEMS/);
    assert.match(run.stdout, /torn or damaged last line/);
    assert.match(run.stdout, /11111111-2222-4333-8444-555555555555\.json is unreadable/);
    assert.match(run.stdout, /temp files of unfinished writes: stats\.json\.tmp/);
    assert.deepEqual(await readFile(join(dir, 'events.jsonl')), before, 'read-only');
    assert.ok((await readdir(dir)).includes('stats.json.tmp'));
  });

  it('reads a live service directory without disturbing it', async (t) => {
    const dir = await tempDir(t);
    const service = await startService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    await postJson(`${service.url}/sessions`, { name: 'live' });
    const run = await runToEnd(['inspect', '--data-dir', dir, '--json'], {});
    assert.equal(run.code, 0);
    assert.equal(JSON.parse(run.stdout).sessions[0].name, 'live');
    assert.equal((await postJson(`${service.url}/sessions`, { name: 'still' })).status, 201);
  });

  it('fails clearly on a missing or foreign directory', async (t) => {
    const dir = await tempDir(t);
    const missing = await runToEnd(['inspect', '--data-dir', join(dir, 'nope')], {});
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No data directory at/);
    await mkdir(join(dir, 'foreign'));
    await writeFile(join(dir, 'foreign', 'photo.jpg'), 'x');
    const foreign = await runToEnd(['inspect', '--data-dir', join(dir, 'foreign')], {});
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /does not look like a data directory/);
  });
});
