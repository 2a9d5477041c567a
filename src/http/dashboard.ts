/**
 * The dashboard: `/` and its assets from public/, read once at start and
 * served from memory with an ETag. The page is plain HTML, CSS and ES modules
 * (type-checked from their JSDoc by `npm run check`): no build step, no framework, no request to anywhere but this
 * service, and a Content-Security-Policy that allows nothing else.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../domain/errors.js';
import { PROJECT_ROOT } from '../project-root.js';
import { refusal, routeErrors } from './answers.js';

/** public/ beside src/ in the repository, and beside dist/ in the image. */
export const DEFAULT_PUBLIC_DIR = fileURLToPath(new URL('public/', PROJECT_ROOT));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The page's ES modules (app.js imports the others). */
const MODULES = [
  'app.js',
  'api.js',
  'dom.js',
  'expiry.js',
  'live.js',
  'search.js',
  'sessions.js',
  'status.js',
  'timeline.js',
];

const pageSchema = {
  operationId: 'getDashboard',
  tags: ['service'],
  summary: 'The dashboard',
  response: {
    200: {
      description: 'the page',
      content: {
        'text/html': { schema: Type.String({ examples: ['<!doctype html><html lang="en">…'] }) },
      },
    },
    ...routeErrors('read', refusal(NotFoundError, 'the dashboard is not installed')),
  },
};

const ASSETS = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  ...MODULES.map((file) => ({
    path: `/dashboard/${file}`,
    file,
    type: 'text/javascript; charset=utf-8',
  })),
  { path: '/dashboard/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
];

export function dashboardRoutes(app: FastifyInstance, publicDir = DEFAULT_PUBLIC_DIR): void {
  for (const asset of ASSETS) {
    let body: Buffer | null = null;
    try {
      body = readFileSync(join(publicDir, asset.file));
    } catch {
      body = null; // answered with a 404 below, so the API keeps working
    }
    const etag = body === null ? '' : `"${createHash('sha1').update(body).digest('base64url')}"`;
    // The page is in the document; its assets are files of the page, not the API.
    const schema = asset.path === '/' ? pageSchema : { hide: true };
    app.get(asset.path, { schema }, (request, reply) => {
      if (body === null) {
        throw new NotFoundError(
          `The dashboard is not installed (no ${asset.file} in ${publicDir}).`,
        );
      }
      reply
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .header('etag', etag)
        .type(asset.type);
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.send(body);
    });
  }
}
