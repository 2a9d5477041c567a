/**
 * The settings read from process.env (the CLI also reads ADMIN_TOKEN and
 * NO_COLOR itself, in cli/client.ts and cli/output.ts). Each setting is
 * declared once with its variable, default and check; a bad value stops the
 * process at start with a message that names the variable and what it
 * accepts.
 */

import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { type ExpiryDefaults, parseDuration } from './domain/expiry.js';
import { DEFAULT_PAGE_MAX_BYTES } from './domain/page.js';
import { type RetentionPolicy, retentionPolicy } from './domain/retention.js';
import { DEFAULT_SESSION_MAX_NODES } from './domain/session.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServiceConfig {
  /** PORT: the TCP port to listen on (0 picks a free one). */
  port: number;
  /** HOST: the address to listen on. */
  host: string;
  /** DATA_DIR: the data directory (sessions, events, counters). */
  dataDir: string;
  /** STORE and DATABASE_URL: where the data lives. */
  store: StoreConfig;
  /** LOG_LEVEL: pino's level. */
  logLevel: LogLevel;
  /** LOG_FORMAT: json, pretty, or auto (pretty on a terminal, JSON lines elsewhere). */
  logFormat: 'auto' | 'json' | 'pretty';
  /** SHUTDOWN_TIMEOUT_MS: how long a clean stop waits for requests in flight. */
  shutdownTimeoutMs: number;
  /** CRASH_ENDPOINT: `on` (the demo default) or `off` (POST /crash is a 404). */
  crashEndpoint: boolean;
  /** SESSION_TTL, SESSION_IDLE_TIMEOUT, SESSION_TOUCH: when sessions expire (default: never). */
  expiry: ExpiryDefaults;
  /** EVENTS_RETAIN_COUNT, _DAYS, _MB: what the event log keeps (default: everything). */
  retention: RetentionPolicy;
  /** ADMIN_TOKEN: when set, POST /crash needs `Authorization: Bearer <token>`. */
  adminToken: string | null;
  /**
   * ALLOWED_HOSTS: the host names (any port) a request's Host header may
   * name, against DNS rebinding; null when set to `*` (any host).
   */
  allowedHosts: readonly string[] | null;
  /**
   * TRUST_PROXY: the reverse proxies (addresses, CIDR blocks, `loopback`,
   * `linklocal`, `uniquelocal`) whose `X-Forwarded-For` names the client
   * that per-address bounds count (see http/client-address.ts); empty: none.
   */
  trustProxy: readonly AddressRange[];
  limits: HttpLimits;
  storage: StorageLimits;
}

/** What the stored sessions may cost; see domain/footprint.ts. */
export interface StorageLimits {
  /** SESSION_MAX_NODES: values and keys one session's `data` may hold (more is a 413). */
  sessionMaxNodes: number;
  /**
   * STORAGE_BUDGET_MB: the total footprint of all sessions (a file store
   * holds them in memory); past it, creates and growing updates are a 507.
   * A quarter of the V8 heap's old generation by default (oldSpaceMiB).
   */
  budgetBytes: number;
  /**
   * CHECKPOINT_BACKLOG: sessions changed but not yet written to their files
   * (file store); past it a write waits for a checkpoint, so a clean stop
   * (which writes them) stays short whatever the load.
   */
  checkpointBacklog: number;
  /**
   * SNAPSHOT_JOURNAL_KB: the journal size past which the file store writes a
   * snapshot of every session and deletes the segments it covers: the most a
   * boot replays besides the snapshot, and what the journal takes on disk.
   */
  snapshotJournalBytes: number;
  /**
   * MIN_FREE_DISK_MB: the free space the data directory's file system keeps
   * (file store); below it, creates and growing updates are a 507, so the
   * session files, snapshots and the journal's next zeros still have room.
   */
  minFreeBytes: number;
  /**
   * SPARE_FILES: replaced session files the file store keeps in spare/ to
   * write later session files into (0: none); each is at most 8 KiB.
   */
  spareFiles: number;
  /** STARTUP_PROGRESS_MS: how often a boot under way logs "starting" (1 s; tests: less). */
  progressIntervalMs: number;
}

/**
 * STORE=file (the default: DATA_DIR, one instance) or STORE=postgres (needs
 * DATABASE_URL; several replicas may share it; REPLICA_LEASE_MS is how long a
 * silent replica counts as alive).
 */
