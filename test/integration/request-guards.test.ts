/**
 * What a browser on another site can make the service do (nothing that
 * writes), which Host names it answers to (ALLOWED_HOSTS, against DNS
 * rebinding), and the small manners of HTTP: schemes are case-insensitive,
 * a compressed body is a 415, an unmet Expect a JSON 417.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { type RawRequest, sendRawAnswer } from '../helpers/raw-http.js';
import { tempDir } from '../helpers/temp-dir.js';

function raw(method: string, path: string, headers: [string, string][], body = ''): RawRequest {
  return { method, path, headers, body: Buffer.from(body) };
}

describe('request guards', () => {
  it('refuses writes from other sites with a JSON 403, and serves the dashboard, curl and the CLI', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const host = new URL(service.url).host;
    const kept = field(await postJson(`${service.url}/sessions`, { name: 'kept' }));

    const attacks: RawRequest[] = [
      // A form on another site: text/plain needs no preflight.
      raw(
        'POST',
        '/sessions',
        [
          ['Content-Type', 'text/plain'],
          ['Origin', 'http://evil.example'],
          ['Sec-Fetch-Site', 'cross-site'],
        ],
        '{"name":"forged"}',
      ),
      raw('POST', '/sessions', [['Origin', 'http://evil.example']], '{"name":"forged"}'),
      raw('POST', '/sessions', [['Origin', 'null']], '{"name":"forged"}'),
      raw('POST', '/sessions', [['Sec-Fetch-Site', 'same-site']], '{"name":"forged"}'),
      raw('PUT', `/sessions/${kept.id}`, [['Origin', `http://${host}.evil.example`]], '{}'),
      raw('DELETE', `/sessions/${kept.id}`, [['Sec-Fetch-Site', 'cross-site']]),
      // fetch('/crash', {method: 'POST', mode: 'no-cors'}) from another origin.
      raw('POST', '/crash', [
        ['Origin', 'http://evil.example'],
        ['Sec-Fetch-Site', 'cross-site'],
        ['Sec-Fetch-Mode', 'no-cors'],
      ]),
    ];
    for (const attack of attacks) {
      const answer = await sendRawAnswer(service.url, attack);
      assert.equal(answer.status, 403, `${attack.method} ${attack.path}: ${answer.body}`);
      assert.equal(JSON.parse(answer.body).error, 'cross_site_request');
    }
    assert.equal(service.process.child.exitCode, null, 'the service did not crash');
    assert.equal(field(await request(`${service.url}/state`)).live_sessions, 1);
    assert.deepEqual(field(await request(`${service.url}/sessions/${kept.id}`)), kept);

    // The dashboard's own requests, and clients that send no Origin at all.
    const sameOrigin = await request(`${service.url}/sessions`, 'POST', '{"name":"dash"}', {
      origin: service.url,
      'sec-fetch-site': 'same-origin',
    });
    assert.equal(sameOrigin.status, 201);
    assert.equal((await postJson(`${service.url}/sessions`, { name: 'curl' })).status, 201);
    // Reading is not writing: a GET with a foreign Origin is served (CORS keeps its answer from that page).
    const read = await request(`${service.url}/state`, 'GET', undefined, {
      origin: 'http://evil.example',
    });
    assert.equal(read.status, 200);
  });

  it('answers only to the host names in ALLOWED_HOSTS (loopback by default), as a JSON 403', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const { port } = new URL(service.url);

    for (const host of ['x', 'evil.example', `attacker.example:${port}`]) {
      const answer = await sendRawAnswer(service.url, raw('GET', '/state', [['Host', host]]));
      assert.equal(answer.status, 403, host);
      assert.equal(JSON.parse(answer.body).error, 'host_not_allowed');
      assert.match(JSON.parse(answer.body).message, /ALLOWED_HOSTS/);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      const answer = await sendRawAnswer(service.url, raw('GET', '/health', [['Host', host]]));
      assert.equal(answer.status, 200, host);
    }

    // HTTP/1.1 needs a Host: a JSON 400 without one. HTTP/1.0 probes may omit it.
    const hostless = await sendRawAnswer(service.url, raw('GET', '/health', [['Host', '']]));
    assert.equal(hostless.status, 400);
    assert.equal(JSON.parse(hostless.body).error, 'invalid_input');

    const open = await spawnService(await tempDir(t), { ALLOWED_HOSTS: 'stateful.internal' });
    t.after(() => open.process.kill('SIGKILL'));
    const named = raw('GET', '/health', [['Host', 'stateful.internal:8091']]);
    assert.equal((await sendRawAnswer(open.url, named)).status, 200);
    const loopback = raw('GET', '/health', [['Host', 'localhost']]);
    assert.equal((await sendRawAnswer(open.url, loopback)).status, 403);

    const any = await spawnService(await tempDir(t), { ALLOWED_HOSTS: '*' });
    t.after(() => any.process.kill('SIGKILL'));
    assert.equal(
      (await sendRawAnswer(any.url, raw('GET', '/health', [['Host', 'x']]))).status,
      200,
    );
  });

  it('checks the host a request names however it names it: twice, malformed or by its target is a JSON 400', async (t) => {
    const service = await spawnService(await tempDir(t));
    t.after(() => service.process.kill('SIGKILL'));
    const { port } = new URL(service.url);
    const refused: [string, string, [string, string][], RegExp][] = [
      [
        'a second Host',
        '/state',
        [
          ['Host', 'localhost'],
          ['Host', 'evil.example'],
        ],
        /more than one Host/,
      ],
      [
        'the allowed one second',
        '/state',
        [
          ['Host', 'evil.example'],
          ['Host', 'localhost'],
        ],
        /more than one Host/,
      ],
      ['userinfo', '/state', [['Host', 'me@localhost']], /not a host name/],
      ['a space', '/state', [['Host', 'local host']], /not a host name/],
      ['a list', '/state', [['Host', 'localhost, evil.example']], /not a host name/],
      ['a port out of range', '/state', [['Host', 'localhost:99999']], /not a host name/],
      [
        'another host in the target',
        'http://evil.example/state',
        [['Host', 'localhost']],
        /target names another host/,
      ],
    ];
    for (const [what, path, headers, message] of refused) {
      const answer = await sendRawAnswer(service.url, raw('GET', path, headers));
      assert.equal(answer.status, 400, `${what}: ${answer.body}`);
      assert.equal(JSON.parse(answer.body).error, 'invalid_input', what);
      assert.match(JSON.parse(answer.body).message, message, what);
    }
    // An absolute-form target that agrees with Host is served (any case, the default port).
    for (const path of [`http://localhost:${port}/health`, `http://LOCALHOST:${port}/health`]) {
      const answer = await sendRawAnswer(
        service.url,
        raw('GET', path, [['Host', `localhost:${port}`]]),
      );
      assert.equal(answer.status, 200, `${path}: ${answer.body}`);
    }
    const defaultPort = raw('GET', 'http://localhost:80/health', [['Host', 'localhost']]);
    assert.equal((await sendRawAnswer(service.url, defaultPort)).status, 200);
    // https's default port is 443: `Host: localhost:443` names the same authority.
    const https = raw('GET', 'https://localhost:443/health', [['Host', 'localhost:443']]);
    assert.equal((await sendRawAnswer(service.url, https)).status, 200);
  });

  it('takes the bearer scheme in any case; a compressed body is a 415, an unmet Expect a 417, CONNECT a 405, all JSON', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, { ADMIN_TOKEN: 's3cret' });
    t.after(() => service.process.kill('SIGKILL'));

    for (const encoding of ['gzip', 'br', 'deflate']) {
      const answer = await sendRawAnswer(
        service.url,
        raw('POST', '/sessions', [['Content-Encoding', encoding]], '{"name":"z"}'),
      );
      assert.equal(answer.status, 415, encoding);
      assert.equal(JSON.parse(answer.body).error, 'unsupported_media_type');
    }
    const plain = raw('POST', '/sessions', [['Content-Encoding', 'identity']], '{"name":"z"}');
    assert.equal((await sendRawAnswer(service.url, plain)).status, 201);

    const expect = await sendRawAnswer(
      service.url,
      raw('POST', '/sessions', [['Expect', 'the-impossible']], '{}'),
    );
    assert.equal(expect.status, 417);
    assert.equal(JSON.parse(expect.body).error, 'expectation_failed');
    const connectTo = await sendRawAnswer(service.url, raw('CONNECT', 'example.com:443', []));
    assert.equal(connectTo.status, 405);
    assert.equal(JSON.parse(connectTo.body).error, 'method_not_allowed');

    const wrong = await request(`${service.url}/crash`, 'POST', undefined, {
      authorization: 'bearer nope',
    });
    assert.equal(wrong.status, 401);
    assert.equal(field(wrong).error, 'unauthorized');
    const crash = await request(`${service.url}/crash`, 'POST', undefined, {
      authorization: 'bearer s3cret',
    });
    assert.equal(crash.status, 202);
    assert.equal((await service.process.exited).code, 1);
  });
});
