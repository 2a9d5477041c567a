/**
 * The documentation holds together: every relative link in README.md and
 * docs/**\/*.md names a file that exists, every `#anchor` names a heading of
 * its target (GitHub's slugs), and the two pages meant to be read in minutes
 * stay short.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from '../../src/project-root.js';

const ROOT = fileURLToPath(PROJECT_ROOT);

/** The text outside fenced code blocks, line for line (fenced lines blanked). */
export function withoutFences(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split('\n').map((line) => {
    const opening = /^\s*(```+|~~~+)/.exec(line);
    if (fence === null && opening?.[1] !== undefined) {
      fence = opening[1];
      return '';
    }
    if (fence !== null) {
      if (line.trim().startsWith(fence)) fence = null;
      return '';
    }
    return line;
  });
}

/** GitHub's anchor for a heading: lowercase, punctuation but '-' and '_' dropped, spaces to '-'. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text
    .replace(/[*`]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a markdown file's headings make, repeated names numbered as GitHub numbers them. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutFences(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading?.[1] === undefined) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The targets of a markdown file's inline links and images, with their line numbers. */
export function links(markdown: string): { target: string; line: number }[] {
  const found: { target: string; line: number }[] = [];
  withoutFences(markdown).forEach((text, index) => {
    const code = text.replace(/`[^`]*`/g, '``'); // `[x](y)` in code is no link
    for (const match of code.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (match[1] !== undefined) found.push({ target: match[1], line: index + 1 });
    }
  });
  return found;
}

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

const FILES = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))].sort();

function lineCount(file: string): number {
  return readFileSync(file, 'utf8').replace(/\n$/, '').split('\n').length;
}

describe('the documentation', () => {
  it('finds the pages it checks', () => {
    const names = FILES.map((file) => relative(ROOT, file));
    for (const page of [
      'README.md',
      'docs/api.md',
      'docs/operating.md',
      'docs/design/storage.md',
    ]) {
      assert.ok(names.includes(page), `${page} is checked`);
    }
  });

  it('makes anchors and finds links as GitHub does', () => {
    assert.equal(slug('Walkthrough (local mode)'), 'walkthrough-local-mode');
    assert.equal(
      slug('What bounds `POST` and spread `PUT` (2026-12-02)'),
      'what-bounds-post-and-spread-put-2026-12-02',
    );
    assert.equal(slug('With Docker: the `cluster` profile'), 'with-docker-the-cluster-profile');
    assert.equal(slug('snake_case and a-dash'), 'snake_case-and-a-dash');
    assert.deepEqual(
      [...anchors('# A\n```\n# not a heading\n```\n## A\n### B.\n')],
      ['a', 'a-1', 'b'],
    );
    assert.deepEqual(
      links('[a](x.md#y) `[b](not-a-link)` ![c](d.png)\n```\n[e](f)\n```\n<https://e.org>'),
      [
        { target: 'x.md#y', line: 1 },
        { target: 'd.png', line: 1 },
      ],
    );
  });

  it('has no relative link to a missing file or heading', () => {
    const broken: string[] = [];
    const anchorsOf = new Map<string, Set<string>>();
    const anchorsIn = (file: string) => {
      let set = anchorsOf.get(file);
      if (set === undefined) {
        set = anchors(readFileSync(file, 'utf8'));
        anchorsOf.set(file, set);
      }
      return set;
    };
    for (const file of FILES) {
      for (const { target, line } of links(readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
        const where = `${relative(ROOT, file)}:${line}: ${target}`;
        const [path = '', anchor] = target.split('#', 2);
        const resolved = path === '' ? file : join(dirname(file), decodeURIComponent(path));
        if (!existsSync(resolved)) {
          broken.push(`${where} (no such file)`);
          continue;
        }
        if (anchor === undefined || anchor === '') continue;
        if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) {
          broken.push(`${where} (an anchor into a file that is not markdown)`);
        } else if (!anchorsIn(resolved).has(decodeURIComponent(anchor))) {
          broken.push(`${where} (no such heading)`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('keeps the README and the storage decision record short enough to read in minutes', () => {
    const readme = lineCount(join(ROOT, 'README.md'));
    assert.ok(readme < 400, `README.md has ${readme} lines (under 400 wanted)`);
    const storage = lineCount(join(ROOT, 'docs', 'design', 'storage.md'));
    assert.ok(storage < 200, `docs/design/storage.md has ${storage} lines (under 200 wanted)`);
  });
});
