/**
 * GET /health: liveness with the instance's identity (original keys plus
 * ours). Always 200 while the process serves: `status` is "degraded", with
 * `problems`, when background work keeps failing (a restart would not mend a
 * full or failing disk, so a liveness probe must not restart it for that).
 */
import type { FastifyInstance } from 'fastify';
import type { StatefulService } from '../service/service.js';
import { routeErrors } from './answers.js';
import { type Health, HealthSchema } from './schemas.js';

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
  app.get('/health', { schema: healthSchema }, async (): Promise<Health> => {
    const uptime = service.uptimeSeconds();
    const id = service.instanceId;
    const { status, problems } = service.health();
    return { status, container: id, uptime, container_id: id, uptime_seconds: uptime, problems };
  });
}
