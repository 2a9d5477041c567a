/**
 * `inspect --repair`'s mending of the view: the session files made to show
 * what a start serves from a trusted snapshot and the journal after it.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Session } from '../../domain/schemas.js';
import { DurableFiles } from './durable-file.js';
import type { WritableFileSystem } from './file-system.js';
import { type DataLayout, sessionFileName } from './layout.js';
import { type MovedFile, quarantineSessionFile } from './recovery.js';
import { formatSessionFile, readSessionFile, type StoredSession } from './session-files.js';
import type { SnapshotBoot } from './snapshot-boot.js';

/** What `inspect --repair` did to sessions/ to make it show what a start serves. */
export interface ViewRepair {
  /** Session files written (they were missing, stale or unusable). */
  written: string[];
  /** Files moved to quarantine/: unusable, or of sessions a start does not serve. */
  moved: MovedFile[];
}

/**
 * Makes the session files show a trusted snapshot and the journal after it
 * (what a start serves), durably: the files are a view a machine's crash can
 * leave stale, empty or back from the dead. A file that differs is written
 * again; one that cannot be a session, or that holds a session a start does
 * not serve, is moved to quarantine/ (never deleted: another program may
 * have put it there). The sessions in `leave` are another program's changes
 * a start adopts: their files stay as they are. For `inspect --repair`.
 */
export async function writeViewFromSnapshot(
  fs: WritableFileSystem,
  layout: DataLayout,
  boot: SnapshotBoot,
  leave: ReadonlySet<string>,
): Promise<ViewRepair> {
  const files = new DurableFiles(fs);
  const repair: ViewRepair = { written: [], moved: [] };
  const written = { syncDirectory: false };
  const moveAside = (file: string, problem: string) =>
    quarantineSessionFile(fs, layout, { file, problem }, repair.moved);
  const served = new Map<string, StoredSession>();
  for (const resident of boot.sessions) {
    if (!boot.outcome.has(resident.id)) {
      served.set(resident.id, { session: JSON.parse(resident.json) as Session, seq: resident.seq });
    }
  }
  for (const [id, last] of boot.outcome) if (last !== null) served.set(id, last);
  for (const [id, stored] of served) {
    if (leave.has(id)) continue;
    const name = sessionFileName(id);
    const entry = readSessionFile(layout.sessionsDir, name);
    if (entry?.kind === 'session') {
      const same =
        JSON.stringify(entry.stored.session) === JSON.stringify(stored.session) &&
        entry.stored.seq === stored.seq;
      if (same) continue;
    } else if (entry?.kind === 'unreadable') {
      await moveAside(name, entry.problem);
    }
    await files.write(join(layout.sessionsDir, name), formatSessionFile(stored), written);
    repair.written.push(`sessions/${name}`);
  }
  for (const name of await readdir(layout.sessionsDir)) {
    const id = name.endsWith('.json') ? name.slice(0, -'.json'.length) : null;
    if (id !== null && !served.has(id) && !leave.has(id)) {
      await moveAside(name, 'it holds no session a start serves');
    }
  }
  await files.syncDirectory(layout.sessionsDir);
  return repair;
}
