/**
 * What a person sees when `npm start` (`stateful supervise`) cannot start
 * the service as configured, for every failure before `listening`: HOST no
 * name or no address of this machine, the port in use or below what this
 * user may take, the data directory held, unsafe, a file, closed to this
 * user or read-only, a bad setting. Each ends the supervisor after one start
 * with its own exit status and one line saying the cause and what to do (no
 * stack, not said twice on a terminal), and leaves the data directory byte
 * for byte as it was, fresh or holding data: no start counted, no event, no
 * file made. Each case runs with JSON logs (a pipe) and on a terminal.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import {
  chmod,
  chown,
  copyFile,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { CLI, freePort, RunningProcess, spawnService } from '../../tools/service-process.js';
import { postJson } from '../helpers/http.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

/** Every name under `path` with its type, mode, times and bytes (a hash); 'absent' when there is none. */
async function listing(path: string): Promise<string[]> {
  const entries: string[] = [];
  const visit = async (at: string, name: string): Promise<void> => {
    let stats: Awaited<ReturnType<typeof lstat>>;
    try {
      stats = await lstat(at);
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return;
      throw error;
    }
    const what = `${name} ${stats.mode.toString(8)} ${stats.uid} ${stats.mtimeMs}`;
    if (stats.isDirectory()) {
      entries.push(`${what} dir`);
      for (const child of (await readdir(at)).sort())
        await visit(join(at, child), `${name}/${child}`);
    } else if (stats.isSymbolicLink()) {
      entries.push(`${what} -> ${await readlink(at)}`);
    } else if (stats.isFile()) {
      const hash = createHash('sha256')
        .update(await readFile(at))
        .digest('hex');
      entries.push(`${what} ${stats.size} ${hash}`);
    } else {
      entries.push(`${what} other`);
    }
  };
  await visit(path, '.');
  return entries.length === 0 ? ['absent'] : entries;
}

/** How a case runs the supervisor: the words before Node, and the Node it runs. */
interface Runner {
  prefix: string[];
  node: string;
}

/**
 * How to run the supervisor as a user who may not take a port below 1024
 * nor write what root made: setpriv to nobody when this is root, as is
 * otherwise; null when nobody cannot run the built CLI from where it is.
 *
 * The probe runs what the supervisor does: Node as nobody starting Node
 * again. setpriv itself still holds root's capabilities when it looks up the
 * program it runs, so only a process started by nobody shows whether nobody
 * may reach that Node (a Node under a closed home directory, as CI's cached
 * Node 22 is, cannot be). Then nobody gets a copy of it in a folder it may
 * enter, removed by `defer`.
 */
async function unprivilegedRunner(defer: Defer): Promise<Runner | null> {
  if (!isRoot) return { prefix: [], node: process.execPath };
  const prefix = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
  const runs = (node: string): boolean => {
    const again = `const r = require('node:child_process').spawnSync(process.execPath, ${JSON.stringify([CLI, '--version'])}); process.exit(r.status ?? 1);`;
    const probe = spawnSync(prefix[0] as string, [...prefix.slice(1), node, '-e', again]);
    return probe.status === 0;
  };
  if (runs(process.execPath)) return { prefix, node: process.execPath };
  const folder = await mkdtemp(join(tmpdir(), 'stateful-node-'));
  defer(() => rm(folder, { recursive: true, force: true }));
  await chmod(folder, 0o755);
  const node = join(folder, 'node');
  await copyFile(process.execPath, node);
  await chmod(node, 0o755);
  return runs(node) ? { prefix, node } : null;
}

/** The lowest port an unprivileged user may take here. */
async function lowestUnprivilegedPort(): Promise<number> {
  const text = await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').catch(
    () => '1024',
  );
  return Number(text);
}

/** Gives `path` (all of it) to the unprivileged user, as a directory of their own would be. */
async function giveAway(path: string): Promise<void> {
  if (!isRoot) return;
  await chown(path, NOBODY, NOBODY);
  const stats = await lstat(path);
  if (stats.isDirectory()) {
    for (const child of await readdir(path)) await giveAway(join(path, child));
  }
}

/** Whether a read-only file system now holds a copy of `source` at `mountPoint` (a tmpfs; root only). */
function readOnlyCopy(defer: Defer, mountPoint: string, source: string | null): boolean {
  if (!isRoot) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
  } catch {
    return false;
  }
  defer(() => execFileSync('umount', ['-l', mountPoint]));
  if (source !== null) execFileSync('cp', ['-a', `${source}/.`, mountPoint]);
  execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
  return true;
}

