/**
 * Commands the CLI prints for people to paste (the next page's, the way to
 * pass a value that starts with "-"): every word quoted for a POSIX shell,
 * so what a server or a person typed (a cursor, a search) is pasted back as
 * the same text, never as more shell. Text holding a character a terminal
 * acts on is written in bash's $'…' form, so it is shown visibly and pastes
 * as itself.
 */
import { holdsTerminalControls } from '../domain/printable.js';

const PLAIN = /^[\w@%+=:,./-]+$/;

/** `text` as one shell word: as it is when plainly safe, else quoted. */
export function shellWord(text: string): string {
  if (PLAIN.test(text)) return text;
  if (!holdsTerminalControls(text)) return `'${text.replace(/'/g, `'\\''`)}'`;
  let quoted = '';
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (char === '\\' || char === "'") quoted += `\\${char}`;
    else if (holdsTerminalControls(char)) {
      quoted +=
        code <= 0xff
          ? `\\x${code.toString(16).padStart(2, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`;
    } else quoted += char;
  }
  return `$'${quoted}'`;
}

/** `--flag value` for a shell, or `--flag=value` when the value starts with "-" (else it reads as a flag). */
export function flagWords(flag: string, value: string): string {
  return value.startsWith('-') ? `--${flag}=${shellWord(value)}` : `--${flag} ${shellWord(value)}`;
}
