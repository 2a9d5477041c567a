/**
 * The typed client against the real service: as a program that installed the
 * service's package uses it (`stateful-service/client`, run and type-checked
 * in a project of its own; test/integration/client-package.test.ts does the
 * same for the client's own package), and each of its methods and errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiError, StatefulClient, UnreachableError } from '../../src/client/index.js';
import { freePort, spawnService } from '../../tools/service-process.js';
import { openStream, type StreamMessage } from '../helpers/event-stream.js';
import { tempDir } from '../helpers/temp-dir.js';
import { typeCheck, writeStrictTsconfig } from '../helpers/type-check.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

const EXAMPLE = `
import { ApiError, StatefulClient } from 'stateful-service/client';

const client = new StatefulClient({ url: process.argv[2] });
const alice = await client.createSession({ name: 'alice', data: { plan: 'pro', cart: [1] } });
await client.patchSession(alice.id, { data: { cart: null, seen: true } });
for await (const session of client.sessions({ newest: true })) {
  console.log(session.name, JSON.stringify(session.data), session.access_count);
}
try {
  await client.getSession('no-such-id');
} catch (error) {
  if (error instanceof ApiError) console.log(error.status, error.code);
}
const state = await client.state();
console.log(state.live_sessions, state.total_sessions);
`;

const TYPED_USE = `
import { type Session, StatefulClient } from 'stateful-service/client';

const client = new StatefulClient('http://127.0.0.1:8091');
export async function names(): Promise<string[]> {
  const page = await client.sessionPage({ limit: 10 });
  const first: Session | undefined = page.sessions[0];
  const count: number = (await client.state()).crash_count + (first?.access_count ?? 0);
  // @ts-expect-error: a session id is a string
  await client.getSession(42);
  // @ts-expect-error: an answer has no such key
  page.sessions[0]?.accessCount;
  return page.sessions.map((session) => session.name + String(count));
}
`;

describe('the typed client', () => {
  it("is what a project that installed the service's package imports (stateful-service/client): a program runs and type-checks", async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(join(dir, 'data'));
    t.after(() => service.process.kill('SIGKILL'));
    const project = join(dir, 'consumer');
    await mkdir(join(project, 'node_modules'), { recursive: true });
    await symlink(PROJECT_ROOT, join(project, 'node_modules', 'stateful-service'));
    await writeFile(join(project, 'package.json'), '{"type":"module"}');
    await writeFile(join(project, 'example.mjs'), EXAMPLE);
    const run = spawnSync(process.execPath, ['example.mjs', service.url], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), [
      'alice {"plan":"pro","seen":true} 1',
      '404 not_found',
      '1 1',
    ]);

    await writeFile(join(project, 'use.ts'), TYPED_USE);
    await writeStrictTsconfig(project, 'use.ts');
    const check = typeCheck(project);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });

  it('covers every endpoint, pages through every session, and throws errors that say what happened', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, { ADMIN_TOKEN: 'sesame' });
    t.after(() => service.process.kill('SIGKILL'));
    const client = new StatefulClient({ url: `${service.url}/`, token: 'sesame' });
    assert.equal((await client.health()).status, 'ok');
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await client.createSession({ name: `s${i}` }));
    const replaced = await client.replaceSession(made[0]?.id as string, { data: { a: 1 } });
    assert.deepEqual([replaced.data, replaced.access_count], [{ a: 1 }, 1]);
    const patched = await client.patchSession(made[0]?.id as string, { data: { b: 2 } });
    assert.deepEqual(patched.data, { a: 1, b: 2 });
    assert.equal(
      (await client.getSession(made[0]?.id as string)).access_count,
      2,
      'a GET counts no access',
    );
    assert.deepEqual(await client.deleteSession(made[4]?.id as string), {
      status: 'deleted',
      id: made[4]?.id,
    });

    const seen = [];
    for await (const session of client.sessions({ limit: 2 })) seen.push(session.id);
    assert.deepEqual(
      seen,
      made.slice(0, 4).map((session) => session.id),
      'every page, in creation order',
    );
    const listing = await client.listSessions();
    assert.equal(listing.count, 4);
    const page = await client.sessionPage({ limit: 3, newest: true });
    assert.deepEqual(
      page.sessions.map((session) => session.name),
      ['s3', 's2', 's1'],
    );
    assert.equal(typeof page.next, 'string');
    // A search of pages: a page of matches, then on from where it stopped.
    const first = await client.searchSessions({ search: 'S', limit: 3, newest: true });
    assert.deepEqual(
      first.sessions.map((session) => session.name),
      ['s3', 's2', 's1'],
    );
    assert.ok(first.next !== null && first.scanned === 3, JSON.stringify(first));
    const rest = await client.searchSessions({
      search: 'S',
      limit: 3,
      newest: true,
      after: first.next,
    });
    assert.deepEqual(
      [rest.sessions.map((session) => session.name), rest.next, rest.scanned],
      [['s0'], null, 1],
      'the rest, to the end: every session looked at once',
    );
    const tail = await client.events({ limit: 2 });
    assert.equal(tail.events.length, 2);
    const older = await client.events({ limit: 2, before: tail.count - 1 });
    assert.equal(older.next, tail.count - 3);
    assert.equal((await client.state()).live_sessions, 4);

    await assert.rejects(client.getSession('nope'), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual([error.status, error.code], [404, 'not_found']);
      assert.match(error.message, /nope/);
      return true;
    });
    await assert.rejects(
      client.createSession({ name: 'x'.repeat(201) }),
      (error: unknown) => error instanceof ApiError && error.status === 400,
    );
    const wrongToken = new StatefulClient({ url: service.url, token: 'guess' });
    await assert.rejects(
      wrongToken.crash(),
      (error: unknown) => error instanceof ApiError && error.status === 401,
    );
    const crashed = await client.crash();
    assert.deepEqual(crashed, { status: 'crashing', crash_count: 1 });

    const nowhere = new StatefulClient(`http://127.0.0.1:${await freePort()}`);
    await assert.rejects(nowhere.state(), (error: unknown) => {
      assert.ok(error instanceof UnreachableError);
      assert.match(
        error.message,
        /Cannot reach the service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
      );
      return true;
    });
  });

  it("pages the event log: next on every page, each event's position (its SSE id), and every event newest first", async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const client = new StatefulClient(service.url);
    for (let i = 0; i < 6; i++) await client.createSession({ name: `s${i}` });
    const { count } = await client.events({ limit: 1 });
    assert.ok(count >= 7, `the startup and six creations: ${count}`);
    // The stream says where each event is: its id, the event's position.
    const stream = await openStream(`${service.url}/events/stream?limit=${count}`);
    const logged: StreamMessage[] = [];
    while (logged.length < count) logged.push((await stream.next()) as StreamMessage);
    stream.close();
    assert.deepEqual(
      logged.map((message) => message.id),
      Array.from({ length: count }, (_, index) => index + 1),
    );
    const at = (position: number) => logged[position - 1]?.event;

    const tail = await client.events({ limit: 3 });
    assert.deepEqual(tail.positions, [count - 2, count - 1, count]);
    assert.deepEqual(tail.events, tail.positions.map(at), 'each event is the one at its position');
    assert.equal(tail.next, count - 2, 'the tail has a next too');
    const older = await client.events({ limit: 3, before: tail.next as number });
    assert.deepEqual(older.positions, [count - 5, count - 4, count - 3]);
    assert.deepEqual(older.events, older.positions.map(at));
    assert.equal(older.next, count - 5);
    const first = await client.events({ limit: 3, before: 3 });
    assert.deepEqual([first.positions, first.next], [[1, 2], null]);
    const beyond = await client.events({ limit: 2, before: count + 100 });
    assert.deepEqual(
      beyond.positions,
      [count - 1, count],
      'a position beyond the log: its last page',
    );
    const whole = await client.events({ limit: count });
    assert.deepEqual([whole.positions.length, whole.next], [count, null]);

    // As JSON, a page is the answer as it came: no positions, and no next on the tail.
    const raw = (await (await fetch(`${service.url}/events?limit=3`)).json()) as object;
    assert.deepEqual(JSON.parse(JSON.stringify(tail)), raw);
    assert.deepEqual(Object.keys(raw), ['events', 'count']);

    const history = [];
    for await (const entry of client.eventHistory({ limit: 2 })) history.push(entry);
    assert.deepEqual(
      history.map((entry) => entry.position),
      Array.from({ length: count }, (_, index) => count - index),
      'every event, newest first',
    );
    assert.deepEqual(
      history.map((entry) => entry.event),
      history.map((entry) => at(entry.position)),
    );
    const fromFour = [];
    for await (const { position } of client.eventHistory({ before: 4 })) fromFour.push(position);
    assert.deepEqual(fromFour, [3, 2, 1]);
  });
});
