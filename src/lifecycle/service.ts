/**
 * The service's life: boot (take the data directory, count the start and
 * any unseen death of the previous instance), serve, and end in one of two
 * ways. A clean stop finishes requests in flight, logs `shutdown`, marks the
 * instance stopped and releases the directory. A `/crash` counts itself
 * durably, answers, and exits with status 1 without any cleanup.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ServiceConfig } from '../config.js';
import { newInstanceId } from '../domain/instance.js';
import { buildApp } from '../http/app.js';
import type { ServiceContext } from '../http/context.js';
import { ServiceMetrics } from '../http/metrics.js';
import { type BootRecoveryReport, FileStore } from '../store/file/file-store.js';
import { nodeFileSystem } from '../store/file/file-system.js';
import { timedFileSystem } from '../store/file/timed-file-system.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import type { BackgroundFailureListener, BackgroundTask, Store } from '../store/store.js';

export interface RunningService {
  app: FastifyInstance;
  store: Store;
  url: string;
  /** A clean stop; safe to call more than once. */
  stop(reason: string): Promise<void>;
}

export interface ServiceHooks {
  /** Ends the process after a /crash answer (process.exit(1) in production). */
  exitAfterCrash(): void;
}

function logRecovery(logger: FastifyBaseLogger, recovery: BootRecoveryReport): void {
  if (recovery.tempFilesRemoved.length > 0) {
    logger.warn({ files: recovery.tempFilesRemoved }, 'removed temp files of unfinished writes');
  }
  if (recovery.eventLogRepair !== null) {
    logger.warn(
      recovery.eventLogRepair,
      recovery.eventLogRepair.savedAs === null
        ? 'dropped a torn last line off events.jsonl'
        : 'cut damaged lines off events.jsonl into quarantine/',
    );
  }
  for (const entry of recovery.quarantined) logger.warn(entry, 'quarantined an unreadable session');
  if (recovery.statsRecovered !== null) logger.warn(recovery.statsRecovered);
}

/** How often a background task that keeps failing is logged again (it is counted every time). */
const FAILURE_LOG_INTERVAL_MS = 10_000;

/** Logs and counts every failure of a store's background work. */
function reportBackgroundFailures(
  logger: FastifyBaseLogger,
  metrics: ServiceMetrics,
): BackgroundFailureListener {
  const lastLogged = new Map<BackgroundTask, { at: number; since: number }>();
  return (task, error) => {
    metrics.backgroundFailures.inc({ task });
    const now = performance.now();
    const last = lastLogged.get(task);
    if (last !== undefined && now - last.at < FAILURE_LOG_INTERVAL_MS) {
      last.since++;
      return;
    }
    lastLogged.set(task, { at: now, since: 0 });
    logger.warn(
      { task, err: error, failures_since_last_line: last?.since ?? 0 },
      'background work failed; it is retried',
    );
  };
}

async function openStore(
  config: ServiceConfig,
  instanceId: string,
  metrics: ServiceMetrics,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
): Promise<Store> {
  const onBackgroundFailure = reportBackgroundFailures(logger, metrics);
  if (config.store.kind === 'postgres') {
    return PostgresStore.open(config.store.databaseUrl, instanceId, {
      leaseMs: config.store.leaseMs,
      onBackgroundFailure,
      onLeaseLost() {
        logger.fatal('another replica found this lease expired and counted a crash: exiting');
        hooks.exitAfterCrash();
      },
    });
  }
  const { store, recovery } = await FileStore.open(
    config.dataDir,
    instanceId,
    timedFileSystem(nodeFileSystem, metrics.observeSync),
    { budgetBytes: config.storage.budgetBytes, onBackgroundFailure },
  );
  logRecovery(logger, recovery);
  return store;
}

export async function startService(
  config: ServiceConfig,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
): Promise<RunningService> {
  const startedAt = performance.now();
  const instanceId = newInstanceId();
  const metrics = new ServiceMetrics();
  const store = await openStore(config, instanceId, metrics, logger, hooks);

  const verdict = await store.startInstance();
  for (const dead of verdict.detected) {
    logger.warn({ dead }, 'an earlier instance died without a clean stop');
  }

  let requestsThisInstance = 0;
  let crashing: Promise<number> | null = null;
  const context: ServiceContext = {
    store,
    startedAt,
    countRequest() {
      requestsThisInstance++;
      store.countRequest();
    },
    requestsThisInstance: () => requestsThisInstance,
    recordCrash() {
      crashing ??= store.recordCrash().then((crashCount) => {
        logger.fatal({ crash_count: crashCount }, 'crash requested: exiting hard');
        return crashCount;
      });
      return crashing;
    },
    exitAfterCrash: hooks.exitAfterCrash,
  };

  const app = buildApp(context, {
    logger,
    limits: config.limits,
    sessionMaxNodes: config.storage.sessionMaxNodes,
    allowedHosts: config.allowedHosts,
    crash: { enabled: config.crashEndpoint, adminToken: config.adminToken },
    metrics,
  });
  let stopping: Promise<void> | null = null;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, 'stopping');
      const closed = app.close();
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) =>
          setTimeout(() => resolve(true), config.shutdownTimeoutMs).unref(),
        ),
      ]);
      if (timedOut) logger.warn('requests still in flight after the shutdown timeout');
      await store.stopInstance({
        reason,
        uptime_seconds: Math.round((performance.now() - startedAt) / 100) / 10,
      });
      await store.close();
      logger.info({ reason }, 'stopped cleanly');
    })();
    return stopping;
  };

  let address: string;
  try {
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    logger.error({ err: error }, 'cannot listen');
    await stop('listen_failed');
    throw error;
  }
  const port = app.server.address();
  logger.info(
    {
      url: address,
      port: typeof port === 'object' && port !== null ? port.port : config.port,
      container_id: instanceId,
      ...(config.store.kind === 'file' ? { data_dir: config.dataDir } : { store: 'postgres' }),
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    },
    'listening',
  );
  return { app, store, url: address, stop };
}
