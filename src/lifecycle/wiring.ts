/**
 * The service's life: boot (take the data directory, count the start and
 * any unseen death of the previous instance), serve, and end in one of two
 * ways. A clean stop finishes requests in flight, logs `shutdown`, marks the
 * instance stopped and releases the directory. A `/crash` counts itself
 * durably, answers, and exits with status 1 without any cleanup.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyListenOptions } from 'fastify';
import type { ServiceConfig } from '../config.js';
import { newInstanceId } from '../domain/instance.js';
import { buildApp } from '../http/app.js';
import { ServiceMetrics } from '../http/metrics.js';
import { answerWhileStarting, type StartingServer } from '../http/starting.js';
import { BackgroundHealth } from '../service/health.js';
import { StatefulService } from '../service/service.js';
import { type BootRecoveryReport, FileStore } from '../store/file/file-store.js';
import { nodeFileSystem, type WritableFileSystem } from '../store/file/file-system.js';
import { timedFileSystem } from '../store/file/timed-file-system.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import type { BackgroundReporter, BackgroundTask, InstanceStart, Store } from '../store/store.js';
import { CannotListenError } from './start-refusal.js';

export interface ServiceHooks {
  /** Ends the process after a /crash answer (process.exit(1) in production). */
  exitAfterCrash(): void;
}

/** What tests may change about how production wires the service. */
export interface WiringOptions {
  /** The file store's file system (a faulty one in tests). */
  fileSystem?: WritableFileSystem;
  /** Where the dashboard's files are (public/ of the installation by default). */
  publicDir?: string;
  /** Also told what the file store reports while it opens (the starting answer shows it). */
  onProgress?: (message: string, detail: Record<string, unknown>) => void;
}

export interface WiredService {
  app: FastifyInstance;
  service: StatefulService;
  store: Store;
  /**
   * Listens on config.host and `port` (config.port by default), or on a
   * socket already bound (`bound`: the starting answer's); resolves with the URL.
   */
  listen(port?: number, bound?: { handle: object; address: string }): Promise<string>;
  /** A clean stop; safe to call more than once. */
  stop(reason: string): Promise<void>;
}

