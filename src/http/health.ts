/** GET /health: liveness with the instance's identity (original keys plus ours). */
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
      },
    },
  },
} as const;

export function healthRoutes(app: FastifyInstance, service: StatefulService): void {
  app.get('/health', { schema: healthSchema }, async () => {
    const uptime = service.uptimeSeconds();
    const id = service.instanceId;
    return { status: 'ok', container: id, uptime, container_id: id, uptime_seconds: uptime };
  });
}
