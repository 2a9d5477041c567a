/**
 * How the CLI shows answers to people: lists as aligned tables on a terminal
 * and as tab-separated values, never cut, into a pipe or a file; `key  value`
 * lines for one object; colour only on a terminal and never with NO_COLOR
 * (https://no-color.org). Scripts ask for `--json` and get the API's JSON.
 * Every text a server or a store gave goes through `printable` before it is
 * shown: a name holding an escape sequence is printed as `\u001b…`, never
 * acted on by the terminal.
 */
import { once } from 'node:events';
import type { LoggedEvent, Session } from '../client/index.js';
import { printable } from '../domain/printable.js';
import { SESSION_KEYS } from '../domain/schemas.js';

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
}

const plain: Style = {
  bold: (text) => text,
  dim: (text) => text,
  green: (text) => text,
  yellow: (text) => text,
  red: (text) => text,
};

const sgr =
  (open: number, close: number) =>
  (text: string): string =>
    `\u001b[${open}m${text}\u001b[${close}m`;

const coloured: Style = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  red: sgr(31, 39),
};

/** Where the answers go, and how. */
export interface Output {
  json: boolean;
  style: Style;
  /** The terminal's width; undefined when stdout is no terminal. */
  width: number | undefined;
  /** The flags a printed command repeats to ask the same service the same way (` --url … --json`). */
  again: string;
}

