/**
 * The client package (client/) as its users get it: `npm pack` holds its
 * built code, the code's declarations and a README, and nothing of the
 * server; its package.json names no dependency; and a project of its own
 * installs the tarball (offline: there is nothing else to fetch), runs it
 * (and the example in docs/api.md) from plain Node against the real
 * service, and type-checks against it with tsc --strict. Needs `npm run build` (which builds client/dist/).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnService } from '../../tools/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';
import { typeCheck, writeStrictTsconfig } from '../helpers/type-check.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const CLIENT = join(PROJECT_ROOT, 'client');

/** npm, with a cache of the test's own (nothing read from or left in the user's). */
function npm(args: string[], cwd: string, cache: string) {
  const run = spawnSync('npm', [...args, '--cache', cache, '--no-audit', '--no-fund'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  assert.equal(run.status, 0, `npm ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

interface Packed {
  filename: string;
  files: { path: string }[];
}

/** The module specifiers a built file imports or re-exports. */
function specifiers(text: string): string[] {
  return [...text.matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map(
    (match) => match[1] as string,
  );
}

/** The example in docs/api.md (The typed client), pointed at `url`. */
async function docsExample(url: string): Promise<string> {
  const api = await readFile(join(PROJECT_ROOT, 'docs', 'api.md'), 'utf8');
  const section = api.slice(api.indexOf('## The typed client'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  assert.ok(code.includes("from 'stateful-service-client'"), 'docs/api.md shows the package');
  return code.replace("'http://127.0.0.1:8091'", JSON.stringify(url));
}

const EXAMPLE = `
import { StatefulClient, UntrustedAnswerError } from 'stateful-service-client';

const client = new StatefulClient(process.argv[2]);
await client.createSession({ name: 'alice' });
await client.createSession({ name: 'bob' });
const page = await client.events({ limit: 2 });
console.log(page.events.map((event) => event.name).join(' '), page.positions.join(' '));
const positions = [];
for await (const { position } of client.eventHistory({ limit: 1 })) positions.push(position);
console.log(positions.join(' '), typeof UntrustedAnswerError);
`;

const TYPED_USE = `
import './docs-example.js';
import { type EventPage, type PositionedEvent, type Session, StatefulClient } from 'stateful-service-client';

const client = new StatefulClient({ url: 'http://127.0.0.1:8091', maxAnswerBytes: 1 << 20 });
export async function newest(): Promise<number[]> {
  const page: EventPage = await client.events({ limit: 10, before: 100 });
  const next: number | null = page.next;
  const first: Session | undefined = (await client.sessionPage()).sessions[0];
  const seen: PositionedEvent[] = [];
  for await (const entry of client.eventHistory()) seen.push(entry);
  // @ts-expect-error: a position is a number
  const wrong: string = seen[0]?.position;
  // @ts-expect-error: before is a position, not a cursor
  await client.events({ before: 'abc' });
  return [...page.positions, next ?? 0, first?.access_count ?? 0, wrong.length];
}
`;

describe('the client package', () => {
  it('packs its code, declarations and README, nothing of the server, and names no dependency', async (t) => {
    const dir = await tempDir(t);
    const [packed] = JSON.parse(
      npm(['pack', '--dry-run', '--json'], CLIENT, join(dir, 'cache')),
    ) as Packed[];
    const paths = (packed as Packed).files.map((file) => file.path).sort();
    assert.ok(paths.length <= 16, `a handful of files: ${paths.join(', ')}`);
    for (const path of paths) {
      assert.match(path, /^(README\.md|package\.json|dist\/[a-z-]+\.(js|d\.ts))$/);
    }
    for (const path of ['README.md', 'dist/index.js', 'dist/index.d.ts']) {
      assert.ok(paths.includes(path), `${path} is packed`);
    }
    for (const path of paths.filter((name) => name.startsWith('dist/'))) {
      for (const specifier of specifiers(await readFile(join(CLIENT, path), 'utf8'))) {
        const target = `dist/${specifier.replace(/^\.\//, '')}`;
        const ownFile = [target, target.replace(/\.js$/, '.d.ts')].some((own) =>
          paths.includes(own),
        );
        assert.ok(specifier.startsWith('./') && ownFile, `${path} imports ${specifier}`);
      }
    }
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));
    for (const key of Object.keys(manifest)) {
      assert.doesNotMatch(key, /dependencies$/i, `the package names no ${key}`);
    }
    const service = JSON.parse(await readFile(join(PROJECT_ROOT, 'package.json'), 'utf8'));
    assert.equal(manifest.version, service.version, "its version is the service's");
  });

  it('installs from its tarball in a project of its own, runs from plain Node, and type-checks with tsc --strict', async (t) => {
    const dir = await tempDir(t);
    const cache = join(dir, 'cache');
    const [packed] = JSON.parse(
      npm(['pack', '--json', '--pack-destination', dir], CLIENT, cache),
    ) as Packed[];
    const project = join(dir, 'consumer');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), '{"private":true,"type":"module"}');
    npm(
      ['install', '--offline', '--ignore-scripts', join(dir, (packed as Packed).filename)],
      project,
      cache,
    );
    const installed = (await readdir(join(project, 'node_modules'))).filter(
      (name) => !name.startsWith('.'),
    );
    assert.deepEqual(installed, ['stateful-service-client'], 'nothing else comes with it');

    const service = await spawnService(join(dir, 'data'));
    t.after(() => service.process.kill('SIGKILL'));
    await writeFile(join(project, 'example.mjs'), EXAMPLE);
    const run = spawnSync(process.execPath, ['example.mjs', service.url], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const [names, history] = run.stdout.trim().split('\n');
    assert.match(names as string, /^alice bob (\d+) (\d+)$/);
    const count = Number((names as string).split(' ')[3]);
    assert.equal(
      history,
      `${Array.from({ length: count }, (_, index) => count - index).join(' ')} function`,
    );

    const docs = await docsExample(service.url);
    await writeFile(join(project, 'docs-example.mjs'), docs);
    const runDocs = spawnSync(process.execPath, ['docs-example.mjs'], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.equal(runDocs.status, 0, runDocs.stderr);
    assert.match(runDocs.stdout, /^alice .* 1\n/);
    assert.match(
      runDocs.stdout,
      /\n1 startup\n404 not_found\n$/,
      'history back to the first event',
    );

    await writeFile(join(project, 'docs-example.ts'), docs);
    await writeFile(join(project, 'use.ts'), TYPED_USE);
    await writeStrictTsconfig(project, 'use.ts');
    const check = typeCheck(project);
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
  });
});
