/**
 * POST /crash: a simulated hard crash, a demo switch. The crash is counted on
 * disk first, then answered 202, then the process exits with status 1 without
 * any graceful cleanup, as a real crash would. `CRASH_ENDPOINT=off` removes
 * the route; `ADMIN_TOKEN` makes it require `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { StorageFullError, StorageUnavailableError, UnauthorizedError } from '../domain/errors.js';
import type { StatefulService } from '../service/service.js';
import { refusal, routeErrors } from './answers.js';
import { CrashAnswerSchema } from './schemas.js';

/** The scheme of `Authorization: Bearer <ADMIN_TOKEN>` (named in the document's components). */
export const ADMIN_SECURITY_SCHEME = 'adminToken';

/** POST /crash; with an ADMIN_TOKEN, it needs the token (and answers 401 without). */
function crashSchema(guarded: boolean) {
  return {
    operationId: 'crash',
    tags: ['admin'],
    summary: 'Crash the service on purpose (a demo switch)',
    description:
      'Counts the crash, answers, then exits with status 1. Absent with CRASH_ENDPOINT=off; ' +
      'needs `Authorization: Bearer <ADMIN_TOKEN>` when that is set.',
    security: guarded ? [{ [ADMIN_SECURITY_SCHEME]: [] }] : [],
    response: {
      202: { ...CrashAnswerSchema, description: 'the crash is counted; the process exits next' },
      ...routeErrors(
        'write',
        ...(guarded ? [refusal(UnauthorizedError, 'the bearer token is missing or wrong')] : []),
        refusal(StorageUnavailableError, 'the crash could not be counted durably'),
        refusal(StorageFullError, 'the disk is full: the crash could not be counted'),
      ),
    },
  };
}

export interface CrashOptions {
  enabled: boolean;
  adminToken: string | null;
  /** Called once the crash answer is on the wire: ends the process hard (process.exit(1)). */
  exit(): void;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Compares in constant time (over digests, so lengths leak nothing either). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^bearer +(.+)$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token)) && presented.length > 0;
}

export function crashRoutes(
  app: FastifyInstance,
  service: StatefulService,
  options: CrashOptions,
): void {
  if (!options.enabled) return;
  app.post(
    '/crash',
    { schema: crashSchema(options.adminToken !== null) },
    async (request, reply) => {
      if (
        options.adminToken !== null &&
        !bearerMatches(request.headers.authorization, options.adminToken)
      ) {
        reply.header('www-authenticate', 'Bearer');
        throw new UnauthorizedError(
          'POST /crash needs the header "Authorization: Bearer <ADMIN_TOKEN>".',
        );
      }
      const crashCount = await service.crash();
      request.log.fatal({ crash_count: crashCount }, 'crash requested: exiting hard');
      reply.raw.once('finish', options.exit);
      reply.raw.once('close', options.exit);
      return reply.code(202).send({ status: 'crashing', crash_count: crashCount });
    },
  );
}
