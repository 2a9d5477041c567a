/**
 * `stateful inspect --repair`: the safe repairs the service makes at boot
 * (remove its own temp files, quarantine unusable files, cut a torn
 * event-log tail into quarantine, roll the journal forward), made offline.
 * When a start would trust snapshot.jsonl, the session files are first made
 * to show it and the journal (they are a view, which a machine's crash can
 * leave stale, empty or back from the dead), so rolling forward never makes
 * a stale file the truth; but a file another program changed, which a start
 * adopts (store/file/foreign-changes.ts), is left as it is, and nothing is
 * deleted that the service may not have written: it is moved to
 * quarantine/. Every file moved or written is reported. It takes the
 * directory's lock, so it refuses to touch a directory a live service owns.
 */

import {
  acquireInstanceLock,
  assertSafeDataDirectory,
  brokenSeal,
  currentBootId,
  DurableFiles,
  dataLayout,
  describeIds,
  type ForeignScope,
  findForeignChanges,
  formatMarker,
  type HeldSession,
  nodeFileSystem,
  type RecoveryReport,
  readMarker,
  recoverDataDirectory,
  recoverFromSnapshot,
  sealedChangeTime,
  trustedSeal,
  writeViewFromSnapshot,
} from '../store/file/index.js';
import { assertDataDirectory } from './read-data-dir.js';

/** Repairs what is safe to repair; returns one line per thing done. */
export async function repairDataDirectory(dataDir: string): Promise<string[]> {
  await assertDataDirectory(dataDir);
  const layout = dataLayout(dataDir);
  // Never into or out of a symlinked folder: refused, nothing touched.
  assertSafeDataDirectory(layout);
  const lock = acquireInstanceLock(layout.lockFile);
  try {
    const done: string[] = [];
    const marker = await readMarker(layout.markerFile);
    const seal = trustedSeal(marker, currentBootId());
    const fromSnapshot = await recoverFromSnapshot(
      layout,
      nodeFileSystem,
      undefined,
      marker.kind === 'ok' ? marker.adoptedThrough : null,
    );
    let leave = new Set<string>();
    if (!('unusable' in fromSnapshot)) {
      done.push(...described(fromSnapshot.recovery, false));
      // After a clean stop the files were current: every file changed since
      // is another program's, an edit in place too (the repair looks at them
      // all; a start sees only what the seal or the log shows). After a kill
      // only the changes events.jsonl names are.
      const held = new Map<string, HeldSession>(
        fromSnapshot.sessions.map((resident) => [resident.id, resident]),
      );
      for (const [id, last] of fromSnapshot.outcome) {
        if (last === null) held.delete(id);
        else held.set(id, { json: JSON.stringify(last.session) });
      }
      const scope: ForeignScope =
        seal !== null
          ? { kind: 'every-file', since: sealedChangeTime(seal) ?? 0n }
          : {
              kind: 'logged',
              ids: new Set(fromSnapshot.foreignLog.map((entry) => entry.sessionId)),
            };
      const foreign = await findForeignChanges(layout.sessionsDir, held, scope);
      leave = new Set(foreign.changes.map((change) => change.id));
      for (const change of foreign.changes) {
        done.push(
          change.kind === 'deleted'
            ? `left the session ${change.id} deleted, as another program left it (a start adopts it)`
            : `left sessions/${change.id}.json as another program wrote it (a start adopts it)`,
        );
      }
      const view = await writeViewFromSnapshot(nodeFileSystem, layout, fromSnapshot, leave);
      for (const moved of view.moved) {
        done.push(`moved ${moved.file} (${moved.problem}) to ${moved.savedAs}`);
      }
      for (const file of view.written)
        done.push(`wrote ${file} from snapshot.jsonl and the journal`);
      if (seal !== null && marker.kind === 'ok' && leave.size > 0) {
        // A start must look at every file changed since the stop, even if
        // nothing the seal covers moved (an edit in place).
        await new DurableFiles(nodeFileSystem).write(
          layout.markerFile,
          formatMarker(marker.marker, {
            viewBootId: marker.viewBootId,
            sessionsBeforeLog: marker.sessionsBeforeLog,
            seal: brokenSeal(seal),
            adoptedThrough: marker.adoptedThrough,
          }),
        );
        done.push(
          'marked instance.json so the next start looks at every session file changed since the last stop',
        );
      }
    }
    const { recovery } = await recoverDataDirectory(layout, {
      keepSessions: false,
      filesCurrent: seal !== null,
      leave,
    });
    done.push(...described(recovery, true));
    return done;
  } finally {
    lock.release();
  }
}

/** One line per repair a recovery made (`rolledForward`: its journal went into the files). */
function described(recovery: RecoveryReport, rolledForward: boolean): string[] {
  const done: string[] = [];
  for (const file of recovery.tempFilesRemoved) done.push(`removed the temp file ${file}`);
  for (const entry of recovery.quarantined) {
    done.push(`moved ${entry.file} (${entry.problem}) to ${entry.savedAs}`);
  }
  if (recovery.eventLogRepair !== null) {
    const { bytesRemoved, savedAs, eventsKept } = recovery.eventLogRepair;
    done.push(
      savedAs === null
        ? `dropped a torn last line (${bytesRemoved} bytes, never acknowledged) off events.jsonl`
        : `cut ${bytesRemoved} damaged bytes off events.jsonl into ${savedAs}`,
    );
    if (eventsKept) {
      done.push(
        `appended again the ${eventsKept} events of another program found after the damage`,
      );
    }
  }
  const journal = recovery.journal;
  if (journal !== null) {
    if (rolledForward) {
      done.push(
        `rolled ${journal.changes} journal changes forward into ${journal.sessionFiles} session files` +
          (journal.eventsRestored > 0
            ? `, appending ${journal.eventsRestored} missing events`
            : ''),
      );
    } else if (journal.eventsRestored > 0) {
      done.push(`appended ${journal.eventsRestored} events the journal held to events.jsonl`);
    }
    for (const savedAs of journal.quarantined) {
      done.push(
        `moved a journal segment with a damaged line, or unresolved changes, to ${savedAs}`,
      );
    }
    if (journal.unresolved.length > 0) {
      done.push(
        `left out ${describeIds(journal.unresolved)} that the journal patches but no file holds`,
      );
    }
  }
  return done;
}
