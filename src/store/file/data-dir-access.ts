/**
 * Whether this process may use DATA_DIR at all, asked before a start changes
 * anything in it: the directory (or, when it is missing, the nearest folder
 * it would be made in) must be a folder this user may read and write on a
 * writable file system, and so must the service's own names already in it.
 * A restart would meet the same refusal, so a start refuses once, naming the
 * path, the cause and what to do, and leaves the directory as it found it
 * (nothing created, not even DATA_DIR). `access(2)` answers for the
 * process's own user, root included (root is refused a read-only mount).
 * Links and other odd types inside are data-dir-safety.ts's to refuse.
 */
import { accessSync, constants, lstatSync, readlinkSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import type { DataLayout } from './layout.js';

/** A start refused: DATA_DIR cannot be made, reached, read or written by this user. */
export class DataDirectoryUnusableError extends Error {
  constructor(
    readonly dataDir: string,
    /** The path refused: DATA_DIR, a folder it would be made in, or a name in it. */
    readonly path: string,
    /** What is wrong and what to do, for a person. */
    readonly reason: string,
  ) {
    super(`Cannot use the data directory ${dataDir}: ${reason} Nothing was changed.`);
    this.name = 'DataDirectoryUnusableError';
  }
}

const READ_WRITE = constants.R_OK | constants.W_OK;
const FOLDER = READ_WRITE | constants.X_OK;

function thisUser(): string {
  const uid = process.getuid?.();
  let name: string | null = null;
  try {
    name = userInfo().username;
  } catch {
    // A uid with no passwd entry (a container's --user 12345): the number says it.
  }
  if (uid === undefined) return 'this user';
  return name === null ? `this user (uid ${uid})` : `this user (${name}, uid ${uid})`;
}

/** The errno code of an `fs` call, or null when it succeeded. */
function failure(call: () => unknown): string | null {
  try {
    call();
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

/** Why `path` (a folder to write in, or one of the service's names) is refused; null when it is not. */
function accessProblem(path: string, mode: number, name: string): string | null {
  const code = failure(() => accessSync(path, mode));
  if (code === null) return null;
  if (code === 'EROFS') {
    return `${name} is on a read-only file system. Set DATA_DIR to a directory on a writable one.`;
  }
  if (code === 'EACCES' || code === 'EPERM') {
    const may = mode === READ_WRITE ? 'read and write' : 'read and write in';
    return `${thisUser()} may not ${may} ${name}. Give it to this user (chown), or set DATA_DIR to a directory it may write.`;
  }
  return `${name} cannot be used (${code}).`;
}

/** Why DATA_DIR, missing, cannot be made: the nearest existing name on its way is refused. */
function cannotMake(root: string): string | null {
  let parent = dirname(root);
  for (;;) {
    const code = failure(() => statSync(parent));
    if (code === null) break;
    if (code === 'EACCES') {
      return `${thisUser()} may not reach ${parent}. Set DATA_DIR to a directory it may write.`;
    }
    if (parent === dirname(parent)) return null;
    parent = dirname(parent);
  }
  if (!statSync(parent).isDirectory()) {
    return `${parent} is a file, so no directory can be made under it. Set DATA_DIR to a directory (it is made if missing).`;
  }
  const code = failure(() => accessSync(parent, constants.W_OK | constants.X_OK));
  if (code === null) return null;
  if (code === 'EROFS') {
    return `it does not exist, and ${parent} is on a read-only file system. Set DATA_DIR to a directory on a writable one.`;
  }
  return `it does not exist, and ${thisUser()} may not make it in ${parent}. Make it for this user (mkdir, chown), or set DATA_DIR to a directory it may write.`;
}

/** Why this process may not use `layout`'s directory; null when it may. Boot only (sync). */
export function dataDirectoryAccessProblem(
  layout: DataLayout,
): { path: string; reason: string } | null {
  const { root } = layout;
  const code = failure(() => statSync(root));
  if (code === 'ENOENT' && failure(() => lstatSync(root)) === null) {
    // A link to nothing: mkdir would fail on the link, at every restart.
    return {
      path: root,
      reason: `it is a link to ${readlinkSync(root)}, which does not exist. Make that directory, or set DATA_DIR to a directory (it is made if missing).`,
    };
  }
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const reason = cannotMake(root);
    return reason === null ? null : { path: root, reason };
  }
  if (code === 'EACCES') {
    return {
      path: root,
      reason: `${thisUser()} may not reach it (a folder on its way is closed to it). Set DATA_DIR to a directory it may write.`,
    };
  }
  if (code !== null) return { path: root, reason: `it cannot be looked at (${code}).` };
  if (!statSync(root).isDirectory()) {
    return {
      path: root,
      reason:
        'it is a file, not a directory. Set DATA_DIR to a directory (it is made if missing), or move the file away.',
    };
  }
  const rootProblem = accessProblem(root, FOLDER, 'it');
  if (rootProblem !== null) return { path: root, reason: rootProblem };
  for (const [path, folder] of [
    [layout.sessionsDir, true],
    [layout.journalDir, true],
    [layout.spareDir, true],
    [layout.quarantineDir, true],
    [layout.eventsFile, false],
    [layout.statsFile, false],
    [layout.markerFile, false],
    [layout.lockFile, false],
    [layout.snapshotFile, false],
  ] as const) {
    let kind: 'folder' | 'file' | 'other';
    try {
      const stats = lstatSync(path);
      kind = stats.isDirectory() ? 'folder' : stats.isFile() ? 'file' : 'other';
    } catch {
      continue; // missing: made by the start
    }
    // A link, a FIFO, a file where a folder belongs: data-dir-safety.ts refuses those.
    if (kind === 'other' || (kind === 'folder') !== folder) continue;
    const problem = accessProblem(path, folder ? FOLDER : READ_WRITE, path);
    if (problem !== null) return { path, reason: problem };
  }
  return null;
}

/** Throws DataDirectoryUnusableError when this process may not use `layout`'s directory. */
export function assertUsableDataDirectory(layout: DataLayout): void {
  const problem = dataDirectoryAccessProblem(layout);
  if (problem !== null)
    throw new DataDirectoryUnusableError(layout.root, problem.path, problem.reason);
}
