/**
 * GET /health: liveness with the instance's identity (original keys plus
 * ours). Always 200 while the process serves: `status` is "degraded", with
 * `problems`, when background work keeps failing (a restart would not mend a
 * full or failing disk, so a liveness probe must not restart it for that).
 */
import type { FastifyInstance } from 'fastify';
import type { StatefulService } from '../service/service.js';

const healthSchema = {
  response: {
    200: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        container: { type: 'string' },
        uptime: { type: 'number' },
        container_id: { type: 'string' },
        uptime_seconds: { type: 'number' },
        problems: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

export function healthRoutes(app: FastifyInstance, service: StatefulService): void {
  app.get('/health', { schema: healthSchema }, async () => {
    const uptime = service.uptimeSeconds();
    const id = service.instanceId;
    const { status, problems } = service.health();
    return { status, container: id, uptime, container_id: id, uptime_seconds: uptime, problems };
  });
}
