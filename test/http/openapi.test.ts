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

interface Media {
  schema: Record<string, unknown>;
  example?: unknown;
  examples?: unknown;
}
interface Answer {
  description: string;
  content?: Record<string, Media>;
  headers?: Record<string, { schema: object }>;
}
interface Operation {
  summary?: string;
  operationId?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, Answer>;
}
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Record<string, unknown>>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The error codes an answer's schema names (the enum beside the Error shape). */
function documentedCodes(answer: Answer | undefined): string[] {
  const schema = answer?.content?.['application/json']?.schema as
    | { allOf?: { $ref?: string; properties?: { error?: { enum?: string[] } } }[] }
    | undefined;
  assert.equal(schema?.allOf?.[0]?.$ref, '#/components/schemas/Error');
  return schema?.allOf?.[1]?.properties?.error?.enum ?? [];
}

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
    ajv.addFormat('uuid', UUID);
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
        // The named shapes it refers to, from the document's components.
        const validate = ajv.compile({ ...content.schema, components: document.components });
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
    await check('GET', '/state', '/state', { headers: { 'content-encoding': 'gzip' } });
    await check('POST', '/sessions', '/sessions', {
      payload: { name: 'x' },
      headers: { ...json, 'sec-fetch-site': 'cross-site' },
    });
    await check('GET', '/openapi.json', '/openapi.json');
    await check('POST', '/crash', '/crash', { headers: { authorization: 'Bearer sesame' } });
    assert.ok(checked.size >= 23, `${checked.size} answers checked`);
  });

  it('names its operations, tags and shapes, shows an example of every body and answer, and says which routes need the admin token', async (t) => {
    const { app } = await build(t, { ADMIN_TOKEN: 'sesame' });
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        where: `${method} ${path}`,
        operation,
      })),
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    assert.equal(new Set(ids).size, operations.length, `unique operationIds: ${ids.join(', ')}`);
    for (const { where, operation } of operations) {
      assert.match(operation.operationId ?? '', /^[a-z][A-Za-z]+$/, where);
      assert.equal(operation.tags?.length, 1, where);
      assert.ok(
        ['sessions', 'events', 'service', 'admin'].includes(operation.tags?.[0] as string),
        where,
      );
      const media = [
        ...Object.entries(operation.requestBody?.content ?? {}).map(
          ([type, m]) => ['body', type, m] as const,
        ),
        ...Object.entries(operation.responses).flatMap(([status, answer]) =>
          Object.entries(answer.content ?? {}).map(([type, m]) => [status, type, m] as const),
        ),
      ];
      for (const [what, type, one] of media) {
        assert.ok(
          one.example !== undefined || one.examples !== undefined,
          `${where} ${what} ${type} has an example`,
        );
      }
      for (const [status, answer] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        const codes = documentedCodes(answer);
        assert.ok(codes.length > 0, `${where} ${status} names its codes`);
        for (const code of codes)
          assert.ok(answer.description.includes(code), `${where} ${status}`);
      }
    }
    for (const name of ['Session', 'SessionInput', 'Error', 'SessionPage', 'EventPage']) {
      assert.ok(document.components.schemas[name], `components.schemas.${name}`);
    }
    const session = document.components.schemas.Session as {
      properties: Record<string, { format?: string }>;
    };
    assert.equal(session.properties.id?.format, 'uuid');
    const idParameter = document.paths['/sessions/{id}']?.get?.parameters?.[0];
    assert.deepEqual([idParameter?.in, idParameter?.schema.format], ['path', 'uuid']);

    const post = document.paths['/sessions']?.post;
    assert.equal(
      post?.requestBody?.content['application/json']?.schema.$ref,
      '#/components/schemas/SessionInput',
    );
    assert.deepEqual(Object.keys(post?.responses ?? {}), [
      '201',
      '400',
      '403',
      '408',
      '413',
      '415',
      '417',
      '431',
      '503',
      '507',
    ]);
    assert.deepEqual(documentedCodes(post?.responses['503']).sort(), [
      'starting',
      'stopping',
      'storage_unavailable',
      'too_busy',
    ]);
    assert.deepEqual(documentedCodes(post?.responses['507']).sort(), [
      'storage_budget_exceeded',
      'storage_full',
    ]);
    assert.deepEqual(documentedCodes(document.paths['/sessions/{id}']?.patch?.responses['415']), [
      'unsupported_media_type',
    ]);
    assert.deepEqual(
      documentedCodes(document.paths['/events/stream']?.get?.responses['503']).sort(),
      ['starting', 'stopping', 'too_busy', 'too_many_streams'],
    );
    assert.deepEqual(documentedCodes(document.paths['/health']?.get?.responses['503']), [
      'stopping',
    ]);
    for (const path of ['/sessions', '/events']) {
      assert.ok(document.paths[path]?.get?.responses['200']?.headers?.Link, `${path} sets Link`);
    }

    assert.deepEqual(Object.values(document.components.securitySchemes), [
      { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, where the service has one' },
    ]);
    const scheme = Object.keys(document.components.securitySchemes)[0] as string;
    const crash = document.paths['/crash']?.post;
    assert.deepEqual(crash?.security, [{ [scheme]: [] }]);
    assert.deepEqual(documentedCodes(crash?.responses['401']), ['unauthorized']);
    const open = operations.filter(({ operation }) => operation.security !== undefined);
    assert.equal(open.length, 1, 'no other operation needs the token');

    const { app: unguarded } = await build(t);
    const without = (
      await unguarded.inject({ method: 'GET', url: '/openapi.json' })
    ).json() as Document;
    assert.deepEqual(without.paths['/crash']?.post?.security, [], 'without ADMIN_TOKEN, none');
    assert.equal(without.paths['/crash']?.post?.responses['401'], undefined);
  });

  it('states the query strings the domain takes: each bound accepted, one past it refused', async (t) => {
    const { app } = await build(t);
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
    const tried: string[] = [];
    // HEAD: the same checks as GET, and an event stream answers without staying open.
    const status = async (path: string, query: string) =>
      (await app.inject({ method: 'HEAD', url: `${path}?${query}` })).statusCode;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const parameter of methods.get?.parameters ?? []) {
        if (parameter.in !== 'query') continue;
        const { name } = parameter;
        const schema = parameter.schema as {
          type?: string;
          minimum?: number;
          maximum?: number;
          maxLength?: number;
          enum?: string[];
        };
        const take = async (value: string) => {
          tried.push(`${path}?${name}=${value.slice(0, 20)}`);
          assert.equal(await status(path, `${name}=${value}`), 200, `${path}?${name}=${value}`);
        };
        const refuse = async (value: string) => {
          tried.push(`${path}?${name}=${value.slice(0, 20)}`);
          const query = `${name}=${value}`;
          assert.equal(await status(path, query), 400, `${path}?${query.slice(0, 60)}`);
        };
        if (schema.type === 'integer') {
          await take(String(schema.minimum));
          await take(String(schema.maximum));
          await refuse(String((schema.minimum as number) - 1));
          await refuse(String((schema.maximum as number) + 1));
          await refuse('1.5');
        } else if (schema.enum !== undefined) {
          for (const value of schema.enum) await take(value);
          await refuse('sideways');
        } else if (schema.maxLength !== undefined) {
          await refuse('x'.repeat(schema.maxLength + 1));
        }
      }
    }
    assert.ok(tried.length >= 25, tried.join('\n'));
  });

  it('states the body the domain takes: SessionInput', async (t) => {
    const { app } = await build(t);
    const document = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Document;
    const input = document.components.schemas.SessionInput as {
      properties: { name: { type: string; maxLength: number }; data: { type: string } };
    };
    assert.deepEqual(
      [input.properties.name.type, input.properties.data.type],
      ['string', 'object'],
    );
    const create = async (payload: unknown) =>
      (
        await app.inject({
          method: 'POST',
          url: '/sessions',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        })
      ).statusCode;
    const longest = input.properties.name.maxLength;
    assert.equal(await create({ name: 'x'.repeat(longest), data: { a: [1] } }), 201);
    assert.equal(await create({}), 201, 'each field optional');
    assert.equal(await create({ name: 'x'.repeat(longest + 1) }), 400);
    assert.equal(await create({ name: 7 }), 400);
    assert.equal(await create({ data: [] }), 400);
    assert.equal(await create({ data: 'text' }), 400);
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
