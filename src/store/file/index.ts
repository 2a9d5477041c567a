/**
 * The data directory's format, for everything outside the file store that
 * reads or writes it (the inspector, `stateful migrate`, the CLI): where each
 * file lives, the reader of each file, the writers an export needs, and the
 * lock that keeps a live service out. The rest of store/file/ is the store's
 * own and may change with it; this is the public surface.
 */
export { DataDirectoryUnusableError } from './data-dir-access.js';
export {
  assertSafeDataDirectory,
  type DataDirectoryHazard,
  dataDirectoryHazards,
  hazardAdvice,
  UnsafeDataDirectoryError,
} from './data-dir-safety.js';
export {
  brokenSeal,
  changedSinceSeal,
  type DirectorySeal,
  sealedChangeTime,
} from './directory-seal.js';
export { DurableFiles } from './durable-file.js';
export {
  type EventLogScan,
  firstBadLine,
  NO_EVENT_LOG,
  parseEventLine,
  readLogLines,
  scanEventLog,
} from './event-log-reader.js';
export { nodeFileSystem } from './file-system.js';
export {
  type ForeignScope,
  findForeignChanges,
  type HeldSession,
  startLooksAt,
  whereToLook,
} from './foreign-changes.js';
export { acquireInstanceLock, DataDirectoryBusyError, isLockHeld } from './instance-lock.js';
export {
  currentBootId,
  formatMarker,
  type MarkerRead,
  readMarker,
  trustedSeal,
} from './instance-marker.js';
export { type JournalSegmentRead, readJournal } from './journal-records.js';
export {
  basesFromFiles,
  describeIds,
  replayJournal,
  type SessionsAsServed,
  sessionsAsServed,
  sessionsPatchedFirst,
} from './journal-replay.js';
export {
  type DataLayout,
  dataLayout,
  readdirIfPresent,
  sessionFileName,
  TEMP_SUFFIX,
} from './layout.js';
export { readLogAfterMark } from './log-after-mark.js';
export { firstKept, headLineAtStart, type LogHead, NO_HEAD } from './log-positions.js';
export { type RecoveryReport, recoverDataDirectory } from './recovery.js';
export { MAX_WHOLE_FILE_BYTES, UnsafeFileError } from './safe-open.js';
export {
  formatSessionFile,
  type StoredSession,
  sessionFileEntries,
  type UnreadableSession,
} from './session-files.js';
export { readSnapshot, type SnapshotHeader, type SnapshotScan, scanSnapshot } from './snapshot.js';
export { recoverFromSnapshot } from './snapshot-boot.js';
export { formatStats, readStats } from './stats-file.js';
export { writeViewFromSnapshot } from './view-repair.js';
