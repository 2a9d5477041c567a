/**
 * The data directory is shared ground: what others put in it (a symlink to
 * a file outside, a FIFO, a link to /dev/zero, a 180 MB file, bytes that are
 * not UTF-8) is never followed, never hangs the service or the inspector,
 * never runs either out of memory, and is moved to quarantine/, never
 * deleted. A symlinked folder refuses a start and a repair. The real built
 * service and inspector, as child processes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { ORIGINAL_SESSIONS, writeOriginalDataDir } from '../helpers/original-data-dir.js';
import { tempDir } from '../helpers/temp-dir.js';

const OUTSIDE_BYTES = 'the outside file: nobody may write here\n';
const ID_A = 'a0000000-0000-4000-8000-00000000000a';
const ID_B = 'b0000000-0000-4000-8000-00000000000b';
const ID_C = 'c0000000-0000-4000-8000-00000000000c';
const ID_D = 'd0000000-0000-4000-8000-00000000000d';

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

/** Polls `check` until it is true, for up to `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function fileHas(path: string, text: string): Promise<boolean> {
  try {
    return (await readFile(path, 'utf8')).includes(text);
  } catch {
    return false;
  }
}

function eventsOf(dir: string, kind: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(`"event":"${kind}"`))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every name under `dir` with its bytes (or link target), to compare before and after. */
function contentsOf(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .sort()
    .map((name) => {
      const path = join(dir, name);
      const stats = lstatSync(path);
      if (stats.isDirectory()) return `${name}/`;
      return `${name}: ${readFileSync(path, 'utf8')}`;
    });
}

