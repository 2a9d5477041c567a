/**
 * Text no store can keep exactly (U+0000, unpaired surrogates) is refused
 * the same way on both stores, over real HTTP against the real process: a
 * 400 that names the field, nothing stored harmed, and on PostgreSQL the
 * honest writes batched beside it all succeed. `migrate` says which session
 * holds such text (one the original wrote) instead of failing on it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { OriginalWriter } from '../helpers/original-writer.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Bodies that must be refused, and the field the 400 must name. */
const HOSTILE: [string, unknown, RegExp][] = [
  ['POST', { name: 'a\u0000b' }, /^"name" holds U\+0000/],
  ['POST', { name: '\ud800x' }, /^"name" holds an unpaired surrogate \(\\ud800\)/],
  ['POST', { data: { list: ['ok', 'x\udc00'] } }, /^"data\.list\[1\]" holds an unpaired/],
  ['POST', { data: { '\u0000': 1 } }, /^a key in "data" holds U\+0000/],
  ['PUT', { name: '\u0000' }, /^"name" holds U\+0000/],
  ['PATCH', { data: { deep: { k: '\ud83d' } } }, /^"data\.deep\.k" holds an unpaired/],
];

/** Kept exactly: control characters, escapes, pairs of surrogates. */
const ODD_BUT_FINE = '\u001b]0;title\u0007 \u0001 😀 \u2028 é';

async function refusesEverywhere(url: string): Promise<void> {
  const kept = field(await postJson(`${url}/sessions`, { name: ODD_BUT_FINE, data: { k: '😀' } }));
  assert.equal(kept.name, ODD_BUT_FINE);
  const before = (await request(`${url}/sessions/${kept.id}`)).text;
  for (const [method, body, message] of HOSTILE) {
    const path = method === 'POST' ? '/sessions' : `/sessions/${kept.id}`;
    const answer = await postJson(`${url}${path}`, body, method);
    assert.equal(answer.status, 400, `${method} ${JSON.stringify(body)}: ${answer.text}`);
    assert.equal(field(answer).error, 'invalid_input');
    assert.match(field(answer).message, message);
  }
  const search = await request(`${url}/sessions?q=%00`);
  assert.equal(search.status, 400, search.text);
  assert.match(field(search).message, /^"q" holds U\+0000/);
  // Nothing stored changed, nothing was created.
  const after = field(await request(`${url}/sessions/${kept.id}`));
  const first = JSON.parse(before);
  assert.deepEqual(
    { ...after, last_active: '', access_count: 0 },
    { ...first, last_active: '', access_count: 0 },
  );
  assert.equal(field(await request(`${url}/sessions`)).sessions.length, 1);
}

describe('text no store can keep, on the file store', () => {
  it('is refused with a 400 naming the field; other odd text is kept exactly', async (t) => {
    const service = await spawnService(await tempDir(t));
    t.after(() => service.process.kill('SIGKILL'));
    await refusesEverywhere(service.url);
  });
});

describeOnPostgres('text no store can keep, on PostgreSQL', (server) => {
  it('is refused alike, and never fails the honest creates batched beside it', async (t) => {
    const url = await server().createDatabase();
    const service = await spawnService(await tempDir(t), { STORE: 'postgres', DATABASE_URL: url });
    t.after(() => service.process.kill('SIGKILL'));
    await refusesEverywhere(service.url);
    // Four hostile clients in a loop beside 80 honest creates.
    let running = true;
    const hostile = Array.from({ length: 4 }, async (_, client) => {
      let refused = 0;
      while (running) {
        const answer = await postJson(`${service.url}/sessions`, { name: `bad\u0000${client}` });
        assert.equal(answer.status, 400, answer.text);
        refused++;
      }
      return refused;
    });
    const honest = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        postJson(`${service.url}/sessions`, { name: `ok-${i}` }),
      ),
    );
    running = false;
    const refusals = await Promise.all(hostile);
    assert.deepEqual(
      honest.map((answer) => answer.status),
      honest.map(() => 201),
    );
    assert.ok(
      refusals.every((count) => count > 0),
      'each hostile client was refused at least once',
    );
    assert.equal(field(await request(`${service.url}/sessions`)).sessions.length, 81);
  });

  it('migrate names the session the original stored with U+0000, and copies nothing', async (t) => {
    const dir = await tempDir(t);
    const first = await spawnService(dir);
    await postJson(`${first.url}/sessions`, { name: 'alice' });
    await first.process.stop();
    const original = new OriginalWriter(dir);
    const bad = await original.create('carol\u0000');
    const url = await server().createDatabase();
    const run = await runToEnd(['migrate', '--from-dir', dir, '--to', url], {});
    assert.notEqual(run.code, 0);
    assert.match(
      run.stderr,
      new RegExp(`session ${bad.id}: "name" holds U\\+0000 \\(NUL\\); PostgreSQL cannot store it`),
    );
    const replica = await spawnService(await tempDir(t), { STORE: 'postgres', DATABASE_URL: url });
    t.after(() => replica.process.kill('SIGKILL'));
    assert.deepEqual(
      field(await request(`${replica.url}/sessions`)).sessions,
      [],
      'nothing copied',
    );
  });
});
