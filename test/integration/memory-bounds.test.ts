/**
 * What a client can make the running service hold in memory is bounded by
 * its settings, not by the client: a session's values and keys
 * (SESSION_MAX_NODES) and size (a PATCH cannot grow it past 1 MiB), all
 * sessions together (STORAGE_BUDGET_MB), the answers one connection can
 * queue (MAX_PIPELINED_REQUESTS), a listing of any size, which is streamed,
 * and a page of large sessions (PAGE_MAX_KB). What the service acknowledged
 * boots again in the same small heap.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runToEnd, spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { healthLatencyMs, residentMiB } from '../helpers/process-memory.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A body of about 1 MiB that is nothing but empty objects: about 349,000 of them. */
function manyNodesBody(): string {
  const count = Math.floor((1024 * 1024 - 20) / 3);
  return `{"data":{"a":[${'{},'.repeat(count - 1)}{}]}}`;
}

/** The costliest session the default limits accept: 9,990 objects and a long two-byte string. */
function costlySession(index: number): unknown {
  return {
    name: `costly${index}`,
    data: { a: Array.from({ length: 9_990 }, () => ({})), s: '€'.repeat(300_000) },
  };
}

describe('memory bounds', () => {
  it('refuses a session with too many values with a 413 that names the limit, and keeps nothing of it', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const kept = field(await postJson(`${service.url}/sessions`, { name: 'kept', data: { a: 1 } }));

    const body = manyNodesBody();
    const created = await request(`${service.url}/sessions`, 'POST', body, {
      'content-type': 'application/json',
    });
    assert.equal(created.status, 413);
    assert.equal(field(created).error, 'session_too_large');
    assert.match(field(created).message, /SESSION_MAX_NODES/);
    const updated = await request(`${service.url}/sessions/${kept.id}`, 'PUT', body);
    assert.equal(updated.status, 413);

    assert.equal(field(await request(`${service.url}/state`)).live_sessions, 1);
    assert.deepEqual(field(await request(`${service.url}/sessions/${kept.id}`)), kept);

    // Merges cannot grow a session past what one PUT can send back (1 MiB as JSON).
    const part = 'y'.repeat(600 * 1024);
    const url = `${service.url}/sessions/${kept.id}`;
    const grown = await request(url, 'PATCH', JSON.stringify({ data: { b: part } }));
    assert.equal(grown.status, 200, grown.text.slice(0, 200));
    const tooBig = await request(url, 'PATCH', JSON.stringify({ data: { c: part } }));
    assert.equal(tooBig.status, 413);
    assert.equal(field(tooBig).error, 'session_too_large');
    assert.match(field(tooBig).message, /at most 1048576 \(1 MiB/);
    const after = field(await request(url));
    assert.deepEqual(Object.keys(after.data), ['a', 'b'], 'the refused merge changed nothing');
    assert.equal(after.access_count, 1);
    const back = await request(url, 'PUT', JSON.stringify({ data: after.data }));
    assert.equal(back.status, 200, 'it still fits one PUT');
  });

  it('fills the storage budget, then answers 507 to growth only; what it took boots again in the same small heap', async (t) => {
    const dir = await tempDir(t);
    // No STORAGE_BUDGET_MB: the default (a quarter of the heap) must be safe by itself.
    const env = { NODE_OPTIONS: '--max-old-space-size=128' };
    const service = await spawnService(dir, env);
    t.after(() => service.process.kill('SIGKILL'));

    const tiny = field(await postJson(`${service.url}/sessions`, { name: 'tiny' }));
    const ids: string[] = [];
    let refused: ReturnType<typeof field> = null;
    for (let i = 0; i < 200 && refused === null; i++) {
      const answer = await postJson(`${service.url}/sessions`, costlySession(i));
      if (answer.status === 201) ids.push(field(answer).id);
      else {
        assert.equal(answer.status, 507, answer.text.slice(0, 300));
        refused = field(answer);
      }
    }
    assert.ok(refused !== null, 'the budget was reached');
    assert.equal(refused.error, 'storage_budget_exceeded');
    assert.match(refused.message, /STORAGE_BUDGET_MB/);
    assert.ok(ids.length >= 5, `${ids.length} costly sessions fitted`);
    const metrics = (await request(`${service.url}/metrics`)).text;
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const footprint = gauge('stateful_sessions_footprint_bytes');
    const budget = gauge('stateful_storage_budget_bytes');
    assert.ok(footprint <= budget && footprint > 0.9 * budget, `${footprint} of ${budget}`);
    t.diagnostic(`${ids.length} costly sessions filled the default budget of a 128 MB heap`);

    // Reads, deletes and updates that do not grow keep working; growth does not.
    const first = ids[0] as string;
    assert.equal((await request(`${service.url}/sessions/${first}`)).status, 200);
    assert.equal(field(await request(`${service.url}/sessions`)).count, ids.length + 1);
    // Growing the tiny session past the size of the create just refused cannot fit.
    const grow = await postJson(
      `${service.url}/sessions/${tiny.id}`,
      { data: { a: Array.from({ length: 9_990 }, () => ({})), s: '€'.repeat(320_000) } },
      'PUT',
    );
    assert.equal(grow.status, 507, grow.text.slice(0, 200));
    assert.deepEqual(field(await request(`${service.url}/sessions/${tiny.id}`)), tiny);
    const same = await postJson(`${service.url}/sessions/${first}`, costlySession(0), 'PUT');
    assert.equal(same.status, 200, 'the same size is no growth');
    const shrink = await postJson(`${service.url}/sessions/${first}`, { data: {} }, 'PUT');
    assert.equal(shrink.status, 200);
    const last = ids.pop() as string;
    assert.equal((await request(`${service.url}/sessions/${last}`, 'DELETE')).status, 200);
    const again = await postJson(`${service.url}/sessions`, costlySession(1000));
    assert.equal(again.status, 201, 'freed space is usable again');
    ids.push(field(again).id, tiny.id);

    // A kill (the journal is replayed) and a clean stop: both boot in the same heap.
    service.process.kill('SIGKILL');
    await service.process.exited;
    const afterKill = await spawnService(dir, env);
    t.after(() => afterKill.process.kill('SIGKILL'));
    assert.equal(field(await request(`${afterKill.url}/state`)).live_sessions, ids.length);
    afterKill.process.kill('SIGTERM');
    assert.equal((await afterKill.process.exited).code, 0);
    const afterStop = await spawnService(dir, env);
    t.after(() => afterStop.process.kill('SIGKILL'));
    assert.equal(field(await request(`${afterStop.url}/state`)).live_sessions, ids.length);
    afterStop.process.kill('SIGTERM');
    await afterStop.process.exited;

    const verify = await runToEnd(['inspect', '--verify', '--data-dir', dir], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  it('does not queue answers for a connection that sends thousands of pipelined requests and never reads', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const note = 'x'.repeat(400);
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () =>
          postJson(`${service.url}/sessions`, { name: 's', data: { note } }),
        ),
      );
    }
    const pid = service.process.child.pid as number;
    const before = await residentMiB(pid);

    // 2,000 listings of about 1 MB each: 2 GB if the service built them all.
    const { port } = new URL(service.url);
    const socket = connect(Number(port), '127.0.0.1');
    t.after(() => socket.destroy());
    socket.on('error', () => undefined);
    socket.pause();
    socket.write('GET /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(2000));

    let peak = before;
    for (let second = 0; second < 6; second++) {
      await sleep(1000);
      peak = Math.max(peak, await residentMiB(pid));
      assert.ok((await healthLatencyMs(service.url)) < 5_000);
    }
    t.diagnostic(`RSS ${before.toFixed(0)} MiB before, at most ${peak.toFixed(0)} MiB after`);
    assert.ok(peak < before + 200, `RSS grew from ${before} to ${peak} MiB`);

    // The connection is still served, in order, once it reads.
    socket.resume();
    const received = await new Promise<string>((resolve) => {
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if ((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length >= 3) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
    });
    assert.match(received, /^HTTP\/1\.1 200 OK/);
  });

  it('bounds the answers a crowd of connections leaves unread, over all of them, and keeps /health answered', async (t) => {
    const dir = await tempDir(t);
    // The default heap; a small bound, so that this crowd surely exceeds it
    // (the kernel's socket buffers take a few MB of each connection's answers).
    const service = await spawnService(dir, { UNREAD_ANSWERS_MB: '16' });
    t.after(() => service.process.kill('SIGKILL'));
    const big = 'x'.repeat(900_000);
    for (let i = 0; i < 6; i++) {
      const created = await postJson(`${service.url}/sessions`, { name: `big${i}`, data: { big } });
      assert.equal(created.status, 201);
    }
    const pid = service.process.child.pid as number;
    const before = await residentMiB(pid);

    // 100 connections × 8 pipelined pages of about 3.6 MB that nobody reads:
    // 2.9 GB if the service held them all.
    const { port } = new URL(service.url);
    const crowd = Array.from({ length: 100 }, () => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.pause();
      socket.write('GET /sessions?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(8));
      return socket;
    });
    t.after(() => {
      for (const socket of crowd) socket.destroy();
    });

    let peak = before;
    let busy = 0;
    let slowestHealth = 0;
    for (let second = 0; second < 8; second++) {
      await sleep(1000);
      peak = Math.max(peak, await residentMiB(pid));
      const latency = await healthLatencyMs(service.url, 15_000);
      slowestHealth = Math.max(slowestHealth, latency);
      // Past the bound, other requests get a JSON 503 with Retry-After, never a dead process.
      const page = await fetch(`${service.url}/sessions?limit=1000`);
      const body = await page.text();
      if (page.status === 503) {
        busy++;
        assert.equal(JSON.parse(body).error, 'too_busy');
        assert.equal(page.headers.get('retry-after'), '1');
      } else {
        assert.equal(page.status, 200);
      }
    }
    const closed = service.process.lines.filter(
      (line) => line.msg === 'closed the connections holding the most unread answers',
    );
    // What the crowd got, once it reads: most of its 800 pages refused, or its connections closed.
    let crowdRefused = 0;
    for (const socket of crowd) {
      socket.on('data', (chunk: Buffer) => {
        crowdRefused += chunk.toString('latin1').split('HTTP/1.1 503 ').length - 1;
      });
      socket.resume();
    }
    await sleep(2000);
    t.diagnostic(
      `RSS ${before.toFixed(0)} MiB before, at most ${peak.toFixed(0)} MiB; ${busy} of 8 pages refused; ` +
        `${crowdRefused} of the crowd's 800 refused; ${closed.length} closing lines; ` +
        `/health answered within ${slowestHealth.toFixed(0)} ms`,
    );
    // The documented ceiling: UNREAD_ANSWERS_MB and at most 512 MiB more.
    assert.ok(peak < before + 16 + 512, `RSS grew from ${before} to ${peak} MiB`);
    assert.ok(
      closed.length > 0 || crowdRefused > 400,
      'the bound refused the crowd, or closed the connections that did not read',
    );
    assert.equal(service.process.child.exitCode, null, 'the process is alive');
  });

  it('gives one client address behind a trusted proxy a share of the unread answers, and serves every other address meanwhile', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, {
      UNREAD_ANSWERS_MB: '64',
      UNREAD_ANSWERS_PER_ADDRESS_MB: '4',
      TRUST_PROXY: 'loopback',
    });
    t.after(() => service.process.kill('SIGKILL'));
    const big = 'x'.repeat(900_000);
    for (let i = 0; i < 2; i++) {
      assert.equal(
        (await postJson(`${service.url}/sessions`, { name: `b${i}`, data: { big } })).status,
        201,
      );
    }
    const { port } = new URL(service.url);
    const asClient = (address: string, path: string) =>
      fetch(`${service.url}${path}`, { headers: { 'x-forwarded-for': address } });
    // One address, through the trusted proxy, asks for pages of 1.8 MB and
    // never reads them (the kernel's socket buffers take a few MB of each
    // connection's: eight pipelined make sure the service holds some).
    const greedy: ReturnType<typeof connect>[] = [];
    t.after(() => {
      for (const socket of greedy) socket.destroy();
    });
    for (let i = 0; i < 10; i++) {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      socket.pause();
      const request =
        'GET /sessions?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 10.0.0.66\r\n\r\n';
      socket.write(request.repeat(8));
      greedy.push(socket);
      await sleep(100);
    }
    const refused = await asClient('10.0.0.66', '/sessions?limit=1');
    assert.equal(refused.status, 503);
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'too_busy');
    assert.match(body.message, /UNREAD_ANSWERS_PER_ADDRESS_MB/);
    const served = await asClient('10.0.0.1', '/sessions?limit=1000');
    assert.equal(served.status, 200, 'another address is served in full');
    assert.equal(((await served.json()) as { sessions: unknown[] }).sessions.length, 2);
  });

  it('counts bodies still arriving against the same bound, one address its share: past it a body is refused unread, and others are served', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, {
      UNREAD_ANSWERS_MB: '4',
      UNREAD_ANSWERS_PER_ADDRESS_MB: '2',
      TRUST_PROXY: 'loopback',
    });
    t.after(() => service.process.kill('SIGKILL'));
    const { port } = new URL(service.url);
    /** Sends the headers of a 1,000,000-byte body and 10 bytes of it; returns what was answered so far, when asked. */
    const trickle = (address: string) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      t.after(() => socket.destroy());
      socket.write(
        'POST /sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          `X-Forwarded-For: ${address}\r\nContent-Length: 1000000\r\n\r\n{"data":{"`,
      );
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
      });
      return () => answer;
    };
    const greedy = [0, 1, 2].map(() => trickle('10.0.0.66'));
    await sleep(500);
    // Two bodies of a MB are its share; the third is refused before it is read.
    assert.deepEqual(
      greedy.map((answer) => answer().split('\r\n')[0] ?? ''),
      ['', '', 'HTTP/1.1 503 Service Unavailable'],
    );
    assert.match(greedy[2]?.() ?? '', /UNREAD_ANSWERS_PER_ADDRESS_MB/);
    assert.match(greedy[2]?.() ?? '', /connection: close/i);
    // Another address takes the rest of the bound, then a large body of a third waits for room.
    const other = [0, 1].map(() => trickle('10.0.0.77'));
    await sleep(500);
    assert.deepEqual(
      other.map((answer) => answer()),
      ['', ''],
    );
    const large = await fetch(`${service.url}/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.0.0.1' },
      body: JSON.stringify({ data: { text: 'y'.repeat(300_000) } }),
    });
    assert.equal(large.status, 503);
    assert.match(((await large.json()) as { message: string }).message, /body was not read/);
    // A small body is served, and /health.
    const small = await fetch(`${service.url}/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '10.0.0.1' },
      body: '{"name":"small"}',
    });
    assert.equal(small.status, 201);
    assert.equal((await fetch(`${service.url}/health`)).status, 200);
  });

  it('streams a listing larger than the longest string V8 can build, after a restart too, and pages it in answers of PAGE_MAX_KB', async (t) => {
    const dir = await tempDir(t);
    const env = { STORAGE_BUDGET_MB: '2048' };
    const service = await spawnService(dir, env);
    t.after(() => service.process.kill('SIGKILL'));
    const big = 'x'.repeat(1024 * 1024 - 100);
    const total = 520; // 520 MiB of listing: more than V8's 512 MiB string limit
    for (let i = 0; i < total; i += 8) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(8, total - i) }, (_, k) =>
          request(
            `${service.url}/sessions`,
            'POST',
            `{"name":"big${i + k}","data":{"note":"${big}"}}`,
          ),
        ),
      );
      for (const answer of answers) assert.equal(answer.status, 201, answer.text.slice(0, 200));
    }

    const readListing = async (url: string) => {
      const pid = service.process.child.pid as number;
      const response = await fetch(`${url}/sessions`);
      assert.equal(response.status, 200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      let bytes = 0;
      let head = '';
      let tail = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        const text = Buffer.from(value).toString('latin1');
        if (head.length < 20) head += text.slice(0, 20);
        tail = (tail + text).slice(-100);
      }
      return { bytes, head, tail, pid };
    };
    const listed = await readListing(service.url);
    assert.ok(listed.bytes > 520 * 1024 * 1024, `${listed.bytes} bytes`);
    assert.match(listed.head, /^\{"sessions":\[\{"id":/);
    assert.match(listed.tail, /\}\],"count":520\}$/);

    // Pages of up to 1,000 of them: each stops at PAGE_MAX_KB (4 MiB by
    // default) instead of building 520 MiB into one answer (a 500, before).
    const seen = new Set<string>();
    let after = '';
    for (;;) {
      const page = await request(`${service.url}/sessions?limit=1000${after}`);
      assert.equal(page.status, 200, page.text.slice(0, 200));
      const { sessions, count, next } = field(page);
      assert.ok(count >= 1 && count < 5, `${count} sessions of 1 MiB on a page`);
      assert.ok(page.text.length < 4 * 1024 * 1024 + 1024, `${page.text.length} bytes`);
      for (const session of sessions) seen.add(session.id);
      if (next === null) break;
      after = `&after=${next}`;
    }
    assert.equal(seen.size, 520, 'every session on some page, once');

    service.process.kill('SIGTERM');
    await service.process.exited;
    const restarted = await spawnService(dir, env);
    t.after(() => restarted.process.kill('SIGKILL'));
    const relisted = await readListing(restarted.url);
    assert.equal(relisted.bytes, listed.bytes);
    assert.match(relisted.tail, /\}\],"count":520\}$/);
  });
});
