/**
 * `stateful inspect --repair`: the safe repairs the service makes at boot
 * (remove temp files, quarantine unreadable sessions, cut a torn event-log
 * tail into quarantine, roll the journal forward), made offline. When a
 * start would trust snapshot.jsonl, the session files are first written
 * from it and the journal (they are a view, which a machine's crash can
 * leave stale, empty or back from the dead), so rolling forward never makes
 * a stale file the truth. It takes the directory's lock, so it refuses to
 * touch a directory a live service owns.
 */

import {
  acquireInstanceLock,
  dataLayout,
  nodeFileSystem,
  type RecoveryReport,
  recoverDataDirectory,
  recoverFromSnapshot,
  writeViewFromSnapshot,
} from '../store/file/format.js';
import { assertDataDirectory } from './read-data-dir.js';

/** Repairs what is safe to repair; returns one line per thing done. */
export async function repairDataDirectory(dataDir: string): Promise<string[]> {
  await assertDataDirectory(dataDir);
  const layout = dataLayout(dataDir);
  const lock = acquireInstanceLock(layout.lockFile);
  try {
    const done: string[] = [];
    const fromSnapshot = await recoverFromSnapshot(layout, nodeFileSystem);
    if (!('unusable' in fromSnapshot)) {
      done.push(...described(fromSnapshot.recovery, false));
      const written = await writeViewFromSnapshot(nodeFileSystem, layout, fromSnapshot);
      done.push(`wrote ${written} session files from snapshot.jsonl and the journal`);
    }
    const { recovery } = await recoverDataDirectory(layout, { keepSessions: false });
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
    const { bytesRemoved, savedAs } = recovery.eventLogRepair;
    done.push(
      savedAs === null
        ? `dropped a torn last line (${bytesRemoved} bytes, never acknowledged) off events.jsonl`
        : `cut ${bytesRemoved} damaged bytes off events.jsonl into ${savedAs}`,
    );
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
      done.push(`moved a journal segment with a damaged line to ${savedAs}`);
    }
  }
  return done;
}
