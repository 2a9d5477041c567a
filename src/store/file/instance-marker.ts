/**
 * `instance.json`: what the instance that owns the directory says about
 * itself (running, crashing, stopped). Read at boot to count deaths nobody saw.
 * Absent in a directory the original implementation wrote. The file store
 * adds `view_boot_id`: the machine boot (Linux's boot_id) during which the
 * session files were last written without a sync (see FileStore), so a start
 * after the machine went down knows to write them all again; and
 * `sessions_before_log`: the sessions total_sessions counted that the log has
 * no `session_created` for (the original's history, found at the takeover),
 * so a boot recounts total_sessions from the log exactly even when stats.json
 * is behind (it is written lazily; a power cut can take it back further);
 * and, while it says `stopped`, `seal`: what the clean stop left (see
 * directory-seal.ts), so the next start sees whether another program changed
 * the directory since.
 */

import { readFileSync } from 'node:fs';
import type { InstanceMarker } from '../../domain/counters.js';
import { type DirectorySeal, parseSeal } from './directory-seal.js';
import { readTextIfPresent } from './layout.js';
import type { LogPoint } from './log-after-mark.js';
import { isFileProblem } from './safe-open.js';

/** This machine boot's id (changes when the machine restarts); null where there is none. */
export function currentBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

const STATES = new Set(['running', 'crashing', 'stopped']);

function counter(value: unknown): number {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : 0;
}

export function parseMarker(text: string): InstanceMarker | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const marker = value as Partial<InstanceMarker>;
  if (typeof marker.container !== 'string' || !STATES.has(String(marker.state))) return null;
  return {
    container: marker.container,
    pid: Number.isSafeInteger(marker.pid) ? (marker.pid as number) : 0,
    started_at: typeof marker.started_at === 'string' ? marker.started_at : '',
    state: marker.state as InstanceMarker['state'],
    startup_count: counter(marker.startup_count),
    crash_count: counter(marker.crash_count),
  };
}

/** What the file store adds to the marker (see the header). */
export interface MarkerExtras {
  viewBootId: string | null;
  sessionsBeforeLog: number | null;
  /** What a clean stop left; null unless the marker says `stopped` and the stop finished. */
  seal: DirectorySeal | null;
  /** How far into events.jsonl others' logged changes have been adopted (log-after-mark.ts). */
  adoptedThrough: LogPoint | null;
}

export type MarkerRead =
  | { kind: 'missing' }
  | ({ kind: 'ok'; marker: InstanceMarker } & MarkerExtras)
  | { kind: 'corrupt'; problem?: string };

export async function readMarker(path: string): Promise<MarkerRead> {
  const text = await readTextIfPresent(path);
  if (text === null) return { kind: 'missing' };
  if (isFileProblem(text)) return { kind: 'corrupt', problem: `it ${text.detail}` };
  const marker = parseMarker(text);
  if (marker === null) return { kind: 'corrupt' };
  const { view_boot_id, sessions_before_log, seal, adopted_through } = JSON.parse(text) as {
    view_boot_id?: unknown;
    sessions_before_log?: unknown;
    seal?: unknown;
    adopted_through?: { offset?: unknown; digest?: unknown };
  };
  return {
    kind: 'ok',
    marker,
    viewBootId: typeof view_boot_id === 'string' ? view_boot_id : null,
    sessionsBeforeLog:
      Number.isSafeInteger(sessions_before_log) && (sessions_before_log as number) >= 0
        ? (sessions_before_log as number)
        : null,
    seal: marker.state === 'stopped' ? parseSeal(seal) : null,
    adoptedThrough:
      Number.isSafeInteger(adopted_through?.offset) && typeof adopted_through?.digest === 'string'
        ? { offset: adopted_through.offset as number, digest: adopted_through.digest }
        : null,
  };
}

/**
 * The seal a start may trust: the clean stop's, unless the machine
 * restarted since the session files were written without a sync (a power
 * cut may have left them stale, which must never pass for another program's
 * change; the start writes them all again instead).
 */
export function trustedSeal(read: MarkerRead, bootId: string | null): DirectorySeal | null {
  if (read.kind !== 'ok' || read.seal === null) return null;
  const rebooted = read.viewBootId !== null && bootId !== null && read.viewBootId !== bootId;
  return rebooted ? null : read.seal;
}

export function formatMarker(
  marker: InstanceMarker,
  extras: MarkerExtras = {
    viewBootId: null,
    sessionsBeforeLog: null,
    seal: null,
    adoptedThrough: null,
  },
): string {
  return `${JSON.stringify(
    {
      ...marker,
      ...(extras.viewBootId === null ? {} : { view_boot_id: extras.viewBootId }),
      ...(extras.sessionsBeforeLog === null
        ? {}
        : { sessions_before_log: extras.sessionsBeforeLog }),
      ...(extras.seal === null || marker.state !== 'stopped' ? {} : { seal: extras.seal }),
      ...(extras.adoptedThrough === null ? {} : { adopted_through: extras.adoptedThrough }),
    },
    null,
    2,
  )}\n`;
}
