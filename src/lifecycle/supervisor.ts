/**
 * A local stand-in for Docker's `restart: unless-stopped`: runs the service as
 * a child process and starts it again whenever it ends without being asked to
 * (a crash, a kill, any exit), after a backoff that doubles while it keeps
 * dying and resets once a run has been stable. SIGINT/SIGTERM are forwarded
 * and the supervisor exits when the service has stopped cleanly; SIGHUP
 * restarts the service cleanly. A start that can never succeed (its address
 * cannot be listened on, the data directory is held, unsafe or closed to
 * this user, bad configuration: exit-codes.ts) is not retried: the
 * supervisor exits with the service's status.
 * Until the service says it is listening (over the IPC channel), the
 * supervisor logs "starting (N s)" every second, with what the service last
 * said it was doing: a start after a kill may replay seconds of journal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { BaseLogger } from 'pino';
import { PERMANENT_FAILURES } from './exit-codes.js';

export interface SupervisorOptions {
  /** The command that runs the service. */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A run at least this long resets the backoff. */
  stableAfterMs: number;
  /** How long a stop waits for the service before SIGKILL. */
  stopTimeoutMs: number;
  /**
   * Whether to log that a start which cannot succeed is not restarted (true
   * by default). The service has said why on stderr; a person reading both
   * on a terminal needs it once.
   */
  logGivingUp?: boolean;
}

/** What the service tells its supervisor over the IPC channel. */
export type SupervisedMessage =
  | { kind: 'starting'; detail: Record<string, unknown> }
  | { kind: 'listening'; url: string };

function isSupervisedMessage(value: unknown): value is SupervisedMessage {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return kind === 'starting' || kind === 'listening';
}

/** How often a start under way is logged. */
export const STARTING_LOG_INTERVAL_MS = 1000;

export const DEFAULT_SUPERVISOR_TIMINGS = {
  initialBackoffMs: 250,
  maxBackoffMs: 30_000,
  stableAfterMs: 10_000,
  stopTimeoutMs: 20_000,
} as const;

export class Supervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restartRequested = false;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | null = null;
  private finished!: (code: number) => void;
  /** Resolves with the supervisor's exit status once it has stopped for good. */
  readonly done: Promise<number>;
  restarts = 0;

  constructor(
    private readonly options: SupervisorOptions,
    private readonly logger: BaseLogger,
  ) {
    this.backoffMs = options.initialBackoffMs;
    this.done = new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  start(): void {
    const startedAt = Date.now();
    // Its own process group: a Ctrl-C reaches the supervisor, which forwards it once.
    const child = spawn(this.options.command, this.options.args, {
      env: { ...this.options.env, STATEFUL_SUPERVISED: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    this.child = child;
    this.logger.info({ service_pid: child.pid }, 'supervisor started the service');
    let progress: Record<string, unknown> = {};
    const starting = setInterval(() => {
      const seconds = Math.round((Date.now() - startedAt) / 1000);
      this.logger.info({ service_pid: child.pid, seconds, ...progress }, `starting (${seconds} s)`);
    }, STARTING_LOG_INTERVAL_MS);
    child.on('message', (message: unknown) => {
      if (!isSupervisedMessage(message)) return;
      if (message.kind === 'listening') clearInterval(starting);
      else {
        // The supervisor's seconds count from the spawn; the store's from its opening.
        const { seconds: _storeSeconds, ...detail } = message.detail;
        progress = detail;
      }
    });
    child.on('error', (error) => this.logger.error({ err: error }, 'cannot start the service'));
    child.on('exit', (code, signal) => {
      clearInterval(starting);
      this.child = null;
      const ranMs = Date.now() - startedAt;
      if (this.stopping) {
        this.logger.info({ code, signal }, 'service stopped; supervisor exiting');
        this.finished(0);
        return;
      }
      if (this.restartRequested) {
        this.restartRequested = false;
        this.backoffMs = this.options.initialBackoffMs;
        this.start();
        return;
      }
      if (code !== null && PERMANENT_FAILURES.has(code)) {
        if (this.options.logGivingUp !== false) {
          this.logger.error({ code }, 'the service cannot start; not restarting it');
        }
        this.finished(code);
        return;
      }
      if (ranMs >= this.options.stableAfterMs) this.backoffMs = this.options.initialBackoffMs;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
      this.restarts++;
      this.logger.warn(
        { code, signal, ran_ms: ranMs, restart_in_ms: delay, restarts: this.restarts },
        'service ended unexpectedly; restarting it',
      );
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.stopping) this.start();
      }, delay);
    });
  }

  /** Stops the service cleanly (SIGKILL after the timeout) and then the supervisor. */
  stop(signal: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === null) {
      this.finished(0);
      return;
    }
    child.kill(signal);
    setTimeout(() => {
      if (this.child === child) {
        this.logger.error('service did not stop in time; killing it');
        child.kill('SIGKILL');
      }
    }, this.options.stopTimeoutMs).unref();
  }

  /** Restarts the service cleanly, without backoff. */
  restart(): void {
    if (this.stopping || this.child === null) return;
    this.logger.info({ service_pid: this.child.pid }, 'restarting the service cleanly, as asked');
    this.restartRequested = true;
    this.child.kill('SIGTERM');
  }
}
