/**
 * `instance.json`: what the instance that owns the directory says about
 * itself (running, crashing, stopped). Read at boot to count deaths nobody saw.
 * Absent in a directory the original implementation wrote.
 */

import type { InstanceMarker } from '../../domain/counters.js';
import { readTextIfPresent } from './layout.js';

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

export type MarkerRead =
  | { kind: 'missing' }
  | { kind: 'ok'; marker: InstanceMarker }
  | { kind: 'corrupt' };

export async function readMarker(path: string): Promise<MarkerRead> {
  const text = await readTextIfPresent(path);
  if (text === null) return { kind: 'missing' };
  const marker = parseMarker(text);
  return marker === null ? { kind: 'corrupt' } : { kind: 'ok', marker };
}

export function formatMarker(marker: InstanceMarker): string {
  return `${JSON.stringify(marker, null, 2)}\n`;
}
