/**
 * Sessions that expire, over real HTTP against the real process: both kinds
 * (a lifetime, an idle timeout moved by writes), the server's defaults, bad
 * input, the sweep's event and files, expiry across a SIGKILL, and the
 * original's reader on a directory holding an expiring session. Times are
 * whole seconds, so the waits have a second or two of margin.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { SESSION_KEYS as ORIGINAL_KEYS } from '../helpers/session-keys.js';
import { tempDir } from '../helpers/temp-dir.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks `check` every 100 ms until it holds, for at most `ms`; what it last returned. */
async function within<T>(
  ms: number,
  check: () => Promise<T | undefined>,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(100);
  }
}

/** The session_expired event of `id` in the last events, if it is there. */
async function expiredEventOf(url: string, id: string) {
  const { events } = field(await request(`${url}/events?limit=200`));
  return (events as Record<string, unknown>[]).find(
    (event) => event.event === 'session_expired' && event.session_id === id,
  );
}

describe('sessions that expire, over HTTP', () => {
  it('ends a lifetime whatever happens, and moves an idle timeout with each write', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = service.url;
    const brief = field(await postJson(`${url}/sessions`, { name: 'brief', ttl_seconds: 2 }));
    const idle = field(await postJson(`${url}/sessions`, { name: 'idle', idle_seconds: 2 }));
    const keeps = field(await postJson(`${url}/sessions`, { name: 'keeps' }));
    assert.deepEqual(Object.keys(keeps), ORIGINAL_KEYS, "the original's keys, no more");
    assert.equal(brief.ends_at, brief.expires_at);
    assert.equal(brief.idle_seconds, null);
    assert.equal(idle.ends_at, null);
    assert.equal(idle.idle_seconds, 2);
    assert.equal((await request(`${url}/sessions/${brief.id}`)).status, 200);
    // Written every half second, the idle one outlives the lifetime of the other.
    const started = Date.now();
    while (Date.now() - started < 3500) {
      const put = await postJson(`${url}/sessions/${idle.id}`, { data: { at: Date.now() } }, 'PUT');
      assert.equal(put.status, 200, 'the idle session, written in time, is alive');
      await sleep(500);
    }
    assert.equal((await request(`${url}/sessions/${brief.id}`)).status, 404);
    const put = await postJson(`${url}/sessions/${brief.id}`, { name: 'back' }, 'PUT');
    assert.equal(put.status, 404, 'a write to an expired session does not bring it back');
    const lifetime = await within(3000, () => expiredEventOf(url, brief.id), 'session_expired');
    assert.deepEqual(
      [lifetime.name, lifetime.reason, lifetime.expired_at],
      ['brief', 'lifetime', brief.expires_at],
    );
    // Left alone, the idle one goes too.
    const why = await within(5000, () => expiredEventOf(url, idle.id), 'the idle one expires');
    assert.equal(why.reason, 'idle');
    const state = field(await request(`${url}/state`));
    assert.equal(state.live_sessions, 1);
    const list = field(await request(`${url}/sessions`));
    assert.deepEqual(
      list.sessions.map((session: { id: string }) => session.id),
      [keeps.id],
    );
    // The swept session's file goes with it (written behind within seconds).
    await within(
      8000,
      () =>
        access(join(dir, 'sessions', `${brief.id}.json`)).then(
          () => undefined,
          () => true,
        ),
      "the expired session's file removed",
    );
  });

  it('gives a create the server defaults, which null in the request refuses', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, { SESSION_TTL: '1h', SESSION_IDLE_TIMEOUT: '15m' });
    t.after(() => service.process.kill('SIGKILL'));
    const made = field(await postJson(`${service.url}/sessions`, { name: 'defaulted' }));
    const created = Date.parse(made.created_at);
    assert.equal(Date.parse(made.ends_at), created + 3600_000);
    assert.equal(made.idle_seconds, 900);
    assert.equal(Date.parse(made.expires_at), created + 900_000);
    const never = field(
      await postJson(`${service.url}/sessions`, { ttl_seconds: null, idle_seconds: null }),
    );
    assert.equal(never.expires_at, undefined);
    // A PUT that names neither keeps the lifetime and counts the idle time again.
    const put = field(await postJson(`${service.url}/sessions/${made.id}`, {}, 'PUT'));
    assert.equal(put.ends_at, made.ends_at);
  });

  it('refuses a lifetime or idle timeout that is not a whole number of seconds in range', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    for (const [key, value] of [
      ['ttl_seconds', 0],
      ['ttl_seconds', -5],
      ['ttl_seconds', 1.5],
      ['ttl_seconds', '1h'],
      ['idle_seconds', 10 ** 12],
      ['idle_seconds', true],
    ] as const) {
      const answer = await postJson(`${service.url}/sessions`, { [key]: value });
      assert.equal(answer.status, 400, `${key}: ${JSON.stringify(value)}`);
      assert.match(field(answer).message, new RegExp(`"${key}" must be a whole number of seconds`));
    }
    assert.equal(field(await request(`${service.url}/state`)).live_sessions, 0);
  });

  it('expires at the next start a session whose time came while the service was killed', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    const brief = field(await postJson(`${first.url}/sessions`, { name: 'brief', ttl_seconds: 2 }));
    const kept = field(await postJson(`${first.url}/sessions`, { name: 'kept', ttl_seconds: 600 }));
    first.process.kill('SIGKILL');
    await first.process.exited;
    await sleep(2500);
    const second = await spawnService(dir);
    t.after(() => second.process.kill('SIGKILL'));
    assert.equal((await request(`${second.url}/sessions/${brief.id}`)).status, 404);
    assert.equal(
      field(await request(`${second.url}/sessions/${kept.id}`)).expires_at,
      kept.expires_at,
    );
    assert.equal(field(await request(`${second.url}/state`)).live_sessions, 1);
    const event = await within(3000, () => expiredEventOf(second.url, brief.id), 'swept');
    assert.equal(event.container, second.containerId);
    assert.equal(field(await request(`${second.url}/state`)).expired_sessions, 1);
    // Killed again at once, maybe before stats.json had it: the log recounts it.
    second.process.kill('SIGKILL');
    await second.process.exited;
    const third = await spawnService(dir);
    t.after(() => third.process.kill('SIGKILL'));
    assert.equal(field(await request(`${third.url}/state`)).expired_sessions, 1);
    const metrics = (await request(`${third.url}/metrics`)).text;
    assert.match(metrics, /^stateful_expired_sessions 1$/m);
    // stats.json: the original's four keys, then expired_sessions.
    const stats = await within(
      3000,
      async () => {
        const read = JSON.parse(await readFile(join(dir, 'stats.json'), 'utf8'));
        return read.expired_sessions === 1 ? read : undefined;
      },
      'stats.json has expired_sessions',
    );
    assert.deepEqual(Object.keys(stats), [
      'startup_count',
      'crash_count',
      'total_sessions',
      'total_requests',
      'expired_sessions',
    ]);
  });

  it("leaves a directory the original's reader reads, expiring sessions and their events included", async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    const kept = field(
      await postJson(`${service.url}/sessions`, {
        name: 'kept',
        data: { a: 1 },
        idle_seconds: 600,
      }),
    );
    const brief = field(
      await postJson(`${service.url}/sessions`, { name: 'brief', ttl_seconds: 1 }),
    );
    await within(4000, () => expiredEventOf(service.url, brief.id), 'swept');
    service.process.kill('SIGTERM');
    await service.process.exited;
    // As the original reads: every session file, json.load, a line of events at a time.
    const reader = `
import glob, json, os, sys
root = sys.argv[1]
sessions = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(root, "sessions", "*.json")))]
events = [json.loads(line) for line in open(os.path.join(root, "events.jsonl"))]
print(json.dumps({"sessions": [[s["id"], s["name"], s["access_count"], s["created_at"], s.get("expires_at")] for s in sessions],
                  "events": [e["event"] for e in events if isinstance(e["ts"], float)]}))
`;
    const run = spawnSync('python3', ['-c', reader, dir], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const seen = JSON.parse(run.stdout);
    assert.deepEqual(seen.sessions, [[kept.id, 'kept', 0, kept.created_at, kept.expires_at]]);
    assert.ok(seen.events.includes('session_expired'), seen.events.join(' '));
    const file = JSON.parse(await readFile(join(dir, 'sessions', `${kept.id}.json`), 'utf8'));
    const { seq: _creationOrder, ...stored } = file;
    assert.deepEqual(stored, kept);
  });
});
