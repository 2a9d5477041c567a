/**
 * Builds the Fastify app: the JSON body parser, request counting, one error
 * handler, and one plugin a resource. Settings that Fastify defaults
 * differently from the spec are set here: no type coercion (`{"name":123}`
 * is a 400, not "123"), long path parameters reach the routes (a long id is a
 * 404, not a 414), bodies over 1 MiB are a 413. Before any route: the
 * request guards (Host, cross-site writes, Content-Encoding) and the bound
 * on pipelined requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyReply,
  LogController,
  type preValidationHookHandler,
} from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import type { AddressRange, HttpLimits } from '../config.js';
import { StoppingError } from '../domain/errors.js';
import { MAX_BODY_BYTES } from '../domain/schemas.js';
import type { StatefulService } from '../service/service.js';
import { AnswerTurns } from './answer-turns.js';
import { isLoopback, TrustedProxies } from './client-address.js';
import { limitConnectionsPerAddress } from './connections-per-address.js';
import { type CrashOptions, crashRoutes } from './crash.js';
import { dashboardRoutes } from './dashboard.js';
import {
  answerUnmetExpectation,
  clientErrorHandler,
  MAX_PARAM_LENGTH,
  refuseConnect,
  registerErrorHandlers,
} from './errors.js';
import { eventStreamRoutes } from './event-stream.js';
import { eventRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { healthFastPath } from './health-fast-path.js';
import { RefusedBody, readJsonBody } from './json-body.js';
import { metricsRoutes, responseObserver, ServiceMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { limitPipelining } from './pipelining.js';
import {
  checkContentEncoding,
  checkCrossSite,
  checkPatchMediaType,
  hostGuard,
} from './request-guards.js';
import { sessionRoutes } from './sessions.js';
import { stateRoutes } from './state.js';
import {
  boundUnreadAnswers,
  isHealth,
  isRead,
  UnreadAnswers,
  type UnreadGate,
} from './unread-answers.js';

export interface AppOptions {
  logger?: FastifyBaseLogger;
  limits: HttpLimits;
  /** ALLOWED_HOSTS (null: any host). */
  allowedHosts: readonly string[] | null;
  /** TRUST_PROXY (none when absent). */
  trustProxy?: readonly AddressRange[];
  crash: CrashOptions;
  /** The service's metrics (a fresh set when absent); its fsync histogram is fed by the store. */
  metrics?: ServiceMetrics;
  /** Where the dashboard's files are (public/ of the installation by default). */
  publicDir?: string;
}

/** How often an idle event stream gets a comment, well inside IDLE_TIMEOUT_MS. */
function heartbeatMs(limits: HttpLimits): number {
  return Math.min(15_000, Math.floor(limits.idleTimeoutMs / 2));
}

export function buildApp(service: StatefulService, options: AppOptions): FastifyInstance {
  const { limits } = options;
  const proxies = new TrustedProxies(options.trustProxy ?? []);
  // Set once the guards exist; until then every request goes to Fastify.
  let answerHealth: FastAnswer = () => false;
  const app = Fastify(
    fastifyOptions(options, proxies, (request, response) => answerHealth(request, response)),
  );
  readEveryBodyAsJson(app);
  const metrics = options.metrics ?? new ServiceMetrics();
  answerHealth = guardRequests(app, service, limits, { proxies, metrics }, options.allowedHosts);
  registerErrorHandlers(app);
  metrics.watch(service);
  // The document collects routes as they are registered: its plugin loads first.
  registerOpenApi(app);
  app.register(
    fastifyPlugin(async (root) => {
      metricsRoutes(root, metrics);
      dashboardRoutes(root, options.publicDir);
      healthRoutes(root, service);
      stateRoutes(root, service);
      sessionRoutes(root, service.sessions, limits.pageMaxBytes);
      eventRoutes(root, service);
      eventStreamRoutes(root, service, {
        heartbeatMs: heartbeatMs(limits),
        maxStreams: limits.maxStreams,
      });
      crashRoutes(root, service, options.crash);
    }),
  );
  app.server.maxConnections = limits.maxConnections;
  if (limits.maxConnectionsPerAddress > 0) {
    limitConnectionsPerAddress(
      app.server,
      limits.maxConnectionsPerAddress,
      (fields) => app.log.warn(fields, 'refused connections past MAX_CONNECTIONS_PER_ADDRESS'),
      proxies,
    );
  }
  app.server.on('checkExpectation', answerUnmetExpectation);
  app.server.on('connect', refuseConnect);
  return app;
}

/** Answers a request before Fastify routes it (true), or leaves it to Fastify (false). */
type FastAnswer = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * Fastify's own settings: the logger, the body limit, Node's timeouts, how
 * framework errors answer, and the server, which offers each request to
 * `answerFirst` (health-fast-path.ts) before Fastify.
 */
