/** GET /state: the instance's ephemeral facts next to the persisted counters. */
import type { FastifyInstance } from 'fastify';
import type { StatefulService } from '../service/service.js';
import { routeErrors } from './answers.js';
import { type State, StateSchema } from './schemas.js';

const stateSchema = {
  operationId: 'getState',
  tags: ['service'],
  summary: 'The instance and the durable counters',
  response: { 200: StateSchema, ...routeErrors('read') },
};

/** The answer of GET /state (also pushed to the dashboard over its event stream). */
export async function stateAnswer(service: StatefulService): Promise<State> {
  const state = await service.state();
  const { stats } = state;
  return {
    container_id: state.instanceId,
    uptime_seconds: state.uptimeSeconds,
    requests_this_instance: state.requestsThisInstance,
    startup_count: stats.startup_count,
    crash_count: stats.crash_count,
    total_sessions: stats.total_sessions,
    total_requests: stats.total_requests,
    live_sessions: state.liveSessions,
    // Ours: how many replicas serve this data now (container_id says which one answered).
    live_replicas: state.liveInstances,
    // Ours: sessions the sweep removed once they expired.
    expired_sessions: stats.expired_sessions,
    // Ours: "ok", or "degraded" with the reasons (see GET /health).
    status: state.status,
    problems: state.problems,
  };
}

export function stateRoutes(app: FastifyInstance, service: StatefulService): void {
  app.get('/state', { schema: stateSchema }, (): Promise<State> => stateAnswer(service));
}
