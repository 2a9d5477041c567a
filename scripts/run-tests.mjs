// Runs the compiled test files with node:test. Node versions have disagreed on how
// `node --test` treats directory and glob arguments, so the files are listed here.
// `--docker` runs the container lifecycle suite (test/docker/, needs a Docker
// engine) instead of everything else. Other arguments choose files by path: each is
// a prefix of the path relative to the test directory, so `inspector` runs
// test/inspector/ (not test/integration/inspector.test.ts), `domain/session` runs
// test/domain/session*.test.ts, and `integration/crash.test.ts` one file; a leading
// `test/` or `dist/test/` and a `.ts` ending are accepted, as a shell completes them.
// The HTTP tests (test/http/) then run a second time on the PostgreSQL store
// (STATEFUL_TEST_STORE=postgres), on a throwaway server, wherever PostgreSQL's
// server binaries are (always in CI).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const docker = process.argv.includes('--docker');
const only = process.argv
  .slice(2)
  .filter((arg) => arg !== '--docker')
  .map((arg) => arg.replace(/^(\.\/)?(dist\/)?test\//, '').replace(/\.ts$/, '.js'));

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const files = collect(root)
  .filter((file) => relative(root, file).startsWith('docker/') === docker)
  .filter(
    (file) => only.length === 0 || only.some((prefix) => relative(root, file).startsWith(prefix)),
  )
  .sort();
if (files.length === 0) {
  console.error(
    only.length > 0 && existsSync(root)
      ? `No test file's path under test/ starts with ${only.join(' or ')} (see docs/development.md).`
      : 'No test files found: run `npm run build` first.',
  );
  process.exit(1);
}
const run = (list, env = {}) =>
  spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...list], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  }).status ?? 1;

const havePostgres =
  process.env.PG_BIN !== undefined ||
  process.env.CI !== undefined ||
  (existsSync('/usr/lib/postgresql') &&
    readdirSync('/usr/lib/postgresql').some((v) =>
      existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')),
    ));
let status = run(files);
const httpFiles = files.filter((file) => relative(root, file).startsWith('http/'));
if (httpFiles.length > 0) {
  if (havePostgres) {
    console.log('\n# The HTTP tests again, on the PostgreSQL store');
    status = Math.max(status, run(httpFiles, { STATEFUL_TEST_STORE: 'postgres' }));
  } else {
    console.log(
      '\n# No PostgreSQL server binaries here: the HTTP tests ran on the file store only',
    );
  }
}
process.exit(status);