/** DATA_DIR not there yet (`npm start`'s ./data the first time), empty, or used. */
type DirectoryState = 'missing' | 'fresh' | 'holding data';

/** Where the address or a setting is refused, the directory's state is none of its business. */
const EVERY_STATE: DirectoryState[] = ['missing', 'fresh', 'holding data'];

/** Registers what to undo when the test ends; undone last first. */
type Defer = (undo: () => unknown) => void;

interface Arranged {
  /** DATA_DIR for the start (the directory prepared, by default). */
  dataDir?: string;
  env?: Record<string, string>;
  /** Why the case cannot run here. */
  skip?: string;
}

interface Refusal {
  what: string;
  status: number;
  /** The one line on stderr (after `stateful: `). */
  line: RegExp;
  /** Runs the supervisor as an unprivileged user. */
  unprivileged?: boolean;
  /** The directory states it is tried with (fresh and holding data by default). */
  states?: DirectoryState[];
  /** Sets the failure up around `dir`, the data directory in its state. */
  arrange?: (dir: string, defer: Defer) => Promise<Arranged>;
}

const resolverSaysNoSuchName = lookup('nosuchhost.invalid').then(
  () => false,
  (error: NodeJS.ErrnoException) => error.code === 'ENOTFOUND',
);

/** A port held by another program for the test's length. */
async function takenPort(defer: Defer): Promise<number> {
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  defer(() => taken.close());
  return (taken.address() as AddressInfo).port;
}

