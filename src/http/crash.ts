/**
 * POST /crash: a simulated hard crash. The crash is counted on disk first,
 * then answered 202, then the process exits with status 1 without any
 * graceful cleanup, as a real crash would.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from './context.js';

const crashSchema = {
  response: {
    202: {
      type: 'object',
      properties: { status: { type: 'string' }, crash_count: { type: 'integer' } },
    },
  },
} as const;

export function crashRoutes(app: FastifyInstance, context: ServiceContext): void {
  app.post('/crash', { schema: crashSchema }, async (_request, reply) => {
    const crashCount = await context.recordCrash();
    reply.raw.once('finish', () => context.exitAfterCrash());
    reply.raw.once('close', () => context.exitAfterCrash());
    return reply.code(202).send({ status: 'crashing', crash_count: crashCount });
  });
}