export interface RunningService extends WiredService {
  url: string;
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

/** Logs and counts every failure of a store's background work, and its recovery. */
function logBackgroundWork(logger: FastifyBaseLogger, metrics: ServiceMetrics): BackgroundReporter {
  const lastLogged = new Map<BackgroundTask, { at: number; since: number; failures: number }>();
  return {
    failed(task, error, passing) {
      metrics.backgroundFailures.inc({ task });
      const now = performance.now();
      const last = lastLogged.get(task);
      if (last !== undefined && now - last.at < FAILURE_LOG_INTERVAL_MS) {
        last.since++;
        last.failures++;
        return;
      }
      lastLogged.set(task, { at: now, since: 0, failures: (last?.failures ?? 0) + 1 });
      logger.warn(
        { task, err: error, failures_since_last_line: last?.since ?? 0 },
        passing ? 'background work failed' : 'background work failed; it is retried',
      );
    },
    succeeded(task) {
      const last = lastLogged.get(task);
      if (last === undefined) return;
      lastLogged.delete(task);
      logger.info({ task, failures: last.failures }, 'background work succeeded again');
    },
  };
}

async function openStore(
  config: ServiceConfig,
  instanceId: string,
  metrics: ServiceMetrics,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
  fileSystem: WritableFileSystem,
  background: BackgroundReporter,
  onProgress: (message: string, detail: Record<string, unknown>) => void,
): Promise<Store> {
  if (config.store.kind === 'postgres') {
    return PostgresStore.open(config.store.databaseUrl, instanceId, {
      leaseMs: config.store.leaseMs,
      retention: config.retention,
      background,
      onLeaseLost() {
        logger.fatal('another replica found this lease expired and counted a crash: exiting');
        hooks.exitAfterCrash();
      },
    });
  }
  const { store, recovery } = await FileStore.open(
    config.dataDir,
    instanceId,
    timedFileSystem(fileSystem, metrics.observeSync),
    {
      budgetBytes: config.storage.budgetBytes,
      checkpointBacklog: config.storage.checkpointBacklog,
      snapshotJournalBytes: config.storage.snapshotJournalBytes,
      minFreeBytes: config.storage.minFreeBytes,
      spareFiles: config.storage.spareFiles,
      progressIntervalMs: config.storage.progressIntervalMs,
      retention: config.retention,
      background,
      progress: (message, detail) => {
        logger.info(detail, message);
        onProgress(message, detail);
      },
    },
  );
  logRecovery(logger, recovery);
  return store;
}

/**
 * Wires the service as production runs it (the store the config names, the
 * application, the HTTP app) and counts its start; tests build it here too.
 * Nothing listens until `listen()`.
 */
export async function wireService(
  config: ServiceConfig,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
  wiring: WiringOptions = {},
): Promise<WiredService> {
  const startedAt = performance.now();
  const metrics = new ServiceMetrics();
  const background = new BackgroundHealth(logBackgroundWork(logger, metrics));
  const store = await openStore(
    config,
    newInstanceId(),
    metrics,
    logger,
    hooks,
    wiring.fileSystem ?? nodeFileSystem,
    background,
    wiring.onProgress ?? (() => undefined),
  );
  const service = new StatefulService(store, {
    sessionMaxNodes: config.storage.sessionMaxNodes,
    startedAt,
    background,
    expiry: config.expiry,
  });
  let verdict: InstanceStart;
  try {
    verdict = await service.start();
  } catch (error) {
    await store.close();
    throw error;
  }
  for (const dead of verdict.detected) {
    logger.warn({ dead }, 'an earlier instance died without a clean stop');
  }

  const app = buildServiceApp(service, config, logger, { hooks, metrics, wiring });
  const stop = stopOnce(app, service, store, { config, logger });

  const listen = listenerOf(app, service, verdict, { config, logger, stop });
  return { app, service, store, listen, stop };
}

/**
 * WiredService.listen: makes the app ready, listens (on `bound`, the
 * starting answer's socket, when given), and logs `listening`; a failure to
 * listen stops the counted start cleanly and says why once.
 */
function listenerOf(
  app: FastifyInstance,
  service: StatefulService,
  verdict: InstanceStart,
  {
    config,
    logger,
    stop,
  }: { config: ServiceConfig; logger: FastifyBaseLogger; stop: WiredService['stop'] },
): WiredService['listen'] {
  return async (
    listenPort = config.port,
    bound?: { handle: object; address: string },
  ): Promise<string> => {
    let address: string;
    // Made ready first: a plugin that fails is not a port that cannot be
    // listened on (and keeps its own message and stack).
    try {
      await app.ready();
    } catch (error) {
      await stop('ready_failed');
      throw error;
    }
    try {
      // On a bound socket, its address as the host: Fastify would bind more for "localhost".
      address = await app.listen(
        bound === undefined
          ? { port: listenPort, host: config.host }
          : ({ handle: bound.handle, host: bound.address } as FastifyListenOptions),
      );
    } catch (error) {
      // Counted already: the start is stopped cleanly, and says why once (no stack).
      const failure = new CannotListenError(
        config.host,
        listenPort,
        error as NodeJS.ErrnoException,
      );
      logger.error({ code: failure.code }, failure.message);
      await stop('listen_failed');
      throw failure;
    }
    const port = app.server.address();
    logger.info(
      {
        url: address,
        port: typeof port === 'object' && port !== null ? port.port : listenPort,
        container_id: service.instanceId,
        ...(config.store.kind === 'file' ? { data_dir: config.dataDir } : { store: 'postgres' }),
        startup_count: verdict.startupCount,
        crash_count: verdict.crashCount,
      },
      'listening',
    );
    return address;
  };
}

/** The HTTP app over `service`, with the config's limits and guards. */
function buildServiceApp(
  service: StatefulService,
  config: ServiceConfig,
  logger: FastifyBaseLogger,
  context: { hooks: ServiceHooks; metrics: ServiceMetrics; wiring: WiringOptions },
): FastifyInstance {
  const { hooks, metrics, wiring } = context;
  return buildApp(service, {
    // Fastify's own info lines are only "Server listening at …", one an
    // interface: the service logs one "listening" line of its own, with what
    // matters (below). Its warnings and errors still come through.
    logger: logger.child(
      {},
      { level: ['trace', 'debug', 'info'].includes(logger.level) ? 'warn' : logger.level },
    ),
    limits: config.limits,
    allowedHosts: config.allowedHosts,
    trustProxy: config.trustProxy,
    crash: {
      enabled: config.crashEndpoint,
      adminToken: config.adminToken,
      exit: hooks.exitAfterCrash,
    },
    metrics,
    ...(wiring.publicDir === undefined ? {} : { publicDir: wiring.publicDir }),
  });
}

/**
 * A clean stop, run once however often it is asked for: the app stops
 * taking requests and lets those in flight finish (up to the shutdown
 * timeout), then the service logs its shutdown and the store closes.
 */
function stopOnce(
  app: FastifyInstance,
  service: StatefulService,
  store: Store,
  context: { config: ServiceConfig; logger: FastifyBaseLogger },
): (reason: string) => Promise<void> {
  const { config, logger } = context;
  let stopping: Promise<void> | null = null;
  return (reason) => {
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
      await service.stop(reason);
      await store.close();
      logger.info({ reason }, 'stopped cleanly');
    })();
    return stopping;
  };
}

/**
 * wireService, listening. The port is bound first and answers 503
 * "starting" (http/starting.ts) while the store opens, which after a kill or
 * on a large directory takes seconds: a client sees a service starting, not
 * a refused connection. `listening` is logged once the app serves.
 */
export async function startService(
  config: ServiceConfig,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
  onProgress: (message: string, detail: Record<string, unknown>) => void = () => undefined,
): Promise<RunningService> {
  let latest: Record<string, unknown> = { phase: 'opening the data directory' };
  let starting: StartingServer;
  try {
    starting = await answerWhileStarting(config.host, config.port, () => latest);
  } catch (error) {
    // Before the store is opened: nothing counted, nothing written.
    throw new CannotListenError(config.host, config.port, error as NodeJS.ErrnoException);
  }
  logger.debug({ port: starting.port }, 'answering 503 "starting" until the store is open');
  let created: WiredService;
  try {
    created = await wireService(config, logger, hooks, {
      onProgress(message, detail) {
        if (message === 'starting') latest = detail;
        onProgress(message, detail);
      },
    });
  } catch (error) {
    await starting.close();
    throw error;
  }
  // The app listens on the starting answer's socket itself: the port is
  // never free between the two, so no other program can take it from a
  // start that has been counted (and with PORT=0 it is the same port).
  let url: string;
  try {
    url = await created.listen(starting.port, {
      handle: starting.handle(),
      address: starting.address,
    });
  } catch (error) {
    await starting.close();
    throw error;
  }
  await starting.release();
  return { ...created, url };
}
