import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson } from '../helpers/http.js';
import { writeOriginalDataDir } from '../helpers/original-data-dir.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Runs `stateful` to completion for output too large to go through the log-line reader. */
function runLarge(
  args: string[],
  env: Record<string, string>,
): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the offline inspector', () => {
  it("reads a stopped service's directory: the spec's three sections", async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
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

  it('reports sessions expired and not yet swept apart from problems, and expired_sessions with the counters', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    // One swept while the service runs (counted in expired_sessions)…
    await postJson(`${service.url}/sessions`, { name: 'swept', ttl_seconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // …and one that expires after the service stopped, before any sweep could see it.
    const late = field(await postJson(`${service.url}/sessions`, { name: 'late', ttl_seconds: 1 }));
    const idle = field(
      await postJson(`${service.url}/sessions`, { name: 'idle', idle_seconds: 1 }),
    );
    const kept = field(await postJson(`${service.url}/sessions`, { name: 'kept' }));
    service.process.kill('SIGTERM');
    await service.process.exited;
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const run = await runToEnd(['inspect', '--data-dir', dir], {});
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, / {2}expired_sessions {13}1\n/);
    assert.match(run.stdout, / {2}Total: 3\n/, 'still on disk, so still listed');
    assert.match(run.stdout, /─{62}\n {2}EXPIRED, NOT YET SWEPT {2}\(2\)\n─{62}\n/);
    assert.match(
      run.stdout,
      new RegExp(`  ${late.id}  late {18}expired ${late.expires_at} \\(lifetime\\)\n`),
    );
    assert.match(
      run.stdout,
      new RegExp(`  ${idle.id}  idle {18}expired ${idle.expires_at} \\(idle\\)\n`),
    );
    assert.doesNotMatch(run.stdout, new RegExp(`${kept.id}  kept +expired`));
    assert.doesNotMatch(run.stdout, /PROBLEMS/, 'not damage');

    const json = await runToEnd(['inspect', '--data-dir', dir, '--json'], {});
    const report = JSON.parse(json.stdout);
    assert.equal(report.stats.expired_sessions, 1);
    assert.deepEqual(report.expired, {
      count: 2,
      sessions: [
        { id: late.id, name: 'late', expires_at: late.expires_at, reason: 'lifetime' },
        { id: idle.id, name: 'idle', expires_at: idle.expires_at, reason: 'idle' },
      ],
    });
    assert.deepEqual(report.problems, []);
    // The next start's sweep removes both, each with its event, and counts them.
    const again = await spawnService(dir);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    again.process.kill('SIGTERM');
    await again.process.exited;
    const after = JSON.parse((await runToEnd(['inspect', '--data-dir', dir, '--json'], {})).stdout);
    assert.equal(after.expired.count, 0);
    assert.equal(after.stats.expired_sessions, 3);
    assert.equal(after.sessionCount, 1);
  });

  it('shows the first and last sessions of a large store, every one when asked', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    const names: string[] = [];
    for (let i = 0; i < 25; i++) {
      names.push(`s${i}`);
      await postJson(`${service.url}/sessions`, { name: `s${i}` });
    }
    service.process.kill('SIGTERM');
    await service.process.exited;
    const listed = (out: string) =>
      [...out.matchAll(/^ {2}[0-9a-f-]{36} {2}(s\d+)/gm)].map((m) => m[1]);

    const text = await runToEnd(['inspect', '--data-dir', dir], {});
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(listed(text.stdout), [...names.slice(0, 10), ...names.slice(15)]);
    assert.match(text.stdout, /… 5 more \(--sessions all shows every one/);
    assert.match(text.stdout, / {2}Total: 25\n/);
    const all = await runToEnd(['inspect', '--data-dir', dir, '--sessions', 'all'], {});
    assert.deepEqual(listed(all.stdout), names);
    assert.doesNotMatch(all.stdout, /more \(--sessions/);

    const json = JSON.parse((await runToEnd(['inspect', '--data-dir', dir, '--json'], {})).stdout);
    assert.equal(json.sessions.length, 25, '--json has every session unless asked');
    const few = await runToEnd(['inspect', '--data-dir', dir, '--json', '--sessions', '2'], {});
    const report = JSON.parse(few.stdout);
    assert.deepEqual(
      report.sessions.map((session: { name: string }) => session.name),
      ['s0', 's1', 's23', 's24'],
    );
    assert.equal(report.sessionsOmitted, 21);
    const bad = await runToEnd(['inspect', '--data-dir', dir, '--sessions', 'lots'], {});
    assert.equal(bad.code, 2);
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
    const service = await spawnService(dir);
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

describe('the offline inspector in a small heap', () => {
  const HEAVY = 20;
  it('reads, verifies and repairs a directory whose sessions would take many times the heap', async (t) => {
    // Twenty sessions of 349,000 empty objects each, as the original accepted
    // them: about 24 MB of heap apiece parsed, 480 MB together, against a
    // 192 MB heap. Reading one at a time needs 48-64 MB here on a quiet
    // machine; V8 keeps what is allocated while it marks, so a loaded one
    // needs more (128 MB once ran out). The text report shows the first ten
    // and keeps the last ten in its ring, rendered: kept parsed, they would
    // take 240 MB.
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sessions'));
    const items = Array.from({ length: 349_000 }, () => ({}));
    const events: string[] = [];
    for (let i = 0; i < HEAVY; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const session = {
        id,
        name: `heavy${i}`,
        data: { a: items },
        created_at: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`,
        last_active: '2026-01-01T00:01:00Z',
        access_count: i,
      };
      await writeFile(join(dir, 'sessions', `${id}.json`), JSON.stringify(session, null, 2));
      events.push(
        JSON.stringify({
          ts: 1_767_225_600 + i,
          time: session.created_at,
          event: 'session_created',
          container: 'a0c008bf',
          session_id: id,
          name: session.name,
        }),
      );
    }
    await writeFile(join(dir, 'events.jsonl'), `${events.join('\n')}\n{"ts": 17`);
    await writeFile(
      join(dir, 'stats.json'),
      JSON.stringify({
        startup_count: 1,
        crash_count: 0,
        total_sessions: HEAVY,
        total_requests: 40,
      }),
    );
    const env = { NODE_OPTIONS: '--max-old-space-size=192' };

    const text = runLarge(['inspect', '--data-dir', dir], env);
    assert.equal(text.code, 0, text.stderr.slice(0, 2000));
    assert.match(text.stdout, new RegExp(` {2}Total: ${HEAVY}\n`));
    const order = [...text.stdout.matchAll(/ {2}\S+ {2}(heavy\d+) /g)].map((match) => match[1]);
    assert.deepEqual(
      order,
      Array.from({ length: HEAVY }, (_, i) => `heavy${i}`),
      'creation order',
    );

    const json = runLarge(['inspect', '--data-dir', dir, '--json'], env);
    assert.equal(json.code, 0, json.stderr.slice(0, 2000));
    assert.equal(json.stdout.match(/^ {4}\{\n {6}"id": "/gm)?.length, HEAVY);
    assert.match(json.stdout, new RegExp(`"sessionCount": ${HEAVY},`));
    assert.match(json.stdout, /\n {4}\}\n {2}\]\n\}\n$/);

    const verify = runLarge(['inspect', '--data-dir', dir, '--verify'], env);
    assert.equal(verify.code, 1, 'the torn last event line is a finding');
    assert.match(verify.stdout, new RegExp(`${HEAVY} session files, ${HEAVY} event lines`));
    assert.match(verify.stdout, /torn last line/);
    const repair = runLarge(['inspect', '--data-dir', dir, '--repair'], env);
    assert.equal(repair.code, 0, repair.stdout + repair.stderr.slice(0, 2000));
    assert.match(repair.stderr, /dropped a torn last line/);
    assert.match(repair.stdout, /clean/);
    assert.equal((await readdir(join(dir, 'sessions'))).length, HEAVY, 'every session kept');
  });
});

describeOnPostgres('the offline inspector on a PostgreSQL store', (server) => {
  it('reports sessions expired and not yet swept, and expired_sessions with the counters', async (t) => {
    const url = await server().createDatabase();
    const replica = await spawnService(await tempDir(t), { STORE: 'postgres', DATABASE_URL: url });
    await postJson(`${replica.url}/sessions`, { name: 'swept', ttl_seconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const late = field(await postJson(`${replica.url}/sessions`, { name: 'late', ttl_seconds: 1 }));
    await postJson(`${replica.url}/sessions`, { name: 'kept' });
    replica.process.kill('SIGTERM');
    await replica.process.exited;
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const json = await runToEnd(['inspect', '--database-url', url, '--json'], {});
    assert.equal(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assert.equal(report.stats.expired_sessions, 1);
    assert.equal(report.sessionCount, 2);
    assert.deepEqual(report.expired, {
      count: 1,
      sessions: [{ id: late.id, name: 'late', expires_at: late.expires_at, reason: 'lifetime' }],
    });
    const text = await runToEnd(['inspect', '--database-url', url], {});
    assert.match(text.stdout, / {2}expired_sessions {13}1\n/);
    assert.match(text.stdout, /EXPIRED, NOT YET SWEPT {2}\(1\)/);
    assert.match(text.stdout, new RegExp(`  ${late.id}  late +expired ${late.expires_at}`));
  });
});
