/**
 * The API's OpenAPI 3.1 document at /openapi.json, and a reference page at
 * /docs (Swagger UI, served from its package's files: no CDN). The document
 * is built by @fastify/swagger from the routes as registered: their params
 * and answers from the route schemas (schemas.ts), and from ROUTE_DOCS what
 * the routes read themselves (bodies and query strings are validated by the
 * domain's rules, with its own messages, so they are documented here with
 * the same TypeBox schemas rather than validated twice), the error answers,
 * and a sentence a route. A test checks every route is in the document.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { MAX_EVENT_LIMIT, MAX_POSITION } from '../domain/event.js';
import { MAX_PAGE_LIMIT, MAX_SEARCH_LENGTH } from '../domain/page.js';
import { SessionInputSchema } from '../domain/schemas.js';
import { packageVersion } from '../version.js';
import { ErrorSchema, SessionListingSchema, SessionPageSchema } from './schemas.js';

const text = (description: string, mediaType = 'text/plain') => ({
  description,
  content: { [mediaType]: { schema: Type.String() } },
});

const error = (description: string) => ({ description, ...ErrorSchema });

const SESSION_ERRORS = {
  400: error('invalid input: the message says what'),
  413: error('the body is over 1 MiB, or data holds more than SESSION_MAX_NODES values'),
  503: error('the write could not be made durable; nothing was changed'),
  507: error('the disk is full, or the sessions use STORAGE_BUDGET_MB; nothing was changed'),
};

const NOT_FOUND = { 404: error('no such session') };

const PAGE_QUERY = Type.Object({
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PAGE_LIMIT,
      description: 'a page of this many (any of these parameters asks for a page)',
    }),
  ),
  order: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: ['oldest', 'newest'] })),
  after: Type.Optional(Type.String({ description: 'the `next` of the previous page' })),
  q: Type.Optional(
    Type.String({
      maxLength: MAX_SEARCH_LENGTH,
      description: 'only sessions whose name contains this (any case) or whose id starts with it',
    }),
  ),
});

const EVENT_LIMIT = Type.Optional(
  Type.Integer({ minimum: 1, maximum: MAX_EVENT_LIMIT, description: 'default 50' }),
);

/** What a route's own schema does not say, by `METHOD path` as registered. */
const ROUTE_DOCS: Record<string, FastifySchema & Record<string, unknown>> = {
  'GET /health': {
    summary: 'Liveness and health',
    description:
      'The original keys (status, container, uptime), then ours. Still 200 when degraded: ' +
      '`problems` says why.',
  },
  'GET /state': { summary: 'The instance and the durable counters' },
  'POST /sessions': {
    summary: 'Create a session',
    description: 'A body is read as JSON whatever its Content-Type; no body is `{}`.',
    body: SessionInputSchema,
    response: { ...SESSION_ERRORS },
  },
  'GET /sessions': {
    summary: 'Every session, or a page of them',
    description:
      'With no parameters, the original listing `{"sessions":[…],"count":N}` in creation ' +
      'order, streamed (it has no `next`). With any of limit, order, after or q, one page and, ' +
      'while there is more, a `Link: <…>; rel="next"` header.',
    querystring: PAGE_QUERY,
    response: {
      200: {
        description: 'a page, or with no parameters the whole listing',
        anyOf: [SessionPageSchema, SessionListingSchema],
      },
      400: error('a bad limit, order, cursor or search'),
    },
  },
  'GET /sessions/:id': { summary: 'One session', response: { ...NOT_FOUND } },
  'PUT /sessions/:id': {
    summary: 'Replace name and/or data (the original update)',
    description: 'access_count + 1, last_active now, a session_updated event.',
    body: SessionInputSchema,
    response: { ...NOT_FOUND, ...SESSION_ERRORS },
  },
  'PATCH /sessions/:id': {
    summary: 'Merge a JSON Merge Patch (RFC 7396) into the session',
    consumes: ['application/merge-patch+json', 'application/json'],
    description:
      'Content-Type application/merge-patch+json (plain JSON is read the same). data is ' +
      'merged key by key; null removes a key. Counted as a PUT.',
    body: SessionInputSchema,
    response: {
      ...NOT_FOUND,
      ...SESSION_ERRORS,
      415: error('a JSON Patch (application/json-patch+json)'),
    },
  },
  'DELETE /sessions/:id': {
    summary: 'Delete a session',
    response: { ...NOT_FOUND, 503: SESSION_ERRORS[503] },
  },
  'GET /events': {
    summary: 'The last events, or a page further back',
    querystring: Type.Object({
      limit: EVENT_LIMIT,
      before: Type.Optional(
        Type.Integer({
          minimum: 0,
          maximum: MAX_POSITION,
          description:
            "a page's next, an event's position (a larger one than the log holds: the last page)",
        }),
      ),
    }),
    response: { 400: error('a bad limit or before') },
  },
  'GET /events/stream': {
    summary: 'Server-Sent Events: the recent events, then each new one',
    description:
      "Each message's id is the event's position; reconnect with Last-Event-ID (or since=) " +
      'to resume after it.',
    querystring: Type.Object({
      limit: EVENT_LIMIT,
      since: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_POSITION })),
      state: Type.Optional(
        Type.Unsafe<string>({
          type: 'string',
          enum: ['0', '1'],
          description:
            '1: also a `state` message (the /state answer) on connect, every 2 s and after events',
        }),
      ),
    }),
    headers: Type.Object({
      'last-event-id': Type.Optional(
        Type.String({ pattern: '^[0-9]{1,15}$', description: "an event's position, as `since`" }),
      ),
    }),
    response: {
      200: text('the event stream', 'text/event-stream'),
      400: error('a bad limit, since or Last-Event-ID'),
      503: error('MAX_STREAMS streams are open; retry after Retry-After seconds'),
    },
  },
  'POST /crash': {
    summary: 'Crash the service on purpose (a demo switch)',
    description:
      'Counts the crash, answers, then exits with status 1. Absent with CRASH_ENDPOINT=off; ' +
      'needs `Authorization: Bearer <ADMIN_TOKEN>` when that is set.',
    response: { 401: error('the bearer token is missing or wrong') },
  },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    response: { 200: text('the text exposition format') },
  },
  'GET /': { summary: 'The dashboard', response: { 200: text('the page', 'text/html') } },
  'GET /openapi.json': {
    summary: 'This document',
    response: { 200: { description: 'OpenAPI 3.1', type: 'object', additionalProperties: true } },
  },
};

