/**
 * A throwaway PostgreSQL cluster for tests: Debian's server binaries, initdb
 * in a temporary directory, listening on a free loopback port only, trust
 * authentication for the local superuser, removed when stopped. initdb
 * refuses to run as root, so as root the cluster runs as the `postgres`
 * user that Debian's package creates.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './service-process.js';

export interface Postgres {
  url: string;
  /** Creates an empty database on the server; returns its URL. */
  createDatabase(): Promise<string>;
  /**
   * Stops the server as a crash would: `immediate` (pg_ctl stop -m immediate:
   * no checkpoint, crash recovery at the next start) or `sigkill` (SIGKILL to
   * the postmaster, then to what it leaves behind). Its data stays.
   */
  crash(how: 'immediate' | 'sigkill'): void;
  /** Starts it again on the same port and data, after a crash. */
  start(): void;
  stop(): void;
}

/** Why PostgreSQL tests cannot run here, or false. CI installs it: there it is never skipped. */
export function postgresSkipReason(): string | false {
  return postgresBinaries() === null && process.env.CI === undefined
    ? 'no PostgreSQL server binaries here (apt-get install postgresql, or set PG_BIN)'
    : false;
}

/** The newest /usr/lib/postgresql/<version>/bin, or PG_BIN. */
export function postgresBinaries(): string | null {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(root, versions[0], 'bin');
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinaries();
  if (bin === null) throw new Error('no PostgreSQL server binaries (apt-get install postgresql)');
  const root = mkdtempSync(join(tmpdir(), 'stateful-pg-'));
  const data = join(root, 'data');
  const asRoot = userInfo().uid === 0;
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : null;
  if (owner !== null) {
    chownSync(root, owner, owner);
    chmodSync(root, 0o700);
  }
  const run = (command: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], {
          stdio: 'pipe',
        })
      : execFileSync(join(bin, command), args, { stdio: 'pipe' });

  const port = await freePort();
  const start = () =>
    run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(root, 'server.log'),
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${root}`,
      '-w',
      'start',
    ]);
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    start();
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let databases = 0;
  return {
    url,
    async createDatabase() {
      const name = `test_${++databases}`;
      const admin = new pg.Client(url);
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    crash(how) {
      if (how === 'immediate') {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        return;
      }
      const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const children = childrenOf(postmaster);
      process.kill(postmaster, 'SIGKILL');
      // Backends left behind hold the shared memory a new postmaster needs.
      for (const pid of children) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        if ([postmaster, ...children].every((pid) => !alive(pid))) return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
      throw new Error('PostgreSQL did not die from SIGKILL within 10 s');
    },
    start,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const stat = readFileSync(join('/proc', name, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}
