/**
 * The project's root directory (the image's /app): two levels above this module
 * when it runs compiled from dist/src/, one when Node runs src/ itself (a single
 * test file, without a build: docs/development.md). Files read at run time
 * (package.json, public/) are found from here in both layouts.
 */
export const PROJECT_ROOT: URL = new URL(
  /\/dist\/src\/[^/]+$/.test(import.meta.url) ? '../../' : '../',
  import.meta.url,
);

/** Whether Node runs this module from its TypeScript source rather than from dist/. */
export const RUNS_FROM_SOURCE: boolean = import.meta.url.endsWith('.ts');

/**
 * The Node flags a thread or a child process needs to run the TypeScript sources
 * too (scripts/ts-hooks.mjs maps `./x.js` imports to `./x.ts`); pass them only
 * when RUNS_FROM_SOURCE.
 */
export const FROM_SOURCE_FLAGS: readonly string[] = [
  '--experimental-transform-types',
  `--import=${new URL('scripts/ts-hooks.mjs', PROJECT_ROOT).href}`,
];
