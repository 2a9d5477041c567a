/**
 * Runs the built `stateful` command as a real child process (the service, the
 * supervisor or the inspector), for the tests, the bench and the torture
 * alike. Waits for the service's `listening` log line to learn its port, and
 * stops or kills it with real signals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../src/project-root.js';

/** The built command, dist/src/cli/main.js: these tests need `npm run build` first. */
export const CLI = fileURLToPath(new URL('dist/src/cli/main.js', PROJECT_ROOT));

export interface LogLine {
  msg?: string;
  port?: number;
  container_id?: string;
  [key: string]: unknown;
}

export class RunningProcess {
  readonly lines: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  private seen = 0;

  constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      partial += chunk.toString();
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) {
        try {
          this.lines.push(JSON.parse(part) as LogLine);
        } catch {
          continue;
        }
        this.notify();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      const found = this.lines.slice(this.seen).find(waiter.match);
      if (found !== undefined) {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        waiter.resolve(found);
      }
    }
  }

  /** Resolves with the next log line (after those already consumed) that matches. */
  async next(match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const start = this.seen;
    const found = this.lines.slice(start).find(match);
    const line =
      found ??
      (await new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out waiting for a log line\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
              ),
            ),
          timeoutMs,
        );
        this.waiters.push({
          match: (candidate) => this.lines.indexOf(candidate) >= start && match(candidate),
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
        });
        void this.exited.then(() =>
          setTimeout(() => {
            clearTimeout(timer);
            reject(new Error(`process exited\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`));
          }, 500),
        );
      }));
    this.seen = this.lines.indexOf(line) + 1;
    return line;
  }

  /** Waits for the next `listening` line and returns the service's base URL. */
  async listening(timeoutMs?: number): Promise<{ url: string; containerId: string }> {
    const line = await this.next((candidate) => candidate.msg === 'listening', timeoutMs);
    return { url: `http://127.0.0.1:${line.port}`, containerId: String(line.container_id) };
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Sends `signal` and waits for the process to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.child.kill(signal);
    await this.exited;
  }
}

/** Runs `node <args>` with only PATH and `env` in its environment. */
export function runNode(
  args: string[],
  env: Record<string, string>,
  options: { detached?: boolean } = {},
): RunningProcess {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  return new RunningProcess(child);
}

export function runStateful(
  args: string[],
  env: Record<string, string>,
  options: { detached?: boolean } = {},
): RunningProcess {
  return runNode([CLI, ...args], { LOG_LEVEL: 'info', HOST: '127.0.0.1', ...env }, options);
}

export interface StartedService {
  process: RunningProcess;
  url: string;
  containerId: string;
  /** Milliseconds from the spawn to the `listening` line. */
  bootMs: number;
}

/** Starts `stateful serve` on a data directory and waits until it listens. */
export async function spawnService(
  dataDir: string,
  env: Record<string, string> = {},
  options: { bootTimeoutMs?: number } = {},
): Promise<StartedService> {
  const started = performance.now();
  const service = runStateful(['serve'], { DATA_DIR: dataDir, PORT: '0', ...env });
  try {
    const { url, containerId } = await service.listening(options.bootTimeoutMs);
    return { process: service, url, containerId, bootMs: performance.now() - started };
  } catch (error) {
    service.kill('SIGKILL'); // never leave a stray service keeping the test runner alive
    throw error;
  }
}

/** Runs a `stateful` command to completion. */
export async function runToEnd(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runStateful(args, env);
  const { code } = await run.exited;
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/** A TCP port that was free a moment ago (for services that must keep their port across restarts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

/** Starts `stateful supervise` (restarts after a crash) on a fixed free port and waits until it listens. */
export async function supervise(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ supervisor: RunningProcess; url: string; containerId: string }> {
  const port = await freePort();
  const supervisor = runStateful(['supervise'], { DATA_DIR: dataDir, PORT: String(port), ...env });
  try {
    const first = await supervisor.listening();
    return { supervisor, url: first.url, containerId: first.containerId };
  } catch (error) {
    supervisor.kill('SIGKILL');
    throw error;
  }
}
