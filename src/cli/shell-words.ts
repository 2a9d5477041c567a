/**
 * Commands the CLI prints for people to paste (the next page's, the way to
 * pass a value that starts with "-"): every word quoted for a POSIX shell,
 * so what a server or a person typed (a cursor, a search) is pasted back as
 * the same text, never as more shell. Text holding a character a terminal
 * acts on is written in bash's $'…' form, so it is shown visibly and pastes
 * as itself.
 */
import { holdsTerminalControls } from '../domain/printable.js';

/** Safe as it is: no quoting needed (not starting with = or ~, which zsh and bash expand). */
const PLAIN = /^[\w@%+:,./-][\w@%+=:,./-]*$/;

/** `text` as one shell word: as it is when plainly safe, else quoted. */
export function shellWord(text: string): string {
  if (PLAIN.test(text)) return text;
  if (!holdsTerminalControls(text)) return `'${text.replace(/'/g, `'\\''`)}'`;
  let quoted = '';
  for (const char of text) {
    if (char === '\\' || char === "'") quoted += `\\${char}`;
    else if (holdsTerminalControls(char)) {
      // Its UTF-8 bytes as \xHH: bash 3.2 (macOS's /bin/bash) has no \u.
      for (const byte of new TextEncoder().encode(char)) {
        quoted += `\\x${byte.toString(16).padStart(2, '0')}`;
      }
    } else quoted += char;
  }
  return `$'${quoted}'`;
}

/** `--flag value` for a shell, or `--flag=value` when the value starts with "-" (else it reads as a flag). */
export function flagWords(flag: string, value: string): string {
  return value.startsWith('-') ? `--${flag}=${shellWord(value)}` : `--${flag} ${shellWord(value)}`;
}
