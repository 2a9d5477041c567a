/**
 * The service wired as production wires it (wireService), for `inject`
 * tests; stopped cleanly when the test ends. On the store that
 * STATEFUL_TEST_STORE names (`file`, the default, in a temp directory, or
 * `postgres`, a fresh database on a throwaway server), unless a test needs one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadServiceConfig } from '../../src/config.js';
import { wireService } from '../../src/lifecycle/wiring.js';
import type { StatefulService } from '../../src/service/service.js';
import type { WritableFileSystem } from '../../src/store/file/file-system.js';
import type { Store } from '../../src/store/store.js';
import { type Postgres, startPostgres } from '../../tools/postgres.js';

export type StoreKind = 'file' | 'postgres';

export interface TestApp {
  app: FastifyInstance;
  service: StatefulService;
  store: Store;
  kind: StoreKind;
  /** The data directory (file store only). */
  dataDir: string;
  /** How often the service asked to exit after a /crash. */
  crashes: number;
  /** A clean stop, as SIGTERM makes one (the test's end makes one too). */
  stop(reason: string): Promise<void>;
}

export interface BuildOptions {
  /** Needed by tests of the file store's own behaviour (its files, its faults). */
  store?: StoreKind;
  fileSystem?: WritableFileSystem;
  publicDir?: string;
}

/** The store the HTTP tests run on (the test runner runs them on each). */
export function testStoreKind(): StoreKind {
  return process.env.STATEFUL_TEST_STORE === 'postgres' ? 'postgres' : 'file';
}

let server: Promise<Postgres> | undefined;
/** One throwaway server a test process, stopped when the process exits. */
function postgres(): Promise<Postgres> {
  server ??= startPostgres().then((started) => {
    process.once('exit', () => started.stop());
    return started;
  });
  return server;
}

export async function build(
  t: TestContext,
  env: Record<string, string> = {},
  options: BuildOptions = {},
): Promise<TestApp> {
  const kind = options.store ?? testStoreKind();
  const dataDir = await mkdtemp(join(tmpdir(), 'stateful-app-'));
  const where =
    kind === 'postgres'
      ? { STORE: 'postgres', DATABASE_URL: await (await postgres()).createDatabase() }
      : { DATA_DIR: dataDir };
  const config = loadServiceConfig({ ...env, ...where });
  const result: Partial<TestApp> = { kind, dataDir, crashes: 0 };
  const created = await wireService(
    config,
    pino({ level: 'silent' }),
    {
      exitAfterCrash() {
        result.crashes = (result.crashes ?? 0) + 1;
      },
    },
    {
      ...(options.fileSystem === undefined ? {} : { fileSystem: options.fileSystem }),
      ...(options.publicDir === undefined ? {} : { publicDir: options.publicDir }),
    },
  );
  t.after(async () => {
    await created.stop('test_ended');
    await rm(dataDir, { recursive: true, force: true });
  });
  return Object.assign(result, created) as TestApp;
}
