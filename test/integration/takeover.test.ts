import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type LogLine, runStateful, runToEnd, spawnService } from '../../tools/service-process.js';
import { field, request } from '../helpers/http.js';
import {
  ORIGINAL_SESSIONS,
  ORIGINAL_STATS,
  writeOriginalDataDir,
} from '../helpers/original-data-dir.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('taking over and recovering a data directory', () => {
  it("takes over the original's directory as a start, not a crash, and keeps counting", async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));

    const state = field(await request(`${service.url}/state`));
    assert.equal(state.startup_count, ORIGINAL_STATS.startup_count + 1);
    assert.equal(state.crash_count, ORIGINAL_STATS.crash_count, 'no marker: not a crash');
    assert.equal(state.total_sessions, ORIGINAL_STATS.total_sessions);
    assert.equal(state.live_sessions, 2);

    const list = field(await request(`${service.url}/sessions`));
    assert.deepEqual(
      list.sessions.map((session: { name: string }) => session.name),
      ['alice', 'bob'],
    );
    const alice = field(await request(`${service.url}/sessions/${ORIGINAL_SESSIONS[1]?.id}`));
    assert.deepEqual(alice.data, { note: 'first séssion' });
    assert.equal(alice.access_count, 2);

    const events = field(await request(`${service.url}/events`));
    assert.equal(events.count, 6);
    assert.equal(events.events[0].event, 'startup');
    assert.equal(events.events[0].container, 'a9f09b61');
    assert.equal(events.events.at(-1).event, 'startup');
    assert.ok(!events.events.some((event: { event: string }) => event.event === 'crash_detected'));
    assert.ok(!(await readdir(dir)).includes('stats.json.tmp'), 'stale temp file removed');
  });

  it('drops a torn last event line at boot: /events works and the repair is logged', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    first.process.kill('SIGKILL');
    await first.process.exited;
    await writeFile(join(dir, 'events.jsonl'), '{"ts": 1771668000.5, "time": "2026-0', {
      flag: 'a',
    });

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const answer = await request(`${second.url}/events?limit=10`);
    assert.equal(answer.status, 200);
    const kinds = field(answer).events.map((event: { event: string }) => event.event);
    assert.deepEqual(kinds, ['startup', 'log_repaired', 'crash_detected', 'startup']);
    for (const line of (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n')) {
      JSON.parse(line);
    }
    // A torn last line is an interrupted append: dropped, nothing left for review.
    assert.deepEqual(await readdir(join(dir, 'quarantine')).catch(() => []), []);
    const repaired = field(answer).events.find(
      (event: { event: string }) => event.event === 'log_repaired',
    );
    assert.equal(repaired.bytes_removed, 36);
    assert.equal(repaired.saved_as, null);
  });

  it('moves an unreadable session file aside; GET /sessions keeps working', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const broken = '11111111-2222-4333-8444-555555555555';
    await writeFile(join(dir, 'sessions', `${broken}.json`), '{"id": "1111');
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const answer = await request(`${service.url}/sessions`);
    assert.equal(answer.status, 200);
    assert.equal(field(answer).count, 2);
    const quarantined = await readdir(join(dir, 'quarantine'));
    assert.equal(quarantined.length, 1);
    assert.match(quarantined[0] ?? '', new RegExp(broken));
    const events = field(await request(`${service.url}/events?limit=2`)).events;
    assert.equal(events[0].event, 'session_quarantined');
    assert.equal(events[0].file, `sessions/${broken}.json`);
  });

  it('survives kills while it takes a big directory over: reading the files, then writing the snapshot', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const extra = 60_000; // enough files for each phase to last while the kill lands
    const created = '2026-02-21T10:00:00Z';
    for (let start = 0; start < extra; start += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) => {
          const n = start + i;
          const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
          const session = {
            id,
            name: `s${n}`,
            data: { n },
            created_at: created,
            last_active: created,
            access_count: 0,
          };
          return writeFile(join(dir, 'sessions', `${id}.json`), JSON.stringify(session, null, 2));
        }),
      );
    }
    // Killed while it reads the files (its progress line says so, once a
    // second), then while it writes the snapshot.
    for (const phase of [
      (line: LogLine) =>
        line.msg === 'starting' &&
        line.phase === 'taking over the directory: reading session files',
      (line: LogLine) => line.msg === 'taking over the directory: writing snapshot.jsonl',
    ]) {
      const boot = runStateful(['serve'], { DATA_DIR: dir, PORT: '0', STARTUP_PROGRESS_MS: '100' });
      t.after(() => boot.kill('SIGKILL'));
      await boot.next(phase, 120_000);
      boot.kill('SIGKILL');
      await boot.exited;
    }
    const service = await spawnService(dir, {}, { bootTimeoutMs: 120_000 });
    t.after(() => service.process.kill('SIGKILL'));
    const state = field(await request(`${service.url}/state`));
    assert.equal(state.live_sessions, extra + ORIGINAL_SESSIONS.length, 'every session, once');
    assert.equal(
      state.startup_count,
      ORIGINAL_STATS.startup_count + 1,
      'the killed boots never started',
    );
    assert.equal(state.crash_count, ORIGINAL_STATS.crash_count);
    const last = field(
      await request(
        `${service.url}/sessions/00000000-0000-4000-8000-${String(extra - 1).padStart(12, '0')}`,
      ),
    );
    assert.deepEqual(last.data, { n: extra - 1 });
    const verify = await runToEnd(['inspect', '--verify', '--data-dir', dir], {});
    assert.equal(verify.code, 0, verify.stdout);
  });
});