describe('links and special files in the data directory', () => {
  it('never writes through session, temp or spare names that became symlinks while it runs', async (t) => {
    const dir = await tempDir(t);
    const outsideDir = await tempDir(t);
    const outside = join(outsideDir, 'precious.json');
    await writeFile(outside, OUTSIDE_BYTES);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) {
      ids.push(String(field(await postJson(`${service.url}/sessions`, { name })).id));
    }
    const [linked, tempLinked, other] = ids as [string, string, string];
    const file = (id: string) => join(dir, 'sessions', `${id}.json`);
    await eventually(() => fileHas(file(other), '"c"'));
    // Updates keep spares in spare/; plant a link at one of their names too.
    for (let round = 1; round <= 2; round++) {
      await postJson(`${service.url}/sessions/${other}`, { name: `c${round}`, data: {} }, 'PUT');
      await eventually(() => fileHas(file(other), `"c${round}"`));
    }
    const spares = await readdir(join(dir, 'spare'));
    assert.ok(spares.length > 0, 'the checkpoints kept spares');
    for (const spare of spares) {
      await rename(join(dir, 'spare', spare), join(outsideDir, `was-${spare}`));
      symlinkSync(outside, join(dir, 'spare', spare));
    }
    // The session file itself, and a temp file name, replaced by links outside.
    await rename(file(linked), join(outsideDir, 'moved.json'));
    symlinkSync(outside, file(linked));
    symlinkSync(outside, `${file(tempLinked)}.tmp`);

    for (let round = 1; round <= 3; round++) {
      for (const id of ids) {
        const answer = await postJson(
          `${service.url}/sessions/${id}`,
          { name: `round ${round}`, data: { round } },
          'PUT',
        );
        assert.equal(answer.status, 200);
      }
      // Each round is checkpointed before the next (spares become writable after 250 ms).
      await eventually(() => fileHas(file(linked), `"round ${round}"`));
      await eventually(() => fileHas(file(tempLinked), `"round ${round}"`));
    }
    await service.process.stop('SIGTERM');

    assert.equal(await readFile(outside, 'utf8'), OUTSIDE_BYTES);
    assert.ok(lstatSync(file(linked)).isFile(), 'the session has its own file again');
    assert.match(await readFile(file(linked), 'utf8'), /"round 3"/);
    const quarantined = await readdir(join(dir, 'quarantine'));
    const links = quarantined.filter((name) =>
      lstatSync(join(dir, 'quarantine', name)).isSymbolicLink(),
    );
    assert.ok(
      links.some((name) => name.endsWith(`-session-${linked}.json`)),
      String(quarantined),
    );
    assert.ok(links.some((name) => name.endsWith(`-session-${tempLinked}.json.tmp`)));
    assert.ok(
      links.some((name) => name.includes('-spare-')),
      'the clean stop set spares aside',
    );
    const logged = eventsOf(dir, 'session_quarantined');
    assert.ok(
      logged.some(
        (event) =>
          event.file === `sessions/${linked}.json` &&
          String(event.problem).includes('symbolic link'),
      ),
      JSON.stringify(logged),
    );
  });

  it('quarantines session files that are a link to /dev/zero, a FIFO, 180 MB or not UTF-8, and starts', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const sessions = join(dir, 'sessions');
    symlinkSync('/dev/zero', join(sessions, `${ID_A}.json`));
    mkfifo(join(sessions, `${ID_B}.json`));
    await writeFile(join(sessions, `${ID_C}.json`), '');
    await truncate(join(sessions, `${ID_C}.json`), 180 * 1024 * 1024); // sparse: no disk used
    await writeFile(join(sessions, `${ID_D}.json`), Buffer.from('{"name": "caf\xe9"}', 'latin1'));

    const service = await spawnService(dir, { NODE_OPTIONS: '--max-old-space-size=128' });
    t.after(() => service.process.kill('SIGKILL'));
    const listing = field(await request(`${service.url}/sessions`));
    assert.equal(listing.sessions.length, ORIGINAL_SESSIONS.length);
    await service.process.stop('SIGTERM');

    const warned = service.process.lines.filter(
      (line) => line.msg === 'quarantined an unreadable session',
    );
    const problems = new Map(warned.map((line) => [String(line.file), String(line.problem)]));
    assert.match(problems.get(`sessions/${ID_A}.json`) ?? '', /symbolic link/);
    assert.match(problems.get(`sessions/${ID_B}.json`) ?? '', /FIFO/);
    assert.match(problems.get(`sessions/${ID_C}.json`) ?? '', /188743680 bytes/);
    assert.match(problems.get(`sessions/${ID_D}.json`) ?? '', /not UTF-8/);
    for (const id of [ID_A, ID_B, ID_C, ID_D]) {
      assert.ok(!readdirSync(sessions).includes(`${id}.json`), `${id} left sessions/`);
    }
    const quarantined = await readdir(join(dir, 'quarantine'));
    assert.equal(quarantined.filter((name) => name.includes('-session-')).length, 4);
    assert.equal(eventsOf(dir, 'session_quarantined').length, 4);
  });

  it('has inspect and --verify report a FIFO session file and a FIFO events.jsonl, without hanging', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    mkfifo(join(dir, 'sessions', `${ID_A}.json`));
    const verifyFile = await runToEnd(['inspect', '--data-dir', dir, '--verify'], {});
    assert.equal(verifyFile.code, 1);
    assert.match(verifyFile.stdout, new RegExp(`sessions/${ID_A}.json: is a FIFO`));
    const inspectFile = await runToEnd(['inspect', '--data-dir', dir, '--json'], {});
    assert.equal(inspectFile.code, 0, inspectFile.stderr);
    assert.ok(
      (JSON.parse(inspectFile.stdout).problems as string[]).some((problem) =>
        problem.includes('is a FIFO'),
      ),
    );

    await rename(join(dir, 'events.jsonl'), join(dir, 'events.jsonl.saved'));
    mkfifo(join(dir, 'events.jsonl'));
    const verifyLog = await runToEnd(['inspect', '--data-dir', dir, '--verify', '--json'], {});
    assert.equal(verifyLog.code, 1);
    const findings = JSON.parse(verifyLog.stdout).findings as { problem: string }[];
    assert.ok(findings.some((finding) => /^events\.jsonl is a FIFO/.test(finding.problem)));
    const inspectLog = await runToEnd(['inspect', '--data-dir', dir], {});
    assert.equal(inspectLog.code, 0, inspectLog.stderr);
    assert.match(inspectLog.stdout, /events\.jsonl is a FIFO/);
    const repair = await runToEnd(['inspect', '--data-dir', dir, '--repair'], {});
    assert.equal(repair.code, 1);
    assert.match(repair.stderr, /events\.jsonl is a FIFO/);
    const start = await runToEnd(['serve'], { DATA_DIR: dir, PORT: '0' });
    assert.equal(start.code, 5, start.stderr);
    assert.match(start.stderr, /events\.jsonl is a FIFO/);
  });

  it('refuses to start on a symlinked sessions/, and --repair touches nothing in the folder it points to', async (t) => {
    const dir = await tempDir(t);
    const elsewhere = await tempDir(t);
    await writeOriginalDataDir(dir);
    await rename(join(dir, 'sessions'), join(elsewhere, 'sessions'));
    const target = join(elsewhere, 'sessions');
    // What a repair would remove or quarantine, were it to follow the link.
    await writeFile(join(target, `${ID_A}.json.tmp`), 'a stale temp file');
    await writeFile(join(target, `${ID_B}.json`), 'not json');
    await writeFile(join(target, 'notes.txt'), 'someone else’s notes');
    symlinkSync(target, join(dir, 'sessions'));
    const before = contentsOf(elsewhere);

    const start = await runToEnd(['serve'], { DATA_DIR: dir, PORT: '0' });
    assert.equal(start.code, 5);
    assert.match(
      start.stderr,
      new RegExp(
        `${join(dir, 'sessions')} is a symbolic link \\(never followed\\): replace the link`,
      ),
    );
    const fatal = start.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level?: number; msg?: string })
      .find((line) => line.level === 60);
    assert.match(fatal?.msg ?? '', /Refusing to use the data directory/);

    const repair = await runToEnd(['inspect', '--data-dir', dir, '--repair'], {});
    assert.equal(repair.code, 1);
    assert.match(repair.stderr, /sessions is a symbolic link/);
    const verify = await runToEnd(['inspect', '--data-dir', dir, '--verify'], {});
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /sessions\/ is a symbolic link \(never followed\)/);
    assert.deepEqual(contentsOf(elsewhere), before);
    assert.ok(lstatSync(join(dir, 'sessions')).isSymbolicLink());
    await assert.rejects(readdir(join(dir, 'quarantine')), { code: 'ENOENT' });
  });

  it('never follows stats.json or a journal segment that is a symlink', async (t) => {
    const dir = await tempDir(t);
    const outsideDir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const outside = join(outsideDir, 'stats.json');
    await writeFile(outside, OUTSIDE_BYTES);
    await rename(join(dir, 'stats.json'), join(outsideDir, 'original-stats.json'));
    symlinkSync(outside, join(dir, 'stats.json'));
    const start = await runToEnd(['serve'], { DATA_DIR: dir, PORT: '0' });
    assert.equal(start.code, 5);
    assert.match(start.stderr, /stats\.json is a symbolic link/);
    assert.equal(await readFile(outside, 'utf8'), OUTSIDE_BYTES);

    await rename(join(outsideDir, 'original-stats.json'), join(dir, 'stats.json.moved'));
    await rename(join(dir, 'stats.json'), join(outsideDir, 'link'));
    await rename(join(dir, 'stats.json.moved'), join(dir, 'stats.json'));
    await mkdir(join(dir, 'journal'));
    symlinkSync(outside, join(dir, 'journal', '0000000001.jsonl'));
    const again = await runToEnd(['serve'], { DATA_DIR: dir, PORT: '0' });
    assert.equal(again.code, 5);
    assert.match(again.stderr, /journal\/0000000001\.jsonl is a symbolic link/);
    const verify = await runToEnd(['inspect', '--data-dir', dir, '--verify'], {});
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /journal\/0000000001\.jsonl is a symbolic link/);
    assert.equal(await readFile(outside, 'utf8'), OUTSIDE_BYTES);
  });
});
