import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';

/** A 4 MiB tmpfs, when this process may mount one (root); null otherwise. */
async function smallFileSystem(t: TestContext): Promise<string | null> {
  if (process.getuid?.() !== 0) return null;
  const mountPoint = await mkdtemp(join(tmpdir(), 'stateful-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
  } catch {
    await rm(mountPoint, { recursive: true, force: true });
    return null;
  }
  t.after(async () => {
    execFileSync('umount', ['-l', mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  return mountPoint;
}

/** Writes a file until the file system is full. */
async function fill(path: string): Promise<void> {
  const handle = await open(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  try {
    for (;;) await handle.write(chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    await handle.close();
  }
}

describe('a real full disk (a small tmpfs as the data directory)', () => {
  it('answers 507 without harm, keeps serving reads, refuses to boot cleanly, and recovers when space returns', async (t) => {
    const mountPoint = await smallFileSystem(t);
    if (mountPoint === null) {
      t.skip('needs root to mount a tmpfs; the file-system seam tests cover the same faults');
      return;
    }
    const dataDir = join(mountPoint, 'data');
    const filler = join(mountPoint, 'filler');
    // A 4 MiB volume: a free-space floor its size allows (the default is 64 MiB).
    const env = { MIN_FREE_DISK_MB: '1' };
    const first = await spawnService(dataDir, env);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(field(await postJson(`${first.url}/sessions`, { name: `s${i}`, data: { i } })).id);
    }
    await fill(filler);

    const create = await postJson(`${first.url}/sessions`, {
      name: 'no room',
      data: { pad: 'x'.repeat(100_000) },
    });
    assert.equal(create.status, 507);
    assert.equal(field(create).error, 'storage_full');
    const update = await postJson(
      `${first.url}/sessions/${ids[0]}`,
      { data: { pad: 'y'.repeat(100_000) } },
      'PUT',
    );
    assert.equal(update.status, 507);
    const list = await request(`${first.url}/sessions`);
    assert.equal(list.status, 200, 'reads keep working');
    assert.equal(field(list).count, 3);
    const state = field(await request(`${first.url}/state`));
    assert.equal(state.total_sessions, 3, 'a failed create is not counted');
    assert.equal(field(await request(`${first.url}/sessions/${ids[0]}`)).access_count, 0);

    first.process.kill('SIGKILL');
    await first.process.exited;

    // A boot on a full disk cannot record its start: it says so and changes nothing.
    const eventsBefore = await readFile(join(dataDir, 'events.jsonl'), 'utf8');
    const refused = await runToEnd(['serve'], { DATA_DIR: dataDir, PORT: '0', ...env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot start: The data directory is full/);
    assert.equal(await readFile(join(dataDir, 'events.jsonl'), 'utf8'), eventsBefore);

    await rm(filler);
    const second = await spawnService(dataDir, env);
    t.after(() => second.process.kill('SIGKILL'));
    const after = field(await request(`${second.url}/state`));
    assert.equal(after.startup_count, 2, 'the refused boot was no start');
    assert.equal(after.crash_count, 1, 'the SIGKILL is counted once');
    assert.equal(after.live_sessions, 3);
    assert.equal((await postJson(`${second.url}/sessions`, { name: 'room again' })).status, 201);
    const verify = await runToEnd(['inspect', '--verify', '--data-dir', dataDir], {});
    assert.equal(verify.code, 0, verify.stdout);
  });
});
