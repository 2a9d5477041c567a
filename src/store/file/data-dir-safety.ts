/**
 * The names of the data directory that must be what the service writes there
 * (a real directory, a regular file) before anything reads or writes it: a
 * symlinked `sessions/` or `journal/`, or an `events.jsonl` that is a FIFO,
 * would send the service's reads and writes outside the directory, or hang
 * them. Checked by a start (which then refuses, naming the path and what to
 * do: the service never uses it) and by the inspector and `stateful migrate`
 * (a finding; what is unsafe is never followed). The directory itself may be
 * a symlink: DATA_DIR is the operator's choice, what is inside it is shared.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DataLayout } from './layout.js';
import { checkDirectorySync, checkRegularFileSync, type FileProblem } from './safe-open.js';

/** A name in the data directory that is not what it must be. */
export interface DataDirectoryHazard {
  /** Relative to the data directory: `sessions/`, `events.jsonl`, `journal/0000000001.jsonl`. */
  name: string;
  path: string;
  problem: FileProblem;
}

const SEGMENT_NAME = /^\d{10}\.jsonl$/;

/**
 * Every hazard of `layout`, without following any link: its folders, its
 * files of one name, and the journal's segments (few: what no snapshot
 * covers yet), which hold acknowledged changes and so are never set aside.
 */
export function dataDirectoryHazards(layout: DataLayout): DataDirectoryHazard[] {
  const hazards: DataDirectoryHazard[] = [];
  const note = (path: string, verdict: 'ok' | 'missing' | FileProblem, folder: boolean) => {
    if (verdict === 'ok' || verdict === 'missing') return;
    const name = relative(layout.root, path) + (folder ? '/' : '');
    hazards.push({ name, path, problem: verdict });
  };
  for (const dir of [
    layout.sessionsDir,
    layout.journalDir,
    layout.spareDir,
    layout.quarantineDir,
  ]) {
    note(dir, checkDirectorySync(dir), true);
  }
  for (const file of [
    layout.eventsFile,
    layout.statsFile,
    layout.markerFile,
    layout.lockFile,
    layout.snapshotFile,
  ]) {
    note(file, checkRegularFileSync(file), false);
  }
  if (checkDirectorySync(layout.journalDir) === 'ok') {
    for (const name of readdirSync(layout.journalDir)) {
      if (SEGMENT_NAME.test(name)) {
        const path = join(layout.journalDir, name);
        note(path, checkRegularFileSync(path), false);
      }
    }
  }
  return hazards;
}

/** What to do about a hazard, for a person. */
export function hazardAdvice(hazard: DataDirectoryHazard): string {
  const { kind } = hazard.problem;
  if (hazard.name.endsWith('/')) {
    return kind === 'symlink'
      ? `replace the link with a real folder (move what it points to into the data directory, or point DATA_DIR at that place instead)`
      : 'move it away; the service makes the folder itself';
  }
  if (hazard.name.startsWith('journal/')) {
    return 'put the segment back as a regular file (it may hold acknowledged changes), or move it out of journal/';
  }
  return kind === 'symlink'
    ? 'replace the link with the file itself (a copy), or move it away'
    : 'move it away; the service writes its own';
}

/** A start refused: a name in the data directory is not what the service writes there. */
export class UnsafeDataDirectoryError extends Error {
  constructor(
    readonly dataDir: string,
    readonly hazards: readonly DataDirectoryHazard[],
  ) {
    super(
      `Refusing to use the data directory ${dataDir}: ${hazards
        .map((hazard) => `${hazard.path} ${hazard.problem.detail}: ${hazardAdvice(hazard)}`)
        .join('; ')}. Nothing in it was changed.`,
    );
    this.name = 'UnsafeDataDirectoryError';
  }
}

/** Throws UnsafeDataDirectoryError when `layout` has a hazard. Boot and offline only (sync). */
export function assertSafeDataDirectory(layout: DataLayout): void {
  const hazards = dataDirectoryHazards(layout);
  if (hazards.length > 0) throw new UnsafeDataDirectoryError(layout.root, hazards);
}