export type StoreConfig =
  | { kind: 'file' }
  | { kind: 'postgres'; databaseUrl: string; leaseMs: number };

/** Limits that keep slow, idle or greedy clients from hurting the others. */
export interface HttpLimits {
  /** REQUEST_TIMEOUT_MS: a whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** IDLE_TIMEOUT_MS: a connection with no traffic at all is closed after this. */
  idleTimeoutMs: number;
  /** KEEP_ALIVE_TIMEOUT_MS: an idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** MAX_CONNECTIONS: connections beyond this are refused. */
  maxConnections: number;
  /**
   * MAX_CONNECTIONS_PER_ADDRESS: what one client address (not loopback) may
   * hold of them (see http/connections-per-address.ts); 0: no such limit.
   */
  maxConnectionsPerAddress: number;
  /** MAX_STREAMS: open /events/stream connections; more get a 503 (below MAX_CONNECTIONS). */
  maxStreams: number;
  /** MAX_PIPELINED_REQUESTS: requests one connection may have waiting; it is not read past them. */
  maxPipelinedRequests: number;
  /** PAGE_MAX_KB, in bytes: what a page of sessions may hold (see domain/page.ts). */
  pageMaxBytes: number;
  /**
   * UNREAD_ANSWERS_MB, in bytes: answers built and not yet taken by their
   * clients, over all connections (see http/unread-answers.ts).
   */
  unreadAnswersBytes: number;
  /**
   * UNREAD_ANSWERS_PER_ADDRESS_MB, in bytes: what one client address (not
   * loopback) may hold of them; 0: no such share.
   */
  unreadAnswersPerAddressBytes: number;
}

