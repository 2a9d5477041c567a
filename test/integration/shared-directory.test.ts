/**
 * The data directory is shared: between two runs of the real service,
 * another program changes it (the original implementation, byte for byte; a
 * person with a shell; a backup unpacked over it), and the next start serves
 * what that program left, with /sessions, /state, /events and the files in
 * agreement.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runToEnd, type StartedService, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { pythonDumps } from '../helpers/original-data-dir.js';
import { OriginalWriter } from '../helpers/original-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Served {
  id: string;
  name: string;
  data: Record<string, unknown>;
  access_count: number;
}

async function sessionsServed(service: StartedService): Promise<Map<string, Served>> {
  const list = field(await request(`${service.url}/sessions`)).sessions as Served[];
  return new Map(list.map((session) => [session.id, session]));
}

async function create(service: StartedService, name: string, data = {}): Promise<Served> {
  const answer = await postJson(`${service.url}/sessions`, { name, data });
  assert.equal(answer.status, 201);
  return field(answer) as Served;
}

/** The sessions the files hold: id -> name. */
async function sessionsOnDisk(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await readdir(join(dir, 'sessions'))) {
    if (!name.endsWith('.json')) continue;
    const session = JSON.parse(await readFile(join(dir, 'sessions', name), 'utf8'));
    files.set(session.id, session.name);
  }
  return files;
}

