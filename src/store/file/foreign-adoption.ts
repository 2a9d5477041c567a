/**
 * Adopting what another program (the original implementation, a person
 * with a shell, a restored backup) changed in sessions/ while no instance
 * ran, before anything is served: foreign-changes.ts finds the changes,
 * this makes each one the store's own. Each is journaled with a
 * `session_adopted` event, as a change of ours is, so the next start has it
 * without looking again; the file stays as that program left it.
 */
import { join } from 'node:path';
import { makeEvent } from '../../domain/event.js';
import type { BootProgress, ProgressReport } from './boot-progress.js';
import type { Commits } from './commits.js';
import type { WritableFileSystem } from './file-system.js';
import { type ForeignChange, type ForeignScope, findForeignChanges } from './foreign-changes.js';
import type { InstanceAccounting } from './instance-accounting.js';
import { type DataLayout, sessionFileName, TEMP_SUFFIX } from './layout.js';
import { quarantineSessionFile, type RecoveryReport } from './recovery.js';
import { removeTempFile } from './session-files.js';
import { residentOf, type SessionTable, sessionOf } from './session-table.js';
import type { WriteBehind } from './write-behind.js';

/** The parts of the store an adoption changes. */
export interface AdoptionParts {
  instanceId: string;
  layout: DataLayout;
  fileSystem: WritableFileSystem;
  table: SessionTable;
  view: WriteBehind;
  commits: Commits;
  instance: InstanceAccounting;
}

/**
 * Adopts the changes `scope` says where to look for. A file that cannot be
 * a session goes to quarantine/ (reported in `recovery`); a session held
 * under its name keeps its content, and its file is written again.
 * `createdInLog`: the sessions whose creation the log records
 * (total_sessions counts them already).
 */
export async function adoptForeignChanges(
  parts: AdoptionParts,
  scope: ForeignScope,
  createdInLog: ReadonlySet<string>,
  recovery: RecoveryReport,
  report: { progress: ProgressReport; boot: BootProgress },
): Promise<void> {
  const { layout, fileSystem, table, view } = parts;
  const started = performance.now();
  report.boot.phase = 'looking for session files another program changed';
  const found = await findForeignChanges(layout.sessionsDir, table.held, scope, (names) => {
    report.boot.sessionNamesSeen = names;
  });
  for (const bad of found.unusable) {
    await quarantineSessionFile(fileSystem, layout, bad, recovery.quarantined);
    const id = bad.file.slice(0, -'.json'.length);
    if (table.has(id)) view.mustWrite(id);
  }
  // Their files already hold what memory will: no checkpoint may write them
  // from the journal's older version meanwhile (a commit that finds the
  // backlog full runs one), nor after.
  for (const change of found.changes) view.alreadyWritten(change.id);
  for (const change of found.changes) {
    await adopt(parts, change);
    if (change.kind === 'created' && !createdInLog.has(change.id)) {
      parts.instance.sessionBeforeLog();
    }
  }
  report.progress('adopted what another program changed', {
    files_read: found.filesRead,
    adopted: found.changes.length,
    quarantined: found.unusable.length,
    seconds: Math.round(performance.now() - started) / 1000,
  });
}

/** Makes one change another program made the store's own. */
async function adopt(parts: AdoptionParts, change: ForeignChange): Promise<void> {
  const { table, view, commits, layout } = parts;
  const { id } = change;
  const event = makeEvent('session_adopted', parts.instanceId, {
    session_id: id,
    change: change.kind,
  });
  const current = table.held.get(id);
  if (change.kind === 'deleted') {
    if (current === undefined) return;
    await commits.commit({
      record: { op: 'delete', id },
      event,
      revert: { op: 'put', session: sessionOf(current), seq: current.seq, revert: true },
      apply: () => table.remove(current),
      leaves: 'changed',
    });
  } else {
    // A new session goes after every one held; one held keeps its place.
    const seq = current === undefined ? table.nextInOrder() : current.seq;
    const resident = residentOf(change.stored.session, seq);
    await commits.commit({
      record: { op: 'put', session: change.stored.session, seq },
      event,
      revert:
        current === undefined
          ? { op: 'delete', id, revert: true }
          : { op: 'put', session: sessionOf(current), seq, revert: true },
      // Replaced whole, in its place in the map (listings follow it); in the
      // index too, as the other program may have changed created_at, a
      // creation key.
      apply: () => table.replace(current, resident),
      leaves: 'changed',
    });
  }
  // The file already says what memory now holds: not written again (a temp
  // file of ours a kill left beside it goes, as a checkpoint's write would).
  view.alreadyWritten(id);
  if (view.repairingView) {
    const temp = `${sessionFileName(id)}${TEMP_SUFFIX}`;
    await removeTempFile(
      parts.fileSystem,
      join(layout.sessionsDir, temp),
      layout.quarantineDir,
      `session-${temp}`,
    );
  }
}
