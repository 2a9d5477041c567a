/** GET /state: the instance's ephemeral facts next to the persisted counters. */
import type { FastifyInstance } from 'fastify';
import { type ServiceContext, uptimeSeconds } from './context.js';

const stateSchema = {
  response: {
    200: {
      type: 'object',
      properties: {
        container_id: { type: 'string' },
        uptime_seconds: { type: 'number' },
        requests_this_instance: { type: 'integer' },
        startup_count: { type: 'integer' },
        crash_count: { type: 'integer' },
        total_sessions: { type: 'integer' },
        total_requests: { type: 'integer' },
        live_sessions: { type: 'integer' },
        live_replicas: { type: 'integer' },
      },
    },
  },
} as const;

export function stateRoutes(app: FastifyInstance, context: ServiceContext): void {
  app.get('/state', { schema: stateSchema }, async () => {
    const { store } = context;
    const { stats, liveSessions, liveInstances: liveReplicas } = await store.overview();
    return {
      container_id: store.instanceId,
      uptime_seconds: uptimeSeconds(context),
      requests_this_instance: context.requestsThisInstance(),
      startup_count: stats.startup_count,
      crash_count: stats.crash_count,
      total_sessions: stats.total_sessions,
      total_requests: stats.total_requests,
      live_sessions: liveSessions,
      // Ours: how many replicas serve this data now (container_id says which one answered).
      live_replicas: liveReplicas,
    };
  });
}