/** Writes to stdout, waiting while it is full (a slow pipe holds the CLI, not its memory). */
export async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** A value as indented JSON. */
export function writeJson(value: unknown): Promise<void> {
  return write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Says on stderr which columns a narrow terminal had no room for, and where to see them. */
export function sayHidden(hidden: readonly string[], out: Output): void {
  if (hidden.length === 0) return;
  process.stderr.write(
    `(not shown, to fit ${out.width} columns: ${hidden.join(', ')}; --json shows every field)\n`,
  );
}

/** Colour for a stream: only a terminal, and not when NO_COLOR is set to anything. */
export function styleFor(
  stream: { isTTY?: boolean },
  env: Record<string, string | undefined> = process.env,
): Style {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return stream.isTTY === true && !noColor && env.TERM !== 'dumb' ? coloured : plain;
}

/**
 * How wide a table on `stream` may be: a terminal's columns (COLUMNS, else
 * 80, where the terminal does not say: 0 under `script`, say); undefined
 * into a pipe or a file, where lists are tab-separated and never cut.
 */
export function tableWidth(stream: NodeJS.WriteStream): number | undefined {
  if (stream.isTTY !== true) return undefined;
  const columns = Number(process.env.COLUMNS);
  return stream.columns || (Number.isInteger(columns) && columns > 0 ? columns : 80);
}

/** Marks drawn on the character before them: no column of their own. */
const COMBINING = /\p{Mn}|\p{Me}/u;
/**
 * Characters a terminal draws two columns wide: emoji shown as emoji (not
 * ©, ™ or ♥, which are drawn one column wide unless followed by U+FE0F),
 * and East Asian wide and fullwidth ones (Hangul Jamo, CJK, Hiragana to Yi, Hangul, CJK
 * compatibility, vertical and small forms, fullwidth forms, the
 * supplementary ideographic planes).
 */
const WIDE =
  /\p{Emoji_Presentation}|[\u1100-\u115f\u2e80-\u303e\u3041-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{20000}-\u{3fffd}]/u;

/** The columns a character takes on a terminal: 0, 1 or 2. */
function columnsOf(char: string): number {
  if (COMBINING.test(char)) return 0;
  return WIDE.test(char) ? 2 : 1;
}

/** The columns `text` takes on a terminal (after `printable`: no controls in it). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += columnsOf(char);
  return width;
}

/** `text` cut to `width` columns, with an ellipsis when cut. */
export function fit(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let kept = '';
  let used = 0;
  for (const char of text) {
    const columns = columnsOf(char);
    if (used + columns > width - 1) break;
    kept += char;
    used += columns;
  }
  return `${kept}…`;
}

/** One line per value: `key  value`, the keys aligned. */
export function keyValues(entries: [string, string][], style: Style): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${style.dim(key.padEnd(width))}  ${value}\n`).join('');
}

export interface Column<T> {
  title: string;
  value(row: T): string;
  /** The value into a pipe, where it differs from the terminal's (a time as is, not how long from now). */
  separated?(row: T): string;
  /** The most characters it shows (the last column also fits the terminal). */
  max?: number;
  /** The fewest it may be cut to on a narrow terminal (else it keeps its width). */
  min?: number;
  /** Hidden on a terminal too narrow for the table: 1 goes first, then 2… (else always shown). */
  hideOrder?: number;
  align?: 'right';
}

/** The last column's narrowest: less than this and it hides rather than shows a stub. */
const LAST_COLUMN_MIN = 10;
const GAP = 2;

/**
 * Which columns a terminal `width` wide shows, and how wide each is: the
 * columns as wide as `natural`, those with a `min` cut towards it and those
 * with a `hideOrder` hidden, in that order, until the table fits; the last
 * column takes what is left. Returns the shown columns' indexes and widths.
 */
export function layOut(
  columns: readonly Pick<Column<unknown>, 'min' | 'hideOrder'>[],
  natural: readonly number[],
  width: number,
): { shown: number[]; widths: number[] } {
  let shown = columns.map((_, i) => i);
  const narrowest = (i: number, last: boolean) =>
    last ? LAST_COLUMN_MIN : Math.min(natural[i] ?? 0, columns[i]?.min ?? Infinity);
  const needs = (indexes: number[]) =>
    indexes.reduce((sum, i, at) => sum + narrowest(i, at === indexes.length - 1), 0) +
    GAP * (indexes.length - 1);
  const hideable = columns
    .map((column, i) => ({ i, order: column.hideOrder }))
    .filter((column): column is { i: number; order: number } => column.order !== undefined)
    .sort((a, b) => a.order - b.order);
  for (const { i } of hideable) {
    if (needs(shown) <= width) break;
    shown = shown.filter((index) => index !== i);
  }
  // Still too wide: the last column gives way too (the first never does).
  while (needs(shown) > width && shown.length > 2) shown = shown.slice(0, -1);
  const last = shown.length - 1;
  const widths = shown.map((i, at) => narrowest(i, at === last));
  let room = width - needs(shown);
  // What is left widens the cut columns back towards their natural width, then the last.
  for (let at = 0; at < last && room > 0; at++) {
    const grow = Math.min(room, (natural[shown[at] as number] ?? 0) - (widths[at] as number));
    widths[at] = (widths[at] as number) + grow;
    room -= grow;
  }
  widths[last] = (widths[last] as number) + Math.max(0, room);
  return { shown, widths };
}

/**
 * A list as rows under a header, printed page by page as pages arrive.
 *
 * - On a terminal (`terminalWidth` given): aligned columns, as wide as their
 *   `max` or else as the first rows set, a cell past its column's `max` cut
 *   with `…`; on a terminal too narrow for them, columns are cut and hidden
 *   (layOut) so no line is wider than the terminal, down to the first
 *   column and the least of the second (48 for sessions, the id whole).
 * - Elsewhere (a pipe, a file): tab-separated values (as `gh` writes them),
 *   a header line, then one line a row, nothing cut: `grep`, `cut -f` and
 *   `awk -F'\t'` see every value whole. No value holds a raw tab or newline
 *   (`printable` writes them as `\u0009`, `\u000a`).
 */
export class Table<T> {
  /** The aligned columns' widths, once the header is printed (none for tab-separated values). */
  private widths: number[] | null = null;
  /** The columns a terminal shows (indexes), once the header is printed. */
  private shown: number[] = [];

  constructor(
    private readonly columns: readonly Column<T>[],
    private readonly style: Style,
    private readonly terminalWidth: number | undefined,
  ) {}

  /** The header (with the first rows) and the rows, as text. */
  rows(rows: readonly T[]): string {
    const terminalWidth = this.terminalWidth;
    if (terminalWidth === undefined) return this.separated(rows);
    const cells = rows.map((row) =>
      this.columns.map((column) => {
        const value = printable(column.value(row));
        return column.max === undefined ? value : fit(value, column.max);
      }),
    );
    let text = '';
    if (this.widths === null) {
      // A column with a `max` is that wide whatever the first rows hold: a
      // later page's longer values are cut at the same place, not at the
      // first page's longest.
      const natural = this.columns.map((column, i) =>
        Math.max(
          column.title.length,
          column.max ?? Math.max(0, ...cells.map((row) => displayWidth(row[i] ?? ''))),
        ),
      );
      const { shown, widths } = layOut(this.columns, natural, terminalWidth);
      this.shown = shown;
      this.widths = widths;
      text += `${this.line(
        this.columns.map((column) => column.title),
        (cell) => this.style.bold(cell),
      )}\n`;
    }
    for (const row of cells) text += `${this.line(row, (cell) => cell)}\n`;
    return text;
  }

  /** The titles of the columns the terminal had no room for (none before the header). */
  hidden(): string[] {
    if (this.widths === null || this.terminalWidth === undefined) return [];
    return this.columns.filter((_, i) => !this.shown.includes(i)).map((column) => column.title);
  }

  private separated(rows: readonly T[]): string {
    let text = '';
    if (this.widths === null) {
      this.widths = [];
      text += `${this.columns.map((column) => column.title).join('\t')}\n`;
    }
    for (const row of rows) {
      const values = this.columns.map((column) => (column.separated ?? column.value)(row));
      text += `${values.map((value) => printable(value)).join('\t')}\n`;
    }
    return text;
  }

  /** The shown columns of a row, each cut and padded to its width. */
  private line(cells: readonly string[], paint: (cell: string) => string): string {
    const widths = this.widths ?? [];
    const last = this.shown.length - 1;
    const parts = this.shown.map((i, at) => {
      const column = this.columns[i] as Column<T>;
      const width = widths[at] ?? 0;
      const cell = fit(cells[i] ?? '', width);
      if (at === last) return paint(cell);
      const pad = ' '.repeat(Math.max(0, width - displayWidth(cell)));
      return paint(column.align === 'right' ? pad + cell : cell + pad);
    });
    return parts.join(' '.repeat(GAP)).trimEnd();
  }
}

/**
 * The time from `now` to `at`, short, as a person reads it at a glance:
 * `45s`, `14m`, `2h`, `3d` (rounded down: a session shown with `1h` may be
 * gone in 61 minutes, never sooner than it says less a unit).
 */
export function timeLeft(at: string, now: number): string {
  const seconds = Math.max(0, Math.floor((Date.parse(at) - now) / 1000));
  if (Number.isNaN(seconds)) return at;
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export function sessionTable(
  style: Style,
  terminalWidth: number | undefined,
  now: () => number = Date.now,
): Table<Session> {
  return new Table<Session>(
    [
      // The id whole, whatever the width: it is what `session get` takes.
      { title: 'ID', value: (session) => session.id },
      { title: 'NAME', value: (session) => session.name, max: 30, min: 12 },
      {
        title: 'ACCESSES',
        value: (session) => String(session.access_count),
        align: 'right',
        hideOrder: 3,
      },
      // How long it has left on a terminal (— never expires); into a pipe
      // expires_at as is (empty: never), for a script to compare.
      {
        title: 'EXPIRES',
        value: (session) =>
          session.expires_at === undefined ? '—' : timeLeft(session.expires_at, now()),
        separated: (session) => session.expires_at ?? '',
        align: 'right',
        hideOrder: 1,
      },
      { title: 'LAST ACTIVE', value: (session) => session.last_active, hideOrder: 2 },
      { title: 'DATA', value: (session) => JSON.stringify(session.data) },
    ],
    style,
    terminalWidth,
  );
}

/** Every field of a session, in the schema's order but `data` (the longest) last. */
export function sessionFields(session: Session, style: Style): string {
  const keys = [...SESSION_KEYS.filter((key) => key !== 'data'), 'data' as const];
  return keyValues(
    keys
      .filter((key) => session[key] !== undefined)
      .map((key) => {
        const value = session[key];
        return [key, printable(typeof value === 'string' ? value : JSON.stringify(value))];
      }),
    style,
  );
}

const EVENT_KEYS = new Set(['ts', 'time', 'event', 'container']);

/** An event's own keys, as `key=value` (what the inspector prints after the kind). */
export function eventDetails(event: LoggedEvent): string {
  return Object.entries(event)
    .filter(([key]) => !EVENT_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

export function eventTable(style: Style, terminalWidth: number | undefined): Table<LoggedEvent> {
  return new Table<LoggedEvent>(
    [
      { title: 'TIME', value: (event) => event.time },
      { title: 'INSTANCE', value: (event) => event.container, hideOrder: 1 },
      { title: 'EVENT', value: (event) => event.event, min: 12 },
      { title: 'DETAILS', value: eventDetails },
    ],
    style,
    terminalWidth,
  );
}

/** Any flat object (state, health) as `key  value` lines; status coloured. */
export function objectFields(object: Record<string, unknown>, style: Style): string {
  return keyValues(
    Object.entries(object).map(([key, value]) => {
      let text = typeof value === 'string' ? value : JSON.stringify(value);
      if (Array.isArray(value)) text = value.length === 0 ? '-' : value.join('; ');
      text = printable(text);
      if (key === 'status') text = value === 'ok' ? style.green(text) : style.yellow(text);
      return [printable(key), text];
    }),
    style,
  );
}