function fastifyOptions(
  options: AppOptions,
  proxies: TrustedProxies,
  answerFirst: FastAnswer,
): FastifyHttpOptions<Server, FastifyBaseLogger> {
  const { limits } = options;
  // Node checks those timeouts only every 30 s by default: a slow client
  // would hold its connection far past REQUEST_TIMEOUT_MS.
  // A missing Host is answered by checkHost in JSON, not by Node with an empty 400.
  // requestTimeout here too: Node refuses a headersTimeout past its default
  // requestTimeout (300 s) when it makes the server.
  const http = {
    connectionsCheckingInterval: 1_000,
    headersTimeout: limits.requestTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    requireHostHeader: false,
  };
  return {
    serverFactory: (handler) => {
      const server = createServer(http, (request, response) => {
        if (!answerFirst(request, response)) handler(request, response);
      });
      // What Fastify sets from the settings below on a server it makes itself.
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      server.setTimeout(limits.idleTimeoutMs);
      return server;
    },
    // request.ip: the address a trusted proxy forwarded, else the peer's.
    ...(proxies.none ? {} : { trustProxy: (address: string) => proxies.trusts(address) }),
    ...(options.logger !== undefined ? { loggerInstance: options.logger } : { logger: false }),
    // One log line per event worth knowing, not two per request.
    logController: new LogController({ disableRequestLogging: true }),
    // And so one logger for every request: a child per request (its id
    // bound) cost a pino object and its bindings each time (docs/performance.md).
    childLoggerFactory: (logger) => logger,
    bodyLimit: MAX_BODY_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ajv: { customOptions: { coerceTypes: false } },
    requestTimeout: limits.requestTimeoutMs,
    http,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Requests that arrive while the server closes are refused by the hook
    // below, in the service's own JSON (Fastify's would be its own shape).
    return503OnClosing: false,
    clientErrorHandler,
    // A path that cannot even be decoded names nothing that exists.
    frameworkErrors: (error, _request, rawReply) => {
      const badUrl = error.code === 'FST_ERR_BAD_URL';
      const reply = rawReply as unknown as FastifyReply;
      reply.code(badUrl ? 404 : 400).send({
        error: badUrl ? 'not_found' : 'bad_request',
        message: badUrl ? 'The URL is not validly percent-encoded.' : error.message,
      });
    },
  };
}

/** Every body is read as JSON (json-body.ts); one it refuses is refused before validation. */
function readEveryBodyAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  // Never fails (which would close the connection): a refused body is refused just after.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, readJsonBody(body as Buffer));
  });
  // Only the routes that take a body run the check: a GET pays no hook for it.
  const refuseRefusedBody: preValidationHookHandler = (request, _reply, done) => {
    if (request.body instanceof RefusedBody) done(request.body.error);
    else done();
  };
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    if (!methods.some((method) => BODY_METHODS.has(method))) return;
    route.preValidation = [refuseRefusedBody, ...[route.preValidation ?? []].flat()];
  });
}

/** The methods whose requests carry a body the service reads. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * What every request meets before its route (onRequest): it is counted,
 * refused while the service stops, checked by the guards (Host, cross-site,
 * Content-Encoding, PATCH's media type, the unread-answers bound), then
 * admitted past the pipelining bound and, a read, given its turn; and what
 * its answer ends (onResponse): its pipelining slot freed, its metrics.
 */
function guardRequests(
  app: FastifyInstance,
  service: StatefulService,
  limits: HttpLimits,
  { proxies, metrics }: { proxies: TrustedProxies; metrics: ServiceMetrics },
  allowedHosts: AppOptions['allowedHosts'],
): FastAnswer {
  const { admit, release, idle } = limitPipelining(app, limits.maxPipelinedRequests);
  const observe = responseObserver(metrics);
  // One hook for all that a response ends: its pipelining slot, its metrics.
  app.addHook('onResponse', function endResponse(request, reply, done) {
    release(request);
    observe(request, reply);
    done();
  });
  const turns = new AnswerTurns();
  const unreadGate = unreadAnswersGate(app, limits, proxies, turns);
  const checkHost = hostGuard(allowedHosts);
  let stopping = false;
  app.addHook('preClose', (done) => {
    stopping = true;
    done();
  });
  app.addHook('onRequest', function guardRequest(request, reply, done) {
    service.countRequest();
    if (stopping) {
      reply.header('connection', 'close').header('retry-after', '1');
      done(new StoppingError());
      return;
    }
    try {
      checkHost(request.raw);
      checkCrossSite(request);
      checkContentEncoding(request);
      checkPatchMediaType(request);
      unreadGate.check(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    // Every body is read as JSON, whatever its Content-Type says, even an empty
    // or malformed one (which Fastify would refuse before any parser runs).
    if (request.headers['content-type'] !== undefined) {
      request.headers['content-type'] = 'application/json';
    }
    if (!isRead(request) || isHealth(request)) {
      admit(request, done);
      return;
    }
    // A read, once admitted, waits for its turn to build its answer while
    // large answers keep the loop busy (answer-turns.ts); none waits otherwise.
    admit(request, () => {
      const turn = turns.turn();
      if (turn === null) done();
      else void turn.then(() => done(unreadGate.refusalAfterTurn(request, reply) ?? undefined));
    });
  });
  // The same checks and counts for the plain GET /health, before Fastify.
  return healthFastPath({
    service,
    metrics,
    checkHost,
    stopping: () => stopping,
    idle,
    built: (characters) => turns.built(characters),
  });
}

/** The bound on answers clients have not read (unread-answers.ts), with its onSend hook. */
function unreadAnswersGate(
  app: FastifyInstance,
  limits: HttpLimits,
  proxies: TrustedProxies,
  turns: AnswerTurns,
): UnreadGate {
  const unread = new UnreadAnswers(
    {
      maxWeight: limits.unreadAnswersBytes,
      maxPerAddress: limits.unreadAnswersPerAddressBytes,
    },
    {
      say: (fields) =>
        app.log.warn(fields, 'closed the connections holding the most unread answers'),
      // A trusted proxy that forwarded no client address carries many clients.
      unshared: (address) => isLoopback(address) || proxies.trusts(address),
    },
  );
  return boundUnreadAnswers(app, unread, turns);
}
