/**
 * What keeps the code one can hold in one's head: no module under src/ over
 * MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES (docs/architecture.md
 * says why a number; the exceptions below say why each must stay).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../src/project-root.js';

const MAX_MODULE_LINES = 450;
const MAX_FUNCTION_LINES = 80;

const root = fileURLToPath(PROJECT_ROOT);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every function of a file longer than `max` lines, as `file:line name (N lines)`. */
export function longFunctions(path: string, text: string, max: number): string[] {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name =
          'name' in node && node.name !== undefined ? node.name.getText(file) : '(anonymous)';
        found.push(`${relative(root, path)}:${start + 1} ${name} (${lines} lines)`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('the size of what a newcomer reads', () => {
  const files = sources(join(root, 'src'));

  it(`has no module in src/ over ${MAX_MODULE_LINES} lines`, () => {
    const long = files
      .map((path) => ({ path, lines: readFileSync(path, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_MODULE_LINES)
      .map(({ path, lines }) => `${relative(root, path)} (${lines} lines)`);
    assert.deepEqual(long, []);
  });

  it(`has no function in src/ over ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files.flatMap((path) =>
      longFunctions(path, readFileSync(path, 'utf8'), MAX_FUNCTION_LINES),
    );
    assert.deepEqual(long, []);
  });

  it('finds a long function when there is one (the check can fail)', () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const a${i} = ${i};`);
    const text = `export function long(): void {\n${body.join('\n')}\n}\n`;
    assert.equal(longFunctions(join(root, 'src/x.ts'), text, MAX_FUNCTION_LINES).length, 1);
  });
});