export interface ClientConfig {
  /**
   * The CLI client's default URL: APP_PORT (the port Compose publishes it
   * on) on loopback, else PORT and HOST (where `npm start` listens), else 8091.
   */
  url: string;
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}; got "${raw}".`);
  }
  return Number(raw);
}

/** A duration setting (`90`, `90s`, `15m`, `1h`, `30d`; unset or `never`: null). */
function duration(env: Env, name: string): number | null {
  const seconds = parseDuration(env[name] ?? '');
  if (seconds === undefined) {
    throw new ConfigError(
      `${name} must be a duration such as 3600, 90s, 15m, 1h or 30d (up to 100 years), or "never"; got "${env[name]}".`,
    );
  }
  return seconds;
}

function expiryDefaults(env: Env): ExpiryDefaults {
  const touch = text(env, 'SESSION_TOUCH', 'writes');
  if (touch !== 'writes' && touch !== 'reads') {
    throw new ConfigError(`SESSION_TOUCH must be "writes" or "reads"; got "${touch}".`);
  }
  return Object.freeze({
    ttlSeconds: duration(env, 'SESSION_TTL'),
    idleSeconds: duration(env, 'SESSION_IDLE_TIMEOUT'),
    touch,
  });
}

function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(`${name} must be "on" or "off"; got "${raw}".`);
}

function text(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

/** An address range TRUST_PROXY names: an address is a range of its full length. */
export interface AddressRange {
  address: string;
  prefix: number;
  type: 'ipv4' | 'ipv6';
}

/** The named ranges TRUST_PROXY accepts besides addresses and CIDR blocks. */
const NAMED_RANGES: Record<string, readonly string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

function trustProxy(env: Env): readonly AddressRange[] {
  const ranges: AddressRange[] = [];
  for (const raw of text(env, 'TRUST_PROXY', '').split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    for (const block of Object.hasOwn(NAMED_RANGES, entry)
      ? (NAMED_RANGES[entry] ?? [])
      : [entry]) {
      const [address = '', bits] = block.split('/');
      const family = isIP(address);
      const full = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? full : /^\d+$/.test(bits) ? Number(bits) : -1;
      if (family === 0 || prefix < 0 || prefix > full) {
        throw new ConfigError(
          'TRUST_PROXY must list IP addresses, CIDR blocks (10.0.0.0/8) or ' +
            `${Object.keys(NAMED_RANGES).join(', ')}, separated by commas; got "${entry}".`,
        );
      }
      ranges.push({ address, prefix, type: family === 6 ? 'ipv6' : 'ipv4' });
    }
  }
  return Object.freeze(ranges);
}

/** The loopback names: what a browser on the same machine sends as Host. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

function allowedHosts(env: Env): readonly string[] | null {
  const raw = text(env, 'ALLOWED_HOSTS', LOOPBACK_HOSTS.join(','));
  if (raw.trim() === '*') return null;
  const hosts = raw
    .split(',')
    .map((host) =>
      host
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, '$1'),
    )
    .filter((host) => host !== '');
  for (const host of hosts) {
    if (!/^[a-z0-9.:_-]+$/.test(host)) {
      throw new ConfigError(
        `ALLOWED_HOSTS must be "*" or host names separated by commas; got "${host}".`,
      );
    }
  }
  if (hosts.length === 0) throw new ConfigError('ALLOWED_HOSTS names no host; use "*" for any.');
  return Object.freeze(hosts);
}

/**
 * The MiB the V8 heap's old generation may grow to: where sessions live.
 * `--max-old-space-size` when the process was started with it (on the
 * command line or in NODE_OPTIONS; the last one wins, as in V8), else the
 * whole heap limit. Not heap_size_limit alone: it adds the young generation,
 * which V8 13 (Node 24) sizes at up to 192 MiB, so with a small old space
 * (`--max-old-space-size=128`: a limit of 320 MiB there, 176 on Node 20) a
 * quarter of it would not leave the room the budget is meant to leave.
 */
export function oldSpaceMiB(
  nodeOptions = process.env.NODE_OPTIONS, // the process's own, whatever env a config is read from
  execArgv = process.execArgv,
): number {
  const flags = [...(nodeOptions ?? '').split(/\s+/), ...execArgv];
  let size: number | null = null;
  for (const flag of flags) {
    const match = /^--max[-_]old[-_]space[-_]size=(\d+)$/.exec(flag);
    if (match !== null) size = Number(match[1]);
  }
  return size ?? Math.floor(getHeapStatistics().heap_size_limit / (1024 * 1024));
}

function storageLimits(env: Env): StorageLimits {
  const budgetMiB = integer(
    env,
    'STORAGE_BUDGET_MB',
    Math.max(1, Math.floor(oldSpaceMiB() / 4)),
    1,
    1_048_576,
  );
  return Object.freeze({
    sessionMaxNodes: integer(env, 'SESSION_MAX_NODES', DEFAULT_SESSION_MAX_NODES, 1, 10_000_000),
    budgetBytes: budgetMiB * 1024 * 1024,
    checkpointBacklog: integer(env, 'CHECKPOINT_BACKLOG', 8_000, 100, 1_000_000),
    snapshotJournalBytes: integer(env, 'SNAPSHOT_JOURNAL_KB', 65_536, 16, 16_777_216) * 1024,
    minFreeBytes: integer(env, 'MIN_FREE_DISK_MB', 64, 0, 1_048_576) * 1024 * 1024,
    spareFiles: integer(env, 'SPARE_FILES', 8_192, 0, 1_000_000),
    progressIntervalMs: integer(env, 'STARTUP_PROGRESS_MS', 1_000, 10, 60_000),
  });
}

function httpLimits(env: Env): HttpLimits {
  const maxConnections = integer(env, 'MAX_CONNECTIONS', 1_000, 2, 1_000_000);
  const maxStreams = integer(
    env,
    'MAX_STREAMS',
    Math.min(100, Math.floor(maxConnections / 2)),
    0,
    1_000_000,
  );
  if (maxStreams >= maxConnections) {
    throw new ConfigError(
      `MAX_STREAMS (${maxStreams}) must be below MAX_CONNECTIONS (${maxConnections}), ` +
        'so streams can never take every connection.',
    );
  }
  // An eighth of the heap (the sessions' budget takes a quarter), at most 256 MiB.
  const unreadAnswersMiB = integer(
    env,
    'UNREAD_ANSWERS_MB',
    Math.max(16, Math.min(256, Math.floor(oldSpaceMiB() / 8))),
    1,
    1_048_576,
  );
  return Object.freeze({
    requestTimeoutMs: integer(env, 'REQUEST_TIMEOUT_MS', 30_000, 1_000, 600_000),
    idleTimeoutMs: integer(env, 'IDLE_TIMEOUT_MS', 60_000, 1_000, 3_600_000),
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000, 1_000, 600_000),
    maxConnections,
    maxConnectionsPerAddress: integer(
      env,
      'MAX_CONNECTIONS_PER_ADDRESS',
      Math.max(1, Math.floor(maxConnections / 2)),
      0,
      maxConnections,
    ),
    maxStreams,
    maxPipelinedRequests: integer(env, 'MAX_PIPELINED_REQUESTS', 8, 1, 1_000),
    pageMaxBytes: integer(env, 'PAGE_MAX_KB', DEFAULT_PAGE_MAX_BYTES / 1024, 1, 256 * 1024) * 1024,
    unreadAnswersBytes: unreadAnswersMiB * 1024 * 1024,
    // Half, so that no one address can fill the bound for everyone.
    unreadAnswersPerAddressBytes:
      integer(
        env,
        'UNREAD_ANSWERS_PER_ADDRESS_MB',
        Math.max(1, Math.floor(unreadAnswersMiB / 2)),
        0,
        unreadAnswersMiB,
      ) *
      1024 *
      1024,
  });
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = text(env, name, fallback);
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${values.join(', ')}; got "${raw}".`);
  }
  return raw as T;
}

