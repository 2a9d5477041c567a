/**
 * How text from anywhere (a session, an event, a file name, a server's
 * error) is shown to a person on a terminal, so that it is shown and never
 * acted on. Here, below both doors that print (the CLI and the inspector's
 * text report), since neither may import the other.
 */

/**
 * What a terminal acts on rather than shows, or shows misleadingly: C0 and C1
 * control characters (ESC starts a sequence that can retitle the window, set
 * the clipboard, open links), DEL, the line and paragraph separators, the
 * bidirectional controls and marks that reorder what is printed after them
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), and the characters
 * that show as nothing (U+200B, U+2060–U+2064, U+FEFF), with which two
 * different names look the same. (The zero-width joiner and non-joiner,
 * U+200C and U+200D, are text: Persian, the Indic scripts and emoji need them.)
 */
const TERMINAL_CONTROLS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds.
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** TERMINAL_CONTROLS without the global flag: `test` on it keeps no position between calls. */
const ANY_TERMINAL_CONTROL = new RegExp(TERMINAL_CONTROLS.source);

/** Whether `text` holds a character `printable` would write visibly. */
export function holdsTerminalControls(text: string): boolean {
  return ANY_TERMINAL_CONTROL.test(text);
}

/**
 * `text` as a person's terminal may print it: each character of
 * TERMINAL_CONTROLS written visibly, as `\u001b` (`hex` as Python's repr
 * writes it: `\x1b`, `\u202e`). The CLI and the inspector's text report pass
 * everything a store, a file or a server gave them through this; JSON output
 * is left as it is.
 */
export function printable(text: string, form: 'json' | 'python' = 'json'): string {
  return text.replace(TERMINAL_CONTROLS, (char) => {
    const code = char.charCodeAt(0);
    if (form === 'python') {
      if (char === '\n') return '\\n';
      if (char === '\r') return '\\r';
      if (char === '\t') return '\\t';
      if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
    }
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
