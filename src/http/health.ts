/**
 * GET /health: liveness with the instance's identity (original keys plus
 * ours). Always 200 while the process serves: `status` is "degraded", with
 * `problems`, when background work keeps failing (a restart would not mend a
 * full or failing disk, so a liveness probe must not restart it for that).
 */
import type { FastifyInstance } from 'fastify';
import type { StatefulService } from '../service/service.js';
import { routeErrors } from './answers.js';
import { HealthSchema } from './schemas.js';

const healthSchema = {
  operationId: 'getHealth',
  tags: ['service'],
  summary: 'Liveness and health',
  description:
    'The original keys (status, container, uptime), then ours. Still 200 when degraded: ' +
    '`problems` says why.',
  response: { 200: HealthSchema, ...routeErrors('health') },
};

export function healthRoutes(app: FastifyInstance, service: StatefulService): void {
  const body = healthBody(service);
  app.get('/health', { schema: healthSchema }, async (_request, reply) => {
    reply.type('application/json; charset=utf-8');
    return body();
  });
}

/**
 * What writes the answer as JSON, its keys in the schema's order (`Health`),
 * as JSON.stringify would: the route and the fast path (health-fast-path.ts)
 * send the same bytes, and a probe's answer costs a template, not a
 * serializer.
 */
export function healthBody(service: StatefulService): () => string {
  const id = JSON.stringify(service.instanceId);
  return () => {
    const uptime = service.uptimeSeconds(); // a finite number: written as JSON writes it
    const { status, problems } = service.health(); // "ok" or "degraded": nothing to escape
    const listed = problems.length === 0 ? '[]' : JSON.stringify(problems);
    return (
      `{"status":"${status}","container":${id},"uptime":${uptime},"container_id":${id},` +
      `"uptime_seconds":${uptime},"problems":${listed}}`
    );
  };
}
