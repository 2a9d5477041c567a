/**
 * Writes a data directory as the original Python implementation left it:
 * Python's json.dumps spacing (", " and ": "), non-ASCII escaped, pretty
 * session files without our `seq`, no instance marker, a stale `.tmp`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** json.dumps with Python's defaults (ensure_ascii, ", " and ": " separators). */
export function pythonDumps(value: unknown, indent?: number, depth = 0): string {
  const pad = (level: number) => (indent === undefined ? '' : `\n${' '.repeat(indent * level)}`);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((item) => pad(depth + 1) + pythonDumps(item, indent, depth + 1));
    return `[${items.join(indent === undefined ? ', ' : ',')}${pad(depth)}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return '{}';
    const items = entries.map(
      ([key, inner]) =>
        `${pad(depth + 1)}${pythonDumps(key)}: ${pythonDumps(inner, indent, depth + 1)}`,
    );
    return `{${items.join(indent === undefined ? ', ' : ',')}${pad(depth)}}`;
  }
  if (typeof value === 'number' && !Number.isInteger(value)) return pythonFloat(value);
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A float as Python's repr writes it: the shortest round trip, never an integer form. */
export function pythonFloat(value: number): string {
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

export const ORIGINAL_SESSIONS = [
  {
    id: '9c1b7d2e-5f3a-4b6c-8d9e-0a1b2c3d4e5f',
    name: 'bob',
    data: { note: 'second session' },
    created_at: '2026-02-21T10:00:05Z',
    last_active: '2026-02-21T10:00:05Z',
    access_count: 0,
  },
  {
    id: '3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c',
    name: 'alice',
    data: { note: 'first séssion' },
    created_at: '2026-02-21T10:00:00Z',
    last_active: '2026-02-21T10:02:00Z',
    access_count: 2,
  },
];

export const ORIGINAL_STATS = {
  startup_count: 3,
  crash_count: 1,
  total_sessions: 4,
  total_requests: 0,
};

export async function writeOriginalDataDir(dir: string): Promise<void> {
  await mkdir(join(dir, 'sessions'), { recursive: true });
  for (const session of ORIGINAL_SESSIONS) {
    await writeFile(join(dir, 'sessions', `${session.id}.json`), pythonDumps(session, 2));
  }
  await writeFile(join(dir, 'stats.json'), pythonDumps(ORIGINAL_STATS, 2));
  await writeFile(join(dir, 'stats.json.tmp'), '{"startup_count": 3, "cra');
  const events = [
    {
      ts: 1771668000.12,
      time: '2026-02-21T10:00:00Z',
      event: 'startup',
      container: 'a9f09b61',
      startup_count: 1,
      crash_count: 0,
    },
    {
      ts: 1771668001.5,
      time: '2026-02-21T10:00:01Z',
      event: 'session_created',
      container: 'a9f09b61',
      session_id: ORIGINAL_SESSIONS[1]?.id,
      name: 'alice',
    },
    {
      ts: 1771668005.5,
      time: '2026-02-21T10:00:05Z',
      event: 'session_created',
      container: 'a9f09b61',
      session_id: ORIGINAL_SESSIONS[0]?.id,
      name: 'bob',
    },
    {
      ts: 1771668180.0,
      time: '2026-02-21T10:03:00Z',
      event: 'crash_triggered',
      container: '935414ac',
      crash_count: 1,
    },
    {
      ts: 1771668185.0,
      time: '2026-02-21T10:03:05Z',
      event: 'startup',
      container: 'f1d8ca22',
      startup_count: 3,
      crash_count: 1,
    },
  ];
  await writeFile(
    join(dir, 'events.jsonl'),
    events.map((event) => `${pythonDumps(event)}\n`).join(''),
  );
}
