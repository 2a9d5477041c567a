// Runs the compiled test files with node:test. Node 20 and 22 disagree on how
// `node --test` treats directory and glob arguments, so the files are listed here.
// `--docker` runs the container lifecycle suite (test/docker/, needs a Docker
// engine) instead of everything else; other arguments filter files by path.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../dist/test/', import.meta.url).pathname;
const docker = process.argv.includes('--docker');
const only = process.argv.slice(2).filter((arg) => arg !== '--docker');

function collect(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return collect(path);
    return entry.name.endsWith('.test.js') ? [path] : [];
  });
}

const files = collect(root)
  .filter((file) => relative(root, file).startsWith('docker/') === docker)
  .filter((file) => only.length === 0 || only.some((part) => relative(root, file).includes(part)))
  .sort();
if (files.length === 0) {
  console.error('No test files found: run `npm run build` first.');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
