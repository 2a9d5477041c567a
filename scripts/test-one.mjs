// Runs test files from their TypeScript sources, without building the project first:
// `npm run test:one -- test/domain/session.test.ts` (or `-- domain/session`, chosen as
// scripts/run-tests.mjs chooses: a prefix of the path under test/). Node transforms
// the types itself (--experimental-transform-types) and scripts/ts-hooks.mjs maps the
// sources' `./x.js` imports to `./x.ts`. No PostgreSQL re-run of test/http/ here (set
// STATEFUL_TEST_STORE=postgres for that), and no type check: `npm run check` does it.
// Tests that start the service as a real process run the built command,
// dist/src/cli/main.js: those still need `npm run build` first, and this says so.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const testDir = join(root, 'test');
const args = process.argv.slice(2);
if (args.length === 0) {
  console.error('usage: npm run test:one -- <test file or path prefix under test/>…');
  process.exit(2);
}
const prefixes = args.map((arg) => arg.replace(/^(\.\/)?test\//, ''));

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}
const files = collect(testDir)
  .filter((file) => prefixes.some((prefix) => relative(testDir, file).startsWith(prefix)))
  .sort();
if (files.length === 0) {
  console.error(`No test file's path under test/ starts with ${prefixes.join(' or ')}.`);
  process.exit(1);
}

// The built command, and whether it is older than the newest source it is built from.
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
function newest(dir) {
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    const time = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    return Math.max(latest, time);
  }, 0);
}
const needBuild = files.filter((file) =>
  /tools\/service-process\.js'/.test(readFileSync(file, 'utf8')),
);
if (needBuild.length > 0) {
  const state = !existsSync(cli)
    ? 'is not built'
    : statSync(cli).mtimeMs < newest(join(root, 'src'))
      ? 'is older than src/'
      : null;
  if (state !== null) {
    console.error(
      `note: ${needBuild.map((file) => relative(root, file)).join(', ')} ` +
        `run${needBuild.length === 1 ? 's' : ''} the built service, dist/src/cli/main.js, ` +
        `which ${state}: run \`npm run build\` first (or \`npm test -- ${prefixes.join(' ')}\`, which builds).`,
    );
  }
}

const hooks = new URL('./ts-hooks.mjs', import.meta.url).href;
const result = spawnSync(
  process.execPath,
  [
    '--experimental-transform-types',
    '--disable-warning=ExperimentalWarning',
    `--import=${hooks}`,
    '--test',
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
