/**
 * GET /metrics in the Prometheus text format (prom-client): requests and
 * their latency by route and status, the durable counters and what the
 * instance holds as gauges read at scrape time, fsync latency by kind of
 * file, and Node's process metrics. One registry per service, not the global
 * one, so several apps in one process (tests) never share counts.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StatefulService } from '../service/service.js';
import { routeErrors } from './answers.js';
import { RequestMetrics } from './request-metrics.js';

const metricsSchema = {
  operationId: 'getMetrics',
  tags: ['service'],
  summary: 'Prometheus metrics',
  response: {
    200: {
      description: 'the text exposition format',
      content: {
        'text/plain': {
          schema: Type.String({
            examples: ['# TYPE stateful_live_sessions gauge\nstateful_live_sessions 9\n'],
          }),
        },
      },
    },
    ...routeErrors('read'),
  },
};

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly syncs = new Histogram({
    name: 'stateful_fsync_duration_seconds',
    help: 'fsync and fdatasync calls of the data directory, by kind of file',
    labelNames: ['file'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  /** http_requests_total and http_request_duration_seconds (request-metrics.ts). */
  readonly requests = new RequestMetrics(this.registry);

  readonly backgroundFailures = new Counter({
    name: 'stateful_background_failures_total',
    help: 'Failures of background work (checkpoint, snapshot, stats_flush, log_compaction, lease_renewal, event_feed, expiry_sweep, event_retention, idle_connection), each retried',
    labelNames: ['task'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** For timedFileSystem: one fsync of a `file` kind took `seconds`. */
  readonly observeSync = (file: string, seconds: number): void => {
    this.syncs.observe({ file }, seconds);
  };

  private scrapeGauges: (() => Promise<void>) | undefined;

  /** Gauges read from the running service at each scrape. */
  watch(service: StatefulService): void {
    const gauge = (name: string, help: string) =>
      new Gauge({ name, help, registers: [this.registry] });
    const startups = gauge(
      'stateful_startup_count',
      'Starts of the service on this volume (durable)',
    );
    const crashes = gauge(
      'stateful_crash_count',
      'Crashes on this volume, /crash and detected (durable)',
    );
    const created = gauge(
      'stateful_total_sessions',
      'Sessions ever created on this volume (durable)',
    );
    const served = gauge(
      'stateful_total_requests',
      'Requests served on this volume (durable, lazily)',
    );
    const live = gauge('stateful_live_sessions', 'Sessions stored now');
    const expired = gauge(
      'stateful_expired_sessions',
      'Sessions the sweep removed once they expired on this volume (durable, lazily)',
    );
    const events = gauge('stateful_event_log_events', 'Lines in events.jsonl');
    const here = gauge(
      'stateful_requests_this_instance',
      'Requests served by this instance (gone on restart)',
    );
    const uptime = gauge('stateful_uptime_seconds', 'Seconds since this instance started');
    const footprint = gauge(
      'stateful_sessions_footprint_bytes',
      'What the stored sessions cost in memory, counted against STORAGE_BUDGET_MB (file store)',
    );
    const budget = gauge(
      'stateful_storage_budget_bytes',
      'STORAGE_BUDGET_MB in bytes (file store)',
    );
    new Gauge({
      name: 'stateful_instance_info',
      help: 'This instance: its container_id (always 1)',
      labelNames: ['container_id'],
      registers: [this.registry],
    }).set({ container_id: service.instanceId }, 1);
    // One read of the store a scrape (a database shared by replicas answers
    // the counters, the session count and the log's length in two queries).
    this.scrapeGauges = async () => {
      const [state, eventCount] = await Promise.all([service.state(), service.eventCount()]);
      startups.set(state.stats.startup_count);
      crashes.set(state.stats.crash_count);
      created.set(state.stats.total_sessions);
      served.set(state.stats.total_requests);
      live.set(state.liveSessions);
      expired.set(state.stats.expired_sessions);
      events.set(eventCount);
      here.set(state.requestsThisInstance);
      uptime.set(state.uptimeSeconds);
      const usage = service.storageUsage();
      if (usage !== null) {
        footprint.set(usage.bytes);
        budget.set(usage.budgetBytes);
      }
    };
  }

  /** The registry in the text format, the watched gauges read first. */
  async scrape(): Promise<string> {
    await this.scrapeGauges?.();
    return this.registry.metrics();
  }
}

/** What a response counts (request-metrics.ts), for the app's onResponse hook. */
export function responseObserver(
  metrics: ServiceMetrics,
): (request: FastifyRequest, reply: FastifyReply) => void {
  return (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.record(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  };
}

export function metricsRoutes(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.scrape();
  });
}
