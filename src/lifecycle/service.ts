/**
 * The service's life: boot (take the data directory, count the start and
 * any unseen death of the previous instance), serve, and end in one of two
 * ways. A clean stop finishes requests in flight, logs `shutdown`, marks the
 * instance stopped and releases the directory. A `/crash` counts itself
 * durably, answers, and exits with status 1 without any cleanup.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ServiceConfig } from '../config.js';
import { type InstanceMarker, judgeStart } from '../domain/counters.js';
import { newInstanceId } from '../domain/instance.js';
import { utcTimestamp } from '../domain/time.js';
import { buildApp } from '../http/app.js';
import type { ServiceContext } from '../http/context.js';
import { ServiceMetrics } from '../http/metrics.js';
import { type BootRecoveryReport, FileStore } from '../store/file/file-store.js';
import { nodeFileSystem } from '../store/file/file-system.js';
import { timedFileSystem } from '../store/file/timed-file-system.js';
import type { Store } from '../store/store.js';

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
    logger.warn(recovery.eventLogRepair, 'cut a torn tail off events.jsonl');
  }
  for (const entry of recovery.quarantined) logger.warn(entry, 'quarantined an unreadable session');
  if (recovery.statsRecovered !== null) logger.warn(recovery.statsRecovered);
}

export async function startService(
  config: ServiceConfig,
  logger: FastifyBaseLogger,
  hooks: ServiceHooks,
): Promise<RunningService> {
  const startedAt = performance.now();
  const instanceId = newInstanceId();
  const metrics = new ServiceMetrics();
  const { store, recovery } = await FileStore.open(
    config.dataDir,
    instanceId,
    timedFileSystem(nodeFileSystem, metrics.observeSync),
  );
  logRecovery(logger, recovery);

  const verdict = judgeStart(store.readMarker(), await store.stats());
  let marker: InstanceMarker = {
    container: instanceId,
    pid: process.pid,
    started_at: utcTimestamp(),
    state: 'running',
    startup_count: verdict.startupCount,
    crash_count: verdict.crashCount,
  };
  // The marker announces the counts before stats.json has them: a death in
  // between is made good by the next start (see judgeStart).
  await store.writeMarker(marker);
  await store.updateStats(() => ({
    startup_count: verdict.startupCount,
    crash_count: verdict.crashCount,
  }));
  if (verdict.detected !== null) {
    await store.recordEvent('crash_detected', {
      dead_container: verdict.detected.container,
      dead_pid: verdict.detected.pid,
      dead_started_at: verdict.detected.started_at,
      crash_count: verdict.crashCount,
    });
    logger.warn({ dead: verdict.detected }, 'the previous instance died without a clean stop');
  }
  await store.recordEvent('startup', {
    startup_count: verdict.startupCount,
    crash_count: verdict.crashCount,
  });

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
      crashing ??= (async () => {
        const crashCount = (await store.stats()).crash_count + 1;
        marker = { ...marker, state: 'crashing', crash_count: crashCount };
        await store.writeMarker(marker);
        await store.updateStats(() => ({ crash_count: crashCount }));
        await store.recordEvent('crash_triggered', { crash_count: crashCount });
        logger.fatal({ crash_count: crashCount }, 'crash requested: exiting hard');
        return crashCount;
      })();
      return crashing;
    },
    exitAfterCrash: hooks.exitAfterCrash,
  };

  const app = buildApp(context, {
    logger,
    limits: config.limits,
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
      await store.recordEvent('shutdown', {
        reason,
        uptime_seconds: Math.round((performance.now() - startedAt) / 100) / 10,
      });
      await store.writeMarker({ ...marker, state: 'stopped' });
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
      data_dir: config.dataDir,
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    },
    'listening',
  );
  return { app, store, url: address, stop };
}
