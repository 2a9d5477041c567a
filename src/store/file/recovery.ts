/**
 * What a crash can leave in a data directory, and the safe repairs: temp
 * files of unfinished writes are removed (their targets still hold the old
 * content), unreadable session files and a torn event-log tail are moved into
 * quarantine/ (never deleted). Run by the service at boot and by
 * `stateful inspect --repair`, always under the directory's lock.
 */
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { MAX_EVENT_LIMIT } from '../../domain/event.js';
import { DurableFiles } from './durable-file.js';
import { type EventLogScan, scanEventLog } from './event-log-reader.js';
import { type DataLayout, TEMP_SUFFIX } from './layout.js';
import { quarantineFile, readSessionFiles, type StoredSession } from './session-files.js';

export interface RecoveryReport {
  tempFilesRemoved: string[];
  eventLogRepair: { bytesRemoved: number; savedAs: string } | null;
  quarantined: { file: string; problem: string; savedAs: string }[];
}

export interface RecoveredDirectory {
  recovery: RecoveryReport;
  /** The readable sessions, in creation order. */
  sessions: StoredSession[];
  /** The event log after the repair (its last MAX_EVENT_LIMIT events). */
  eventLog: EventLogScan;
}

export async function recoverDataDirectory(layout: DataLayout): Promise<RecoveredDirectory> {
  const recovery: RecoveryReport = { tempFilesRemoved: [], eventLogRepair: null, quarantined: [] };
  await mkdir(layout.sessionsDir, { recursive: true });

  for (const name of await readdir(layout.root)) {
    if (name.endsWith(TEMP_SUFFIX)) {
      await rm(join(layout.root, name), { force: true });
      recovery.tempFilesRemoved.push(name);
    }
  }
  const loaded = await readSessionFiles(layout.sessionsDir);
  for (const name of loaded.tempFiles) {
    await rm(join(layout.sessionsDir, name), { force: true });
    recovery.tempFilesRemoved.push(`sessions/${name}`);
  }
  for (const bad of loaded.unreadable) {
    const savedAs = await quarantineFile(
      join(layout.sessionsDir, bad.file),
      layout.quarantineDir,
      `session-${bad.file}`,
    );
    recovery.quarantined.push({
      file: `sessions/${bad.file}`,
      problem: bad.problem,
      savedAs: relative(layout.root, savedAs),
    });
  }

  let eventLog = await scanEventLog(layout.eventsFile, MAX_EVENT_LIMIT);
  if (eventLog.validEnd < eventLog.size) {
    recovery.eventLogRepair = await cutDamagedTail(layout, eventLog.validEnd, eventLog.size);
    eventLog = { ...eventLog, size: eventLog.validEnd };
  }
  return { recovery, sessions: loaded.sessions, eventLog };
}

/** Cuts a damaged event-log tail, keeping the cut bytes in quarantine. */
async function cutDamagedTail(
  layout: DataLayout,
  validEnd: number,
  size: number,
): Promise<{ bytesRemoved: number; savedAs: string }> {
  const handle = await open(layout.eventsFile, 'r+');
  try {
    const damaged = Buffer.alloc(size - validEnd);
    await handle.read(damaged, 0, damaged.length, validEnd);
    await mkdir(layout.quarantineDir, { recursive: true });
    const savedAs = join(
      layout.quarantineDir,
      `${new Date().toISOString().replace(/[:.]/g, '-')}-events-tail.bin`,
    );
    await new DurableFiles().write(savedAs, damaged);
    await handle.truncate(validEnd);
    await handle.sync();
    return { bytesRemoved: damaged.length, savedAs: relative(layout.root, savedAs) };
  } finally {
    await handle.close();
  }
}
