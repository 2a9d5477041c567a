import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from './project-root.js';

/** The package's version, from its package.json (beside dist/ and src/ alike). */
export function packageVersion(): string {
  const path = new URL('package.json', PROJECT_ROOT);
  return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
}
