import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Writes a strict tsconfig for `file` in `dir` (ES2022, NodeNext, no
 * ambient types, libraries checked too) and runs the project's tsc on it,
 * as a program that uses our types would be checked.
 */
export async function writeStrictTsconfig(
  dir: string,
  file: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: [],
        ...extra,
      },
      files: [file],
    }),
  );
}

/** Runs tsc on the project in `dir`: its status and what it printed. */
export function typeCheck(dir: string): { status: number | null; stdout: string; stderr: string } {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  return spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
}
