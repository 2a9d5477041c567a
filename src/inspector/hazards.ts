/**
 * What the inspector says of a data directory whose names are not what the
 * service writes there (a symlinked `sessions/`, a FIFO as `events.jsonl`;
 * see store/file/data-dir-safety.ts): a finding each, naming the path and
 * what to do. What is unsafe is never followed, opened or read.
 */
import type { DataDirectoryHazard } from '../store/file/index.js';
import { hazardAdvice } from '../store/file/index.js';

/** One line for a person: what the name is, and what to do about it. */
export function describeHazard(hazard: DataDirectoryHazard): string {
  return `${hazard.name} ${hazard.problem.detail}: the service refuses to start until it is fixed (${hazardAdvice(hazard)})`;
}

/** Whether a hazard keeps the sessions (sessions/ or the journal) from being read. */
export function hidesSessions(hazards: readonly DataDirectoryHazard[]): boolean {
  return hazards.some(({ name }) => name.startsWith('sessions/') || name.startsWith('journal/'));
}

/** Whether a hazard is at `name` (`events.jsonl`, `quarantine/`). */
export function hazardAt(hazards: readonly DataDirectoryHazard[], name: string): boolean {
  return hazards.some((hazard) => hazard.name === name);
}