const REFUSALS: Refusal[] = [
  {
    what: 'HOST is a name that does not resolve',
    states: EVERY_STATE,
    status: 4,
    line: /^cannot listen on nosuchhost\.invalid:\d+: HOST is no name this machine can resolve\. Set HOST to an address of this machine/,
    async arrange() {
      // A resolver that cannot be asked says EAI_AGAIN, a passing failure rightly retried.
      if (!(await resolverSaysNoSuchName))
        return { skip: 'the resolver does not answer ENOTFOUND' };
      return { env: { HOST: 'nosuchhost.invalid' } };
    },
  },
  {
    what: 'HOST is no address of this machine',
    states: EVERY_STATE,
    status: 4,
    line: /^cannot listen on 192\.0\.2\.1:\d+: HOST is not an address of this machine\. Set HOST to one of its addresses/,
    arrange: async () => ({ env: { HOST: '192.0.2.1' } }),
  },
  {
    what: 'the port is in use by another program',
    states: EVERY_STATE,
    status: 4,
    line: /^cannot listen on 127\.0\.0\.1:\d+: the port is in use by another program\. Stop that program, or set PORT\.$/,
    arrange: async (_dir, defer) => ({ env: { PORT: String(await takenPort(defer)) } }),
  },
  {
    what: 'the port is below what this user may take',
    status: 4,
    line: /^cannot listen on 127\.0\.0\.1:80: this user may not listen on a port below \d+\. Set PORT to \d+ or above\.$/,
    unprivileged: true,
    async arrange(dir) {
      if ((await lowestUnprivilegedPort()) <= 80) return { skip: 'any user may take port 80 here' };
      await giveAway(dir); // the directory is this user's: the port is what is refused
      return { env: { PORT: '80' } };
    },
  },
  {
    what: 'another live instance owns the data directory',
    status: 3,
    line: /^Another live instance owns this data directory \(it holds .*instance\.lock\)\. Stop it first, or point DATA_DIR at another directory\.$/,
    states: ['holding data'],
    async arrange(dir, defer) {
      const live = await spawnService(dir);
      defer(() => live.process.stop('SIGKILL'));
      return {};
    },
  },
  {
    what: 'the service runs already on that port and data directory (npm start twice)',
    status: 3,
    line: /^cannot listen on 127\.0\.0\.1:\d+: the port is in use, and another live instance owns the data directory .*: the service is running already\. Stop it first, or set PORT and DATA_DIR for a second one\.$/,
    states: ['holding data'],
    async arrange(dir, defer) {
      const live = await spawnService(dir);
      defer(() => live.process.stop('SIGKILL'));
      return { env: { PORT: new URL(live.url).port } };
    },
  },
  {
    what: 'a name in the data directory is a symbolic link',
    status: 5,
    line: /^Refusing to use the data directory .*: .*sessions is a symbolic link \(never followed\): replace the link with a real folder/,
    async arrange(dir) {
      const elsewhere = `${dir}-elsewhere`;
      await mkdir(join(dir, 'sessions'), { recursive: true });
      await rename(join(dir, 'sessions'), elsewhere);
      await symlink(elsewhere, join(dir, 'sessions'));
      return {};
    },
  },
  {
    what: 'DATA_DIR is a file',
    status: 6,
    line: /^Cannot use the data directory .*: it is a file, not a directory\. Set DATA_DIR to a directory .* Nothing was changed\.$/,
    async arrange(dir) {
      const file = `${dir}.file`;
      await writeFile(file, 'not a directory\n');
      return { dataDir: file };
    },
  },
  {
    what: 'DATA_DIR is a link to nothing',
    status: 6,
    line: /^Cannot use the data directory .*: it is a link to .*-gone, which does not exist\. Make that directory, or set DATA_DIR to a directory \(it is made if missing\)\. Nothing was changed\.$/,
    async arrange(dir) {
      const link = `${dir}.link`;
      await symlink(`${dir}-gone`, link);
      return { dataDir: link };
    },
  },
  {
    what: 'DATA_DIR is under a file',
    status: 6,
    line: /^Cannot use the data directory .*: .* is a file, so no directory can be made under it\./,
    async arrange(dir) {
      const file = `${dir}.file`;
      await writeFile(file, 'not a directory\n');
      return { dataDir: join(file, 'data') };
    },
  },
  {
    what: 'the data directory is not writable by this user',
    status: 6,
    line: /^Cannot use the data directory .*: this user .*may not read and write in it\. Give it to this user \(chown\), or set DATA_DIR to a directory it may write\. Nothing was changed\.$/,
    unprivileged: true,
    async arrange(dir) {
      await giveAway(dir);
      await chmod(dir, 0o555);
      return {};
    },
  },
  {
    what: "one of the service's files is not writable by this user",
    status: 6,
    line: /^Cannot use the data directory .*: this user .*may not read and write .*events\.jsonl\. Give it to this user/,
    unprivileged: true,
    async arrange(dir) {
      await writeFile(join(dir, 'events.jsonl'), '', { flag: 'a' });
      await giveAway(dir);
      await chmod(join(dir, 'events.jsonl'), 0o444);
      return {};
    },
  },
  {
    what: 'DATA_DIR does not exist and this user may not make it',
    status: 6,
    line: /^Cannot use the data directory .*: it does not exist, and this user .*may not make it in .*\. Make it for this user \(mkdir, chown\), or set DATA_DIR to a directory it may write\./,
    unprivileged: true,
    states: ['fresh'],
    async arrange(dir) {
      await chmod(dir, 0o555);
      return { dataDir: join(dir, 'data') };
    },
  },
  {
    what: 'the data directory is on a read-only file system',
    status: 6,
    line: /^Cannot use the data directory .*: it is on a read-only file system\. Set DATA_DIR to a directory on a writable one\./,
    async arrange(dir, defer) {
      const mountPoint = `${dir}-ro`;
      await mkdir(mountPoint);
      const held = (await readdir(dir)).length > 0;
      if (!readOnlyCopy(defer, mountPoint, held ? dir : null)) {
        return { skip: 'needs root to mount a read-only tmpfs' };
      }
      return { dataDir: mountPoint };
    },
  },
  {
    what: 'a setting is not valid',
    states: EVERY_STATE,
    status: 78,
    line: /^configuration error: PORT must be an integer from 0 to 65535; got "abc"\.$/,
    arrange: async () => ({ env: { PORT: 'abc' } }),
  },
];

/** A data directory a service has used: a session, a clean stop (made once, copied for each case). */
let seeded = '';

/**
 * The data directory in `state`, under a folder of its own that others may
 * pass through (setpriv runs as nobody); removed with all the test made
 * around it, after what `defer` was given is undone.
 */
async function prepare(
  t: TestContext,
  state: DirectoryState,
): Promise<{ parent: string; dir: string; defer: Defer }> {
  const parent = await mkdtemp(join(tmpdir(), 'stateful-refusal-'));
  await chmod(parent, 0o755);
  const undo: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of undo.reverse()) await step();
    execFileSync('chmod', ['-R', 'u+rwX', parent]); // what a case closed, opened to be removed
    await rm(parent, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  const dir = join(parent, 'data');
  if (state === 'fresh') await mkdir(dir);
  else if (state === 'holding data')
    await cp(seeded, dir, { recursive: true, preserveTimestamps: true });
  return { parent, dir, defer: (step) => undo.push(step) };
}

