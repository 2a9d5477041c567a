/**
 * /openapi.json is a valid OpenAPI 3.1 document, names every route the app
 * has, and the app's real answers match the schemas it states; /docs serves
 * the reference page from the package's own files.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { LightMyRequestResponse } from 'fastify';
import { build } from '../helpers/build-app.js';

interface Operation {
  summary?: string;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** `/sessions/:id` as OpenAPI writes it: `/sessions/{id}`. */
const openApiPath = (url: string) => url.replace(/:(\w+)/g, '{$1}');

/** Files of the dashboard and of the reference page, not operations of the API. */
const NOT_OPERATIONS = /^\/(dashboard|docs)(\/|$)/;

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1 and has every route of the app, each with a summary', async (t) => {
    const { app } = await build(t);
    const routes: { method: string; url: string }[] = [];
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    });
    const answer = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(answer.statusCode, 200);
    const document = answer.json() as Document;
    assert.equal(document.openapi, '3.1.0');
    const result = await new Validator().validate(document as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));

    const operations = routes.filter(
      (route) => route.method !== 'HEAD' && !NOT_OPERATIONS.test(route.url),
    );
    assert.ok(operations.length >= 12, `the routes were seen (${operations.length})`);
    for (const { method, url } of operations) {
      const operation = document.paths[openApiPath(url)]?.[method.toLowerCase()];
      assert.ok(operation !== undefined, `${method} ${url} is in the document`);
      assert.ok(operation.summary, `${method} ${url} says what it does`);
    }
    const documented = Object.values(document.paths).flatMap((methods) => Object.keys(methods));
    assert.equal(documented.length, operations.length, 'and nothing else');
  });

  it('states the answers the app really gives, errors included', async (t) => {
    const { app } = await build(t, { ADMIN_TOKEN: 'sesame' });
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
    const ajv = new Ajv2020({ strict: false });
    const checked = new Set<string>();
    const check = async (
      method: string,
      route: string,
      url: string,
      options: { payload?: unknown; headers?: Record<string, string> } = {},
    ): Promise<LightMyRequestResponse> => {
      const answer = await app.inject({ method: method as 'GET', url, ...options } as never);
      const where = `${method} ${url} → ${answer.statusCode}`;
      const response = document.paths[route]?.[method.toLowerCase()]?.responses[answer.statusCode];
      assert.ok(response !== undefined, `${where} is a documented answer`);
      const type = String(answer.headers['content-type']).split(';')[0] as string;
      const content = response.content?.[type];
      assert.ok(content !== undefined, `${where} is documented as ${type}`);
      if (type === 'application/json') {
        const validate = ajv.compile(content.schema);
        assert.ok(validate(answer.json()), `${where}: ${ajv.errorsText(validate.errors)}`);
      }
      checked.add(`${method} ${route} ${answer.statusCode}`);
      return answer;
    };
    const json = { 'content-type': 'application/json' };

    await check('GET', '/health', '/health');
    const created = await check('POST', '/sessions', '/sessions', {
      payload: { name: 'alice', data: { a: 1 } },
      headers: json,
    });
    const id = created.json().id as string;
    await check('POST', '/sessions', '/sessions', { payload: { name: 7 }, headers: json });
    await check('POST', '/sessions', '/sessions', {
      payload: { data: { deep: 'x'.repeat(2 * 1024 * 1024) } },
      headers: json,
    });
    await check('POST', '/sessions', '/sessions');
    await check('GET', '/sessions', '/sessions');
    await check('GET', '/sessions', '/sessions?limit=1');
    await check('GET', '/sessions', '/sessions?limit=0');
    await check('GET', '/sessions/{id}', `/sessions/${id}`);
    await check('GET', '/sessions/{id}', '/sessions/00000000-0000-4000-8000-000000000000');
    await check('PUT', '/sessions/{id}', `/sessions/${id}`, {
      payload: { name: 'b' },
      headers: json,
    });
    await check('PATCH', '/sessions/{id}', `/sessions/${id}`, {
      payload: { data: { a: null } },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    await check('PATCH', '/sessions/{id}', `/sessions/${id}`, {
      payload: [{ op: 'remove', path: '/data/a' }],
      headers: { 'content-type': 'application/json-patch+json' },
    });
    await check('DELETE', '/sessions/{id}', `/sessions/${id}`);
    await check('DELETE', '/sessions/{id}', `/sessions/${id}`);
    await check('GET', '/events', '/events?limit=2');
    await check('GET', '/events', '/events?limit=2&before=3');
    await check('GET', '/events', '/events?limit=lots');
    await check('GET', '/events/stream', '/events/stream?limit=nope');
    await check('GET', '/metrics', '/metrics');
    await check('GET', '/', '/');
    await check('GET', '/state', '/state');
    await check('POST', '/crash', '/crash');
    await check('POST', '/crash', '/crash', { headers: { authorization: 'Bearer sesame' } });
    assert.ok(checked.size >= 20, `${checked.size} answers checked`);
  });

  it('is shown at /docs from the package’s own files, asking nothing of any other host', async (t) => {
    const { app } = await build(t);
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/);
    const csp = String(page.headers['content-security-policy']);
    assert.doesNotMatch(csp, /https:|swagger\.io|upgrade-insecure-requests/);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    assert.ok(assets.length >= 3, page.body);
    for (const asset of assets) {
      assert.doesNotMatch(asset as string, /^(https?:)?\/\//, `${asset} is served here`);
      const url = new URL(asset as string, 'http://localhost/docs/').pathname;
      const file = await app.inject({ method: 'GET', url });
      assert.equal(file.statusCode, 200, url);
    }
    const initializer = await app.inject({
      method: 'GET',
      url: '/docs/static/swagger-initializer.js',
    });
    assert.equal(initializer.statusCode, 200);
    assert.ok(initializer.body.includes("resolveUrl('./json')"), 'it shows this document');
    const shown = await app.inject({ method: 'GET', url: '/docs/json' });
    assert.deepEqual(
      shown.json(),
      (await app.inject({ method: 'GET', url: '/openapi.json' })).json(),
    );
  });
});
