/**
 * `GET /health` answered before Fastify routes it. Probes ask for it every
 * few seconds from every orchestrator and load balancer, and Fastify's
 * request path with the service's hooks (a request and a reply object, the
 * hook runners, a listener for the answer's end) costs more than the answer
 * itself (docs/performance.md). The plain request is answered here with the
 * same bytes the route sends, counted (`total_requests`), checked (Host) and
 * measured (`http_*` metrics) as there; anything else goes on to Fastify,
 * which answers it as any request:
 *
 * - another method or path, a query string, a body or a Content-Encoding;
 * - a Host the guard refuses (Fastify then answers the refusal);
 * - a service that stops (the 503 comes from the onRequest hook);
 * - a connection with a request of it still in progress, or with answers
 *   its client has not read yet, so that the pipelining bound holds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { StatefulService } from '../service/service.js';
import { healthBody } from './health.js';
import type { ServiceMetrics } from './metrics.js';
import { MIN_COUNTED_LENGTH } from './unread-answers.js';

export interface HealthFastPathDoors {
  service: StatefulService;
  metrics: ServiceMetrics;
  /** The Host guard (throws for a Host it refuses). */
  checkHost: (request: IncomingMessage) => void;
  /** Whether the service has begun to stop. */
  stopping: () => boolean;
  /** Whether a connection has no request in progress (pipelining.ts). */
  idle: (socket: Socket) => boolean;
  /** Tells the answer turns what an answer weighed (answer-turns.ts). */
  built: (characters: number) => void;
}

/** Answers `request` if it is a plain `GET /health` (true), else leaves it alone (false). */
export function healthFastPath(
  doors: HealthFastPathDoors,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { service, metrics } = doors;
  const body = healthBody(service);
  // Named: a CPU profile shows it by its name (bench/profile.ts).
  return function answerHealth(request, response) {
    if (request.url !== '/health' || request.method !== 'GET') return false;
    const { headers, socket } = request;
    if (
      headers['content-length'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      headers['content-encoding'] !== undefined ||
      doors.stopping() ||
      // Node queues an answer behind one still being written (no socket yet).
      response.socket !== socket ||
      socket.writableLength > 0 ||
      !doors.idle(socket)
    ) {
      return false;
    }
    try {
      doors.checkHost(request);
    } catch {
      return false;
    }
    const started = performance.now();
    const answer = body();
    // A large answer is weighed against the unread-answers bound by Fastify's onSend.
    if (answer.length >= MIN_COUNTED_LENGTH) return false;
    service.countRequest();
    doors.built(answer.length);
    response.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(answer),
    });
    response.end(answer);
    metrics.requests.record('GET', '/health', 200, (performance.now() - started) / 1000);
    return true;
  };
}
