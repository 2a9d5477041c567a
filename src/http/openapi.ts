/**
 * The API's OpenAPI 3.1 document at /openapi.json, and a reference page at
 * /docs (Swagger UI, served from its package's files: no CDN). The document
 * is built by @fastify/swagger from the routes as registered, from their
 * schemas alone: each route declares its query string, headers, body,
 * answers (errors included, from the error kinds: answers.ts) and words.
 * What is here is what belongs to the whole document: its info, the tags,
 * the bearer scheme, and the named shapes (schemas.ts). A test checks every
 * route is in the document, and lints it.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { packageVersion } from '../version.js';
import { routeErrors } from './answers.js';
import { ADMIN_SECURITY_SCHEME } from './crash.js';
import { addComponents } from './schemas.js';

interface Schema {
  $ref?: string;
  examples?: unknown[];
}

interface Media {
  schema?: Schema;
  example?: unknown;
  examples?: unknown;
}

interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean; content?: Record<string, Media> };
  responses?: Record<string, { content?: Record<string, Media> }>;
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema>; securitySchemes?: Record<string, unknown> };
}

/**
 * Each body and answer shows an example of its own (the reference page fills
 * its forms from it, rather than with `additionalProp1`): the first of its
 * schema's examples, or of the named shape it refers to.
 */
function showExamples(document: OpenApiDocument, operation: Operation): void {
  const named = document.components?.schemas ?? {};
  const media = [
    ...Object.values(operation.requestBody?.content ?? {}),
    ...Object.values(operation.responses ?? {}).flatMap((answer) =>
      Object.values(answer.content ?? {}),
    ),
  ];
  for (const one of media) {
    if (one.example !== undefined || one.examples !== undefined) continue;
    const ref = one.schema?.$ref?.replace('#/components/schemas/', '');
    const schema = ref === undefined ? one.schema : named[ref];
    if (schema?.examples !== undefined && schema.examples.length > 0) {
      one.example = schema.examples[0];
    }
  }
}

const openapiSchema = {
  operationId: 'getOpenApi',
  tags: ['service'],
  summary: 'This document',
  response: {
    200: {
      description: 'OpenAPI 3.1',
      type: 'object',
      additionalProperties: true,
      examples: [{ openapi: '3.1.0', info: { title: 'Stateful service', version: '1.0.0' } }],
    },
    ...routeErrors('read'),
  },
};

export function registerOpenApi(app: FastifyInstance): void {
  addComponents(app);
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stateful service',
        version: packageVersion(),
        description:
          'Sessions, an append-only event log and lifecycle counters that outlive the ' +
          'process. Errors are `{"error":"<code>","message":"…"}`; a method a path does not ' +
          'take is a 405 with an `Allow` header.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'this service' }],
      // No operation needs credentials unless it says so (POST /crash, with an ADMIN_TOKEN).
      security: [],
      tags: [
        { name: 'sessions', description: 'Sessions: create, list, read, update, delete' },
        { name: 'events', description: 'The append-only event log' },
        { name: 'service', description: 'Health, state, metrics, the dashboard and this document' },
        { name: 'admin', description: 'Switches for operators' },
      ],
      components: {
        securitySchemes: {
          [ADMIN_SECURITY_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description: 'ADMIN_TOKEN, where the service has one',
          },
        },
      },
    },
    // The named shapes keep their $id as their name in components.schemas.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transformObject: (documents) => {
      const document = (documents as { openapiObject: OpenApiDocument }).openapiObject;
      for (const operations of Object.values(document.paths ?? {})) {
        for (const operation of Object.values(operations)) {
          // Every body may be left out (then it is `{}`).
          if (operation.requestBody !== undefined) operation.requestBody.required = false;
          showExamples(document, operation);
        }
      }
      // The bearer scheme is there only while a route takes it (POST /crash, with an ADMIN_TOKEN).
      const schemes = document.components?.securitySchemes ?? {};
      const used = new Set(
        Object.values(document.paths ?? {})
          .flatMap((operations) => Object.values(operations))
          .flatMap((operation) => (operation.security ?? []).flatMap(Object.keys)),
      );
      for (const name of Object.keys(schemes)) if (!used.has(name)) delete schemes[name];
      return document;
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
    scope.get('/openapi.json', { schema: openapiSchema }, async () => scope.swagger());
  });
}