/** Waits until a checkpoint has written `path` (every five seconds). */
async function fileWritten(path: string): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 100) {
    if (
      await readFile(path).then(
        () => true,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${path} was never written`);
}

async function eventKinds(service: StartedService): Promise<string[]> {
  const events = field(await request(`${service.url}/events?limit=1000`)).events;
  return events.map((event: { event: string }) => event.event);
}

async function verify(dir: string): Promise<{ code: number | null; stdout: string }> {
  return runToEnd(['inspect', '--verify', '--json'], { DATA_DIR: dir });
}

/** What `inspect --verify` finds, but the files in quarantine/ left for a person. */
async function verifyFindings(dir: string): Promise<string[]> {
  const report = JSON.parse((await verify(dir)).stdout);
  return report.findings
    .filter((finding: { forReview?: boolean }) => finding.forReview !== true)
    .map((finding: { problem: string }) => finding.problem);
}

describe('a data directory another program changed while the service was stopped', () => {
  it("keeps every change the original made between two clean runs, and the original's bytes", async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    const alice = await create(first, 'alice', { note: 'first' });
    const bob = await create(first, 'bob');
    await first.process.stop();

    const original = new OriginalWriter(dir);
    await original.startup();
    const carol = await original.create('carol', { note: 'café' });
    await original.update(alice.id, { data: { note: 'edited by the original' } });
    await original.delete(bob.id);
    const carolBytes = await readFile(join(dir, 'sessions', `${carol.id}.json`), 'utf8');
    // `inspect` shows what the start will serve.
    const inspected = JSON.parse((await runToEnd(['inspect', '--json'], { DATA_DIR: dir })).stdout);
    assert.deepEqual(inspected.sessions.map((session: Served) => session.name).sort(), [
      'alice',
      'carol',
    ]);
    assert.deepEqual(inspected.sessions.find((session: Served) => session.id === alice.id).data, {
      note: 'edited by the original',
    });
    const before = await verifyFindings(dir);
    assert.equal(before.length, 3, before.join('\n'));
    for (const [id, what] of [
      [alice.id, 'differs from what a start serves'],
      [carol.id, 'holds a session a start does not serve'],
      [bob.id, 'is missing, its session served'],
    ]) {
      assert.ok(
        before.some((problem) => problem.includes(`${id}.json ${what}: a start adopts it`)),
        before.join('\n'),
      );
    }

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const served = await sessionsServed(second);
    assert.deepEqual([...served.keys()].sort(), [alice.id, carol.id].sort());
    assert.deepEqual(served.get(alice.id)?.data, { note: 'edited by the original' });
    assert.equal(served.get(alice.id)?.access_count, 1);
    assert.deepEqual(served.get(carol.id)?.data, { note: 'café' });
    assert.equal((await request(`${second.url}/sessions/${bob.id}`)).status, 404);
    const state = field(await request(`${second.url}/state`));
    assert.equal(state.total_sessions, 3);
    assert.equal(state.live_sessions, 2);
    assert.equal(state.startup_count, 3, 'ours, the original, ours again');
    const kinds = await eventKinds(second);
    assert.equal(kinds.filter((kind) => kind === 'session_adopted').length, 3);
    assert.ok(kinds.includes('session_deleted'), "the original's own lines are served");
    // The file of an adopted session stays as the original wrote it.
    assert.equal(await readFile(join(dir, 'sessions', `${carol.id}.json`), 'utf8'), carolBytes);

    await second.process.stop();
    assert.deepEqual(await verifyFindings(dir), []);
    assert.deepEqual(
      await sessionsOnDisk(dir),
      new Map([
        [alice.id, 'alice'],
        [carol.id, 'carol'],
      ]),
    );
    // Adopted once: the next start has the changes from its own journal.
    const third = await spawnService(dir);
    t.after(() => third.process.kill('SIGKILL'));
    assert.deepEqual([...(await sessionsServed(third)).keys()].sort(), [alice.id, carol.id].sort());
    assert.equal((await eventKinds(third)).filter((kind) => kind === 'session_adopted').length, 3);
    assert.equal(field(await request(`${third.url}/state`)).total_sessions, 3);
  });

  it('keeps what the original changed after a kill -9, over the journal it replays', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    const alice = await create(first, 'alice');
    await fileWritten(join(dir, 'sessions', `${alice.id}.json`));
    await postJson(`${first.url}/sessions/${alice.id}`, { name: 'alice-2' }, 'PUT');
    first.process.kill('SIGKILL');
    await first.process.exited;

    // The kill cut an append short: the original appends after the torn line.
    await appendFile(join(dir, 'events.jsonl'), '{"ts": 1796000000.5, "time": "2026-');
    const original = new OriginalWriter(dir);
    await original.startup();
    // The file may still say "alice" (the kill came before a checkpoint wrote
    // the PUT): the original reads what the file says, as it would.
    await original.update(alice.id, { name: 'alice-by-the-original' });
    const dave = await original.create('dave');

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const served = await sessionsServed(second);
    assert.equal(served.get(alice.id)?.name, 'alice-by-the-original');
    assert.equal(served.get(dave.id)?.name, 'dave');
    // Its lines after the torn one are kept in the log; the torn bytes go to quarantine/.
    const events = field(await request(`${second.url}/events?limit=100`)).events;
    assert.ok(
      events.some(
        (event: { event: string; session_id?: string }) =>
          event.event === 'session_created' && event.session_id === dave.id,
      ),
    );
    assert.equal(field(await request(`${second.url}/state`)).total_sessions, 2);
    await second.process.stop();
    assert.equal((await sessionsOnDisk(dir)).get(alice.id), 'alice-by-the-original');
  });

  it('adopts hand edits by rename and delete, a file placed by hand, and quarantines garbage', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    const alice = await create(first, 'alice');
    const bob = await create(first, 'bob');
    await first.process.stop();

    // Edited with a copy renamed over the file, deleted with rm, copied in, garbage.
    const alicePath = join(dir, 'sessions', `${alice.id}.json`);
    const edited = { ...JSON.parse(await readFile(alicePath, 'utf8')), name: 'alice-by-hand' };
    await writeFile(`${alicePath}.new`, JSON.stringify(edited, null, 2));
    await rename(`${alicePath}.new`, alicePath);
    await rm(join(dir, 'sessions', `${bob.id}.json`));
    const erin = {
      id: 'e1e1e1e1-0000-4000-8000-000000000001',
      name: 'erin',
      data: {},
      created_at: '2026-01-01T00:00:00Z',
      last_active: '2026-01-01T00:00:00Z',
      access_count: 0,
    };
    await writeFile(join(dir, 'sessions', `${erin.id}.json`), pythonDumps(erin, 2));
    const garbage = '9a9a9a9a-0000-4000-8000-000000000002';
    await writeFile(join(dir, 'sessions', `${garbage}.json`), 'garbage{');

    const before = await verify(dir);
    assert.notEqual(before.code, 0, 'verify reports the changes before the start');

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const served = await sessionsServed(second);
    assert.deepEqual([...served.keys()].sort(), [alice.id, erin.id].sort());
    assert.equal(served.get(alice.id)?.name, 'alice-by-hand');
    const state = field(await request(`${second.url}/state`));
    assert.equal(state.live_sessions, 2);
    assert.equal(state.total_sessions, 3, 'alice, bob, and erin placed by hand');
    assert.ok((await eventKinds(second)).includes('session_quarantined'));
    const quarantined = await readdir(join(dir, 'quarantine'));
    assert.equal(quarantined.length, 1);
    const savedAs = join(dir, 'quarantine', quarantined[0] as string);
    assert.equal(await readFile(savedAs, 'utf8'), 'garbage{', 'moved, never deleted');
    const health = field(await request(`${second.url}/health`));
    assert.equal(health.status, 'degraded');
    assert.match(health.problems.join('\n'), /moved 1 files it cannot use to quarantine\//);
    // Once a person has taken it away, the problem is gone.
    await rm(savedAs);
    let status = 'degraded';
    for (let tries = 0; tries < 30 && status !== 'ok'; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = field(await request(`${second.url}/health`)).status;
    }
    assert.equal(status, 'ok');
    await second.process.stop();
    assert.deepEqual(await verifyFindings(dir), [], 'nothing but the quarantined file');
  });

  it('adopts a logged change once: a later write, then a kill, is not undone by the file', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    await first.process.stop();
    const carol = await new OriginalWriter(dir).create('carol');

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    assert.equal(field(await request(`${second.url}/sessions/${carol.id}`)).name, 'carol');
    const put = await postJson(`${second.url}/sessions/${carol.id}`, { name: 'carol-2' }, 'PUT');
    assert.equal(put.status, 200);
    second.process.kill('SIGKILL'); // before a checkpoint writes carol's file
    await second.process.exited;

    const third = await spawnService(dir);
    t.after(() => third.process.kill('SIGKILL'));
    assert.equal(field(await request(`${third.url}/sessions/${carol.id}`)).name, 'carol-2');
    await third.process.stop();
    assert.equal(
      JSON.parse(await readFile(join(dir, 'sessions', `${carol.id}.json`), 'utf8')).name,
      'carol-2',
    );
  });

  it('leaves an edit made in place to verify and repair, after which the next start adopts it', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    const alice = await create(first, 'alice');
    const bob = await create(first, 'bob');
    await first.process.stop();
    const path = join(dir, 'sessions', `${alice.id}.json`);
    const edited = { ...JSON.parse(await readFile(path, 'utf8')), name: 'alice-in-place' };
    await writeFile(path, JSON.stringify(edited, null, 2)); // the same inode, written over
    // In the same window the original changes bob: a start adopts what the log names only.
    await new OriginalWriter(dir).update(bob.id, { name: 'bob-2' });

    const found = await verifyFindings(dir);
    assert.equal(found.length, 2, found.join('\n'));
    assert.ok(
      found.some((problem) =>
        problem.includes(`${bob.id}.json differs from what a start serves: a start adopts it`),
      ),
    );
    assert.ok(
      found.some((problem) =>
        problem.includes(
          `${alice.id}.json differs from what a start serves: a start does not see it`,
        ),
      ),
      found.join('\n'),
    );
    const repair = await runToEnd(['inspect', '--repair'], { DATA_DIR: dir });
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(
      repair.stderr + repair.stdout,
      /left sessions\/.*\.json as another program wrote it/,
    );
    assert.equal(
      JSON.parse(await readFile(path, 'utf8')).name,
      'alice-in-place',
      'not written over',
    );

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    assert.equal(field(await request(`${second.url}/sessions/${alice.id}`)).name, 'alice-in-place');
    assert.equal(field(await request(`${second.url}/sessions/${bob.id}`)).name, 'bob-2');
    await second.process.stop();
    assert.deepEqual(await verifyFindings(dir), []);
  });

  it('takes a backup unpacked over the directory as the truth, files and all', async (t) => {
    const dir = await tempDir(t);
    const backup = join(await tempDir(t), 'backup.tar');
    const first = await spawnService(dir);
    t.after(() => first.process.kill('SIGKILL'));
    const alice = await create(first, 'alice');
    const bob = await create(first, 'bob');
    await first.process.stop();
    execFileSync('tar', ['-cf', backup, '-C', dir, '.']);

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const dave = await create(second, 'dave');
    await postJson(`${second.url}/sessions/${alice.id}`, { name: 'alice-2' }, 'PUT');
    assert.equal((await request(`${second.url}/sessions/${bob.id}`, 'DELETE')).status, 200);
    await second.process.stop();
    execFileSync('tar', ['-xf', backup, '-C', dir]);

    const third = await spawnService(dir);
    t.after(() => third.process.kill('SIGKILL'));
    const served = await sessionsServed(third);
    // The backup's alice and bob are back; dave's file, which the backup did not hold, stays.
    assert.equal(served.get(alice.id)?.name, 'alice');
    assert.equal(served.get(bob.id)?.name, 'bob');
    assert.equal(served.get(dave.id)?.name, 'dave');
    assert.equal(served.size, 3);
    await third.process.stop();
    assert.deepEqual(
      await sessionsOnDisk(dir),
      new Map([
        [alice.id, 'alice'],
        [bob.id, 'bob'],
        [dave.id, 'dave'],
      ]),
    );
  });
});