interface OpenApiDocument {
  paths?: Record<string, Record<string, { requestBody?: { required?: boolean } }>>;
}

/** The dashboard's assets are files of the page, not the API. */
const UNDOCUMENTED = /^\/(dashboard|docs)\//;

export function registerOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stateful service',
        version: packageVersion(),
        description:
          'Sessions, an append-only event log and lifecycle counters that outlive the ' +
          'process. Errors are `{"error":"<code>","message":"…"}`.',
      },
    },
    // Every body may be left out (then it is `{}`).
    transformObject: (documents) => {
      const document = (documents as { openapiObject: OpenApiDocument }).openapiObject;
      for (const operations of Object.values(document.paths ?? {})) {
        for (const operation of Object.values(operations)) {
          if (operation.requestBody !== undefined) operation.requestBody.required = false;
        }
      }
      return document;
    },
    transform: ({ schema, url, route }) => {
      const method = Array.isArray(route.method) ? route.method[0] : route.method;
      const docs = ROUTE_DOCS[`${String(method)} ${route.url}`];
      const own = (schema ?? {}) as FastifySchema & { response?: Record<string, unknown> };
      if (docs === undefined) return { schema: { ...own, hide: UNDOCUMENTED.test(url) }, url };
      const response = { ...(own.response ?? {}), ...((docs.response as object) ?? {}) };
      return { schema: { ...own, ...docs, response }, url };
    },
  });
  app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { validatorUrl: null, deepLinking: true },
    staticCSP: true,
    // Nothing from elsewhere: no validator badge, no upgrade to https on a plain-HTTP port.
    transformStaticCSP: (header) =>
      header
        .replace(' validator.swagger.io', '')
        .replace(' upgrade-insecure-requests;', '')
        .replaceAll(' https:', ''),
  });
  app.register(async (scope) => {
    scope.get('/openapi.json', { schema: { hide: false } }, async () => scope.swagger());
  });
}
