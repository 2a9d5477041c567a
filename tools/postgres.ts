/**
 * A throwaway PostgreSQL cluster for tests: Debian's server binaries, initdb
 * in a temporary directory, listening on a free loopback port only, trust
 * authentication for the local superuser, removed when stopped. initdb
 * refuses to run as root, so as root the cluster runs as the `postgres`
 * user that Debian's package creates.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './service-process.js';

export interface Postgres {
  url: string;
  /** Creates an empty database on the server; returns its URL. */
  createDatabase(): Promise<string>;
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
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
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
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