export function loadServiceConfig(env: Env = process.env): Readonly<ServiceConfig> {
  const logLevel = text(env, 'LOG_LEVEL', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got "${logLevel}".`);
  }
  return Object.freeze({
    port: integer(env, 'PORT', 8091, 0, 65535),
    host: text(env, 'HOST', '127.0.0.1'),
    dataDir: resolve(text(env, 'DATA_DIR', './data')),
    store: storeConfig(env),
    logLevel: logLevel as LogLevel,
    logFormat: oneOf(env, 'LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    crashEndpoint: onOff(env, 'CRASH_ENDPOINT', true),
    adminToken: text(env, 'ADMIN_TOKEN', '') || null,
    allowedHosts: allowedHosts(env),
    trustProxy: trustProxy(env),
    limits: httpLimits(env),
    storage: storageLimits(env),
    expiry: expiryDefaults(env),
    retention: retention(env),
  });
}

function retention(env: Env): RetentionPolicy {
  const policy = retentionPolicy(env);
  if (typeof policy === 'string') throw new ConfigError(policy);
  return policy;
}

function storeConfig(env: Env): StoreConfig {
  const kind = text(env, 'STORE', 'file');
  if (kind === 'file') return { kind };
  if (kind !== 'postgres') {
    throw new ConfigError(`STORE must be file or postgres; got "${kind}".`);
  }
  const databaseUrl = text(env, 'DATABASE_URL', '');
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(
      'STORE=postgres needs DATABASE_URL, a postgres://user@host:port/database URL.',
    );
  }
  return {
    kind,
    databaseUrl,
    leaseMs: integer(env, 'REPLICA_LEASE_MS', 5_000, 500, 600_000),
  };
}

export function loadClientConfig(env: Env = process.env): Readonly<ClientConfig> {
  // APP_PORT (where Compose publishes it) first; else where `npm start` listens: PORT and HOST.
  const published = env.APP_PORT !== undefined && env.APP_PORT !== '';
  const listening = !published && env.PORT !== undefined && env.PORT !== '' && env.PORT !== '0';
  const port = listening
    ? integer(env, 'PORT', 8091, 1, 65535)
    : integer(env, 'APP_PORT', 8091, 1, 65535);
  const host = listening ? clientHost(env.HOST) : '127.0.0.1';
  return Object.freeze({ url: `http://${host}:${port}` });
}

/** The address a client reaches a service listening on HOST at: loopback for a wildcard. */
function clientHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Set by the supervisor for the service it runs, so the service follows its parent. */
export function isSupervised(env: Env = process.env): boolean {
  return env.STATEFUL_SUPERVISED === '1';
}

/**
 * UV_THREADPOOL_SIZE: libuv runs file-system calls on a thread pool of 4 by
 * default, so at most 4 fsyncs are in flight at once and every other durable
 * write queues behind them. Unless it is set, the service uses 16. It must be
 * set before the first file-system call, so `serve` calls this first.
 */
export function tuneRuntime(env: Env = process.env): void {
  if (env.UV_THREADPOOL_SIZE === undefined || env.UV_THREADPOOL_SIZE === '') {
    env.UV_THREADPOOL_SIZE = '16';
  }
}
