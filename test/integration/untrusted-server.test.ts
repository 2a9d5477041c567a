/**
 * The typed client and the CLI against a malicious server (a small one in
 * this test, on 127.0.0.1): an answer that never ends is given up at the
 * size bound, a page cursor that repeats stops the listing (of sessions, of
 * events) with an error instead of looping for ever, an event page whose
 * positions cannot be is refused, an answer of another shape is refused
 * naming the call, and the admin token goes to POST /crash
 * only.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { StatefulClient, UntrustedAnswerError } from '../../src/client/index.js';
import { runToEnd } from '../../tools/service-process.js';

const SESSION = {
  id: '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c',
  name: 'loop',
  data: {},
  created_at: '2026-12-06T00:00:00Z',
  last_active: '2026-12-06T00:00:00Z',
  access_count: 0,
};

const STATE = {
  container_id: 'abcd1234',
  startup_count: 1,
  crash_count: 0,
  total_sessions: 1,
  live_sessions: 1,
};

const EVENT = { ts: 1796169600.5, time: '2026-12-06T00:00:00Z', event: 'startup', container: 'x' };

/**
 * GET /events as no service of ours answers it: the tail is two events, and
 * each older page says the one before it starts where it was asked to end
 * (a `next` that repeats); `limit=7` gets more events than the log holds,
 * `limit=8` an answer of 2 MB, and `before=100` the tail without `next` (what
 * a server that ignores `before`, as the original does, sends).
 */
function eventAnswer(query: URLSearchParams): unknown {
  const before = query.get('before');
  if (query.get('limit') === '7') return { events: [EVENT, EVENT, EVENT], count: 2 };
  if (query.get('limit') === '8') return { events: [{ ...EVENT, pad: 'x'.repeat(2 << 20) }] };
  if (before === null || before === '100') return { events: [EVENT, EVENT], count: 9 };
  return { events: [EVENT], count: 9, next: Number(before) };
}

async function malicious(t: { after(fn: () => unknown): void }): Promise<{
  url: string;
  seen: IncomingMessage[];
}> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request);
    if (request.url === '/health') {
      // An answer that never ends, as fast as the client reads it.
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      const more = () => {
        while (response.write(chunk)) {
          if (response.destroyed) return;
        }
        response.once('drain', more);
      };
      response.write('[');
      more();
      return;
    }
    if (request.url?.startsWith('/sessions?')) {
      // Every page says there is a next one, always the same.
      response.writeHead(200, { 'content-type': 'application/json' });
      // limit=1: a cursor written to run a command if pasted unquoted.
      const next = request.url.includes('limit=1&') ? 'x; touch /tmp/PWNED #' : 'again';
      response.end(JSON.stringify({ sessions: [SESSION], count: 1, next }));
      return;
    }
    if (request.url?.startsWith('/sessions/')) {
      // Not a session: what a server of something else might send.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 1, name: null }));
      return;
    }
    if (request.url === '/state') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(STATE));
      return;
    }
    if (request.url?.startsWith('/events')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(eventAnswer(new URL(request.url, 'http://x').searchParams)));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(request.url === '/crash' ? '{"status":"crashing","crash_count":1}' : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('a client that does not trust the server', () => {
  it('gives up an endless answer at its size bound, holding no more than that', async (t) => {
    const { url } = await malicious(t);
    const client = new StatefulClient({ url, maxAnswerBytes: 8 << 20 });
    await assert.rejects(client.health(), (error: unknown) => {
      assert.ok(error instanceof UntrustedAnswerError, String(error));
      assert.match(error.message, /over 8388608 bytes/);
      return true;
    });
  });

  it('stops a listing whose next page cursor repeats, with an error', async (t) => {
    const { url } = await malicious(t);
    const client = new StatefulClient(url);
    let sessions = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of client.sessions()) sessions++;
      })(),
      /a page cursor \(next\) repeats/,
    );
    assert.ok(sessions <= 2, `stopped at once: ${sessions} sessions yielded`);
    const cli = await runToEnd(['session', 'list', '--all', '--url', url], {});
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stderr, /cannot be from this service: a page cursor \(next\) repeats/);
  });

  it('stops an event history whose next page cursor repeats, and refuses event pages that cannot be', async (t) => {
    const { url } = await malicious(t);
    const client = new StatefulClient({ url, maxAnswerBytes: 1 << 20 });
    const positions: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const { position } of client.eventHistory()) positions.push(position);
      })(),
      (error: unknown) => {
        assert.ok(error instanceof UntrustedAnswerError, String(error));
        assert.match(error.message, /a page cursor \(next\) repeats/);
        return true;
      },
    );
    assert.deepEqual(positions, [9, 8], 'the tail, then the stop');
    await assert.rejects(client.events({ limit: 7 }), /a page of 3 events in a log of 2/);
    await assert.rejects(client.events({ limit: 8 }), /over 1048576 bytes/);
    await assert.rejects(client.events({ before: 100 }), /it answered before=100 without next/);
    await assert.rejects(
      client.events({ before: 5 }),
      (error: unknown) => error instanceof UntrustedAnswerError && /repeats/.test(error.message),
    );
  });

  it('refuses an answer that is not the shape this service gives, naming the call', async (t) => {
    const { url } = await malicious(t);
    const client = new StatefulClient(url);
    await assert.rejects(
      client.getSession(SESSION.id),
      (error: unknown) =>
        error instanceof UntrustedAnswerError &&
        /a session has no string "id" \(GET \/sessions\/3f2a1b0c-/.test(error.message),
    );
    // A cursor is printed for pasting quoted: the same text, never more shell.
    const hinted = await runToEnd(['session', 'list', '--limit', '1', '--url', url], {});
    assert.equal(hinted.code, 0, hinted.stderr);
    assert.match(
      hinted.stderr,
      /^more: stateful session list --limit 1 --after 'x; touch \/tmp\/PWNED #' --url http:\S+ /m,
    );
    const cli = await runToEnd(['session', 'get', SESSION.id, '--url', url], {});
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(
      cli.stderr,
      /^stateful: The answer from http:\S+ cannot be from this service: a session has no string "id"/,
    );
    const dashboardPage = new StatefulClient(url.replace(/\/?$/, '/nowhere'));
    await assert.rejects(
      dashboardPage.health(),
      UntrustedAnswerError,
      'an answer that is not JSON',
    );
    assert.throws(() => new StatefulClient(`${url}?x=1`), /it has a query/);
  });

  it('sends the admin token to POST /crash only', async (t) => {
    const { url, seen } = await malicious(t);
    const client = new StatefulClient({ url, token: 'secret-admin-token' });
    await client.state();
    await client.sessionPage();
    await client.crash();
    const withToken = seen.filter((request) => request.headers.authorization !== undefined);
    assert.deepEqual(
      withToken.map((request) => `${request.method} ${request.url}`),
      ['POST /crash'],
    );
    assert.equal(withToken[0]?.headers.authorization, 'Bearer secret-admin-token');
    // The CLI too: ADMIN_TOKEN from its environment, for `state` not sent.
    const before = seen.length;
    const cli = await runToEnd(['state', '--url', url], { ADMIN_TOKEN: 'secret-admin-token' });
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(seen.length > before);
    assert.ok(seen.slice(before).every((request) => request.headers.authorization === undefined));
  });
});
