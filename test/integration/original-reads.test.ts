/**
 * The directory after a clean stop is one the original implementation can
 * read: its files in its format, complete and current, whatever came just
 * before the stop (here a burst of concurrent creates and updates, which
 * leaves the most to write behind). The reader is Python, reading as the
 * original does (glob, json.load, a line of events.jsonl at a time).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

/** What the original reads at start and what its inspector prints, as JSON. */
const ORIGINAL_READER = `
import glob, json, os, sys
root = sys.argv[1]
sessions = []
for path in sorted(glob.glob(os.path.join(root, "sessions", "*.json"))):
    with open(path) as f:
        s = json.load(f)
    assert set(["id", "name", "data", "created_at", "last_active", "access_count"]) <= set(s), path
    sessions.append({k: s[k] for k in ["id", "name", "data", "access_count"]})
with open(os.path.join(root, "stats.json")) as f:
    stats = json.load(f)
events = []
with open(os.path.join(root, "events.jsonl")) as f:
    for line in f:
        e = json.loads(line)
        assert isinstance(e["ts"], float) and e["event"] and e["container"], line
        events.append(e["event"])
json.dump({"sessions": sessions, "stats": stats, "events": events}, sys.stdout)
`;

interface OriginalView {
  sessions: { id: string; name: string; data: unknown; access_count: number }[];
  stats: { startup_count: number; crash_count: number; total_sessions: number };
  events: string[];
}

function readAsTheOriginal(dir: string): OriginalView {
  const run = spawnSync('python3', ['-c', ORIGINAL_READER, dir], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as OriginalView;
}

describe("the original implementation's view of a directory we wrote", () => {
  it('reads every session as served after a clean stop right after a burst, and no crash is counted', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const created: string[] = [];
    for (let wave = 0; wave < 20; wave++) {
      const ids = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const answer = await postJson(`${first.url}/sessions`, {
            name: `w${wave}-${i}`,
            data: { wave, i },
          });
          return field(answer).id as string;
        }),
      );
      created.push(...ids);
      await Promise.all(
        ids
          .slice(0, 10)
          .map((id) => postJson(`${first.url}/sessions/${id}`, { data: { edited: wave } }, 'PUT')),
      );
      await request(`${first.url}/sessions/${ids[49]}`, 'DELETE');
    }
    const served = field(await request(`${first.url}/sessions`))
      .sessions as OriginalView['sessions'];
    const state = field(await request(`${first.url}/state`));
    first.process.kill('SIGTERM');
    assert.equal((await first.process.exited).code, 0, 'a clean stop');

    const original = readAsTheOriginal(dir);
    const byId = (list: OriginalView['sessions']) =>
      list
        .map(({ id, name, data, access_count }) => ({ id, name, data, access_count }))
        .sort((a, b) => a.id.localeCompare(b.id));
    assert.equal(original.sessions.length, created.length - 20);
    assert.deepEqual(byId(original.sessions), byId(served), 'every file current');
    assert.equal(original.stats.total_sessions, state.total_sessions);
    assert.equal(original.events.filter((kind) => kind === 'session_created').length, 1000);
    assert.equal(original.events.at(-1), 'shutdown');

    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    const after = field(await request(`${second.url}/state`));
    assert.equal(after.crash_count, state.crash_count, 'the stop was clean: no crash counted');
    assert.equal(after.startup_count, state.startup_count + 1);
    assert.equal(after.live_sessions, created.length - 20);
    const marker = JSON.parse(await readFile(join(dir, 'instance.json'), 'utf8'));
    assert.equal(marker.state, 'running');
  });
});