/** Runs `stateful supervise` to its end, with JSON logs or on a terminal; what it wrote. */
async function supervise(
  env: Record<string, string>,
  options: { runner: Runner; terminal: boolean },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const words = [...options.runner.prefix, options.runner.node, CLI, 'supervise'];
  const fullEnv = { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env };
  const child = options.terminal
    ? spawn(
        'script',
        ['-qec', words.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'],
        { env: { ...fullEnv, TERM: 'xterm-256color' }, stdio: ['ignore', 'pipe', 'pipe'] },
      )
    : spawn(words[0] as string, words.slice(1), {
        env: fullEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  const run = new RunningProcess(child);
  const closed = once(child, 'close'); // all its output read
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const { code } = await run.exited;
  await closed;
  clearTimeout(timer);
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/** The terminal's text without colours, one entry a line. */
function terminalLines(output: string): string[] {
  return (
    output
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the colours are what is taken out.
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
  );
}

describe('a start that cannot succeed, under the supervisor (npm start)', {
  concurrency: 4,
}, () => {
  before(async () => {
    // A directory with data, stopped cleanly: made once, copied for each case.
    seeded = join(await mkdtemp(join(tmpdir(), 'stateful-seed-')), 'data');
    const service = await spawnService(seeded);
    await postJson(`${service.url}/sessions`, { name: 'alice', data: { plan: 'pro' } });
    await service.process.stop('SIGTERM');
    unprivileged = await unprivilegedRunner((step) => cleanups.push(step));
  });
  after(async () => {
    for (const step of cleanups) await step();
    await rm(dirname(seeded), { recursive: true, force: true });
  });

  const privileged: Runner = { prefix: [], node: process.execPath };
  let unprivileged: Runner | null = null;
  const cleanups: (() => unknown)[] = [];
  for (const refusal of REFUSALS) {
    for (const state of refusal.states ?? ['fresh', 'holding data']) {
      for (const terminal of [false, true]) {
        const how = terminal ? 'on a terminal' : 'with JSON logs';
        it(`${refusal.what} (${state}, ${how}): exit ${refusal.status}, one line, nothing written`, async (t) => {
          if (refusal.unprivileged === true && unprivileged === null) {
            t.skip('nobody (uid 65534) cannot run the built CLI from here');
            return;
          }
          const { parent, dir, defer } = await prepare(t, state);
          const arranged = (await refusal.arrange?.(dir, defer)) ?? {};
          if (arranged.skip !== undefined) {
            t.skip(arranged.skip);
            return;
          }
          const dataDir = arranged.dataDir ?? dir;
          // The test's whole folder: DATA_DIR, and where a start might make it.
          const before = await listing(parent);
          const started = performance.now();
          const run = await supervise(
            {
              DATA_DIR: dataDir,
              HOST: '127.0.0.1',
              PORT: String(await freePort()),
              ...arranged.env,
            },
            {
              runner: refusal.unprivileged === true ? (unprivileged ?? privileged) : privileged,
              terminal,
            },
          );
          const output = `${run.stdout}${run.stderr}`;
          assert.equal(run.code, refusal.status, output);
          assert.ok(performance.now() - started < 10_000, 'ends within seconds');
          assert.deepEqual(
            await listing(parent),
            before,
            `the data directory as it was: ${output}`,
          );
          assert.doesNotMatch(
            output,
            /^\s+at |"stack"|unexpectedly; restarting/m,
            'no stack, no restart',
          );
          const starts = output
            .split('\n')
            .filter((line) => line.includes('supervisor started the service'));
          assert.equal(starts.length, refusal.status === 78 ? 0 : 1, `started once: ${output}`);
          if (terminal) {
            const lines = terminalLines(output).filter((line) => !/\bINFO\b/.test(line));
            assert.equal(
              lines.length,
              1,
              `one line besides the supervisor's INFO lines: ${output}`,
            );
            assert.match(lines[0] as string, /^stateful: /);
            assert.match((lines[0] as string).replace(/^stateful: /, ''), refusal.line);
          } else {
            const lines = run.stderr.split('\n').filter((line) => line !== '');
            assert.equal(lines.length, 1, run.stderr);
            assert.match((lines[0] as string).replace(/^stateful: /, ''), refusal.line);
            if (refusal.status !== 78) {
              assert.ok(
                run.stdout.split('\n').some((line) => line.includes('"level":60')),
                `the cause logged for machines too: ${run.stdout}`,
              );
            }
          }
        });
      }
    }
  }
});
