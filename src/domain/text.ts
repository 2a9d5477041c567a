/**
 * What text the service stores: any Unicode string except U+0000 and
 * unpaired surrogates (`"\ud800"` alone). Neither can be stored the same way
 * everywhere: PostgreSQL refuses U+0000 in text and jsonb, and a lone
 * surrogate is not UTF-8 at all (it becomes U+FFFD on the way in, so what is
 * read back differs from what was acknowledged). Both stores, `migrate` and
 * the service's validation and `migrate` apply this one rule, so a session either
 * is stored exactly or is refused with a 400 that names the field.
 */

/** U+0000, a high surrogate with no low one after it, a low one with no high one before it. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is what it looks for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `text` can be stored, fast: the engine's own well-formedness check
 * (ES2024, Node 20+) and a search for NUL take 10 µs on 900 KB, the
 * lookbehind above 0.7 ms; it only says where, once something is found.
 */
function storable(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed() && !text.includes('\u0000');
}

/** What in `text` cannot be stored, in words, or null when it all can. */
export function unstorableText(text: string): string | null {
  if (storable(text)) return null;
  const found = UNSTORABLE.exec(text);
  if (found === null) return null;
  return found[0] === '\u0000'
    ? 'U+0000 (NUL)'
    : `an unpaired surrogate (\\u${found[0].charCodeAt(0).toString(16)})`;
}

/** The 400's message for a `problem` unstorableIn or a caller found (`"q" holds U+0000 (NUL)`). */
export function unstorableMessage(problem: string): string {
  return `${problem}, which no session may hold (any other Unicode text may).`;
}

/** Whether every string and key in a JSON value can be stored (no paths built: the common case). */
function allStorable(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node === 'string') {
      if (!storable(node)) return false;
    } else if (typeof node === 'object' && node !== null) {
      if (Array.isArray(node)) {
        for (const item of node) pending.push(item);
      } else {
        for (const key in node) {
          if (!storable(key)) return false;
          pending.push((node as Record<string, unknown>)[key]);
        }
      }
    }
  }
  return true;
}

/** A path as an error message shows it: long keys make long paths, the message keeps their end. */
function shown(path: string): string {
  return path.length <= 120 ? `"${path}"` : `"…${path.slice(-119)}"`;
}

/**
 * The first string or key in a JSON value (a session's `data`) that cannot be
 * stored (an object's keys before its values): where it is (`"data.a[2]"`,
 * or `a key in "data.a"`) and what is wrong; null when there is none. Iterative,
 * so depth costs no stack.
 */
export function findUnstorableText(
  value: unknown,
  path: string,
): { where: string; problem: string } | null {
  if (allStorable(value)) return null;
  const pending: [unknown, string][] = [[value, path]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, at] = next;
    if (typeof node === 'string') {
      const problem = unstorableText(node);
      if (problem !== null) return { where: shown(at), problem };
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) pending.push([node[i], `${at}[${i}]`]);
    } else if (typeof node === 'object' && node !== null) {
      const entries = Object.entries(node);
      for (const [key] of entries) {
        const problem = unstorableText(key);
        if (problem !== null) return { where: `a key in ${shown(at)}`, problem };
      }
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, item] = entries[i] as [string, unknown];
        pending.push([item, `${at}.${key}`]);
      }
    }
  }
  return null;
}

/**
 * Why a session's name or data (a stored one, or a request's, either field
 * optional) cannot be stored everywhere (`"name" holds U+0000 (NUL)`), or null.
 */
export function unstorableIn(session: { name?: unknown; data?: unknown }): string | null {
  const inName = typeof session.name === 'string' ? unstorableText(session.name) : null;
  if (inName !== null) return `"name" holds ${inName}`;
  const inData = findUnstorableText(session.data, 'data');
  return inData === null ? null : `${inData.where} holds ${inData.problem}`;
}
