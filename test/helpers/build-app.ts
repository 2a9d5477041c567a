/** An app over a real file store in a temp directory, for `inject` tests; closed when the test ends. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadServiceConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import type { ServiceContext } from '../../src/http/context.js';
import { ServiceMetrics } from '../../src/http/metrics.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { nodeFileSystem, type WritableFileSystem } from '../../src/store/file/file-system.js';
import { timedFileSystem } from '../../src/store/file/timed-file-system.js';

export interface TestApp {
  app: FastifyInstance;
  store: FileStore;
  dataDir: string;
  crashes: number;
}

export async function build(
  t: TestContext,
  env: Record<string, string> = {},
  fileSystem: WritableFileSystem = nodeFileSystem,
  options: { publicDir?: string } = {},
): Promise<TestApp> {
  const config = loadServiceConfig(env);
  const dataDir = await mkdtemp(join(tmpdir(), 'stateful-app-'));
  const metrics = new ServiceMetrics();
  const { store } = await FileStore.open(
    dataDir,
    'cafebabe',
    timedFileSystem(fileSystem, metrics.observeSync),
  );
  let requests = 0;
  const result: Partial<TestApp> = { store, dataDir, crashes: 0 };
  const context: ServiceContext = {
    store,
    startedAt: performance.now(),
    countRequest() {
      requests++;
      store.countRequest();
    },
    requestsThisInstance: () => requests,
    async recordCrash() {
      return (await store.updateStats((stats) => ({ crash_count: stats.crash_count + 1 })))
        .crash_count;
    },
    exitAfterCrash() {
      result.crashes = (result.crashes ?? 0) + 1;
    },
  };
  const app = buildApp(context, {
    limits: config.limits,
    sessionMaxNodes: config.storage.sessionMaxNodes,
    allowedHosts: config.allowedHosts,
    crash: { enabled: config.crashEndpoint, adminToken: config.adminToken },
    metrics,
    ...options,
  });
  t.after(async () => {
    await app.close();
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  result.app = app;
  return result as TestApp;
}
