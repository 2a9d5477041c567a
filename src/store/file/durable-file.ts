/**
 * Durable file changes. `write` writes a unique temp file, fsyncs it, renames
 * it over the target and fsyncs the directory; `removeIfPresent` unlinks and
 * fsyncs the directory. When either resolves the change survives a kill or power loss,
 * and a reader sees the old file or the new one, never a mix. Directory
 * fsyncs are shared by concurrent writers (group commit). Failures become
 * StorageFullError or StorageUnavailableError, with the temp file removed.
 */

import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { StorageFullError, StorageUnavailableError } from '../../domain/errors.js';
import { cleanUpAfter } from '../cleanup.js';
import { nodeFileSystem, type WritableFileSystem } from './file-system.js';
import { TEMP_SUFFIX } from './layout.js';
import { SharedFlush } from './shared-flush.js';
import type { SparePool } from './spare-files.js';
import type { SetAside, UnsyncedWrite } from './unsynced-writes.js';

export class DurableFiles {
  private readonly directorySyncs = new Map<string, SharedFlush>();

  constructor(private readonly fs: WritableFileSystem = nodeFileSystem) {}

  /**
   * `syncDirectory: false` leaves the rename's directory fsync to the caller,
   * who must call syncDirectory before relying on it. (Files whose content is
   * durable elsewhere, the checkpoint's session files, go unsynced through
   * `writeUnsynced`.)
   */
  async write(
    target: string,
    content: string | Uint8Array,
    options: { syncDirectory?: boolean } = {},
  ): Promise<void> {
    const temp = tempPathFor(target);
    try {
      const handle = await this.fs.open(temp, 'wx', 0o644);
      try {
        await handle.writeFile(content);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(temp, target);
    } catch (error) {
      const failure = storageError(error, `writing ${basename(target)}`);
      await cleanUpAfter(failure, () => this.fs.rm(temp, { force: true }));
      throw failure;
    }
    if (options.syncDirectory !== false) await this.syncDirectory(dirname(target));
  }

  /**
   * Writes or removes many files unsynced, off the event loop (see
   * unsynced-writes.ts); a failure stops the rest and is thrown as a typed
   * error. Resolves with what it moved to `quarantineDir` (see SetAside).
   */
  async writeUnsynced(
    writes: readonly UnsyncedWrite[],
    spares: SparePool | null = null,
    quarantineDir: string | null = null,
  ): Promise<SetAside[]> {
    try {
      return await this.fs.writeUnsynced(writes, spares, quarantineDir);
    } catch (error) {
      const target = (error as NodeJS.ErrnoException).path;
      throw storageError(
        error,
        `writing ${target === undefined ? 'session files' : basename(target)}`,
      );
    }
  }

  /** Unlinks `target` (a file already gone is fine), then fsyncs the directory (as write). */
  async removeIfPresent(target: string, options: { syncDirectory?: boolean } = {}): Promise<void> {
    try {
      await this.fs.unlink(target);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw storageError(error, `removing ${basename(target)}`);
    }
    if (options.syncDirectory !== false) await this.syncDirectory(dirname(target));
  }

  async syncDirectory(dir: string): Promise<void> {
    let group = this.directorySyncs.get(dir);
    if (group === undefined) {
      group = new SharedFlush(async () => {
        const handle = await this.fs.open(dir, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      });
      this.directorySyncs.set(dir, group);
    }
    try {
      await group.run();
    } catch (error) {
      throw storageError(error, `syncing ${basename(dir)}/`);
    }
  }
}

function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `${basename(target)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`,
  );
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

/** Turns a file-system failure into the typed error the HTTP layer can explain. */
export function storageError(error: unknown, doing: string): Error {
  if (error instanceof StorageFullError || error instanceof StorageUnavailableError) return error;
  const code = errorCode(error);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageFullError(
      `The data directory is full (${code} while ${doing}); nothing was changed. Free space and retry.`,
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new StorageUnavailableError(
    `Storage failed while ${doing} (${code ?? reason}); nothing was changed. Retry later.`,
  );
}
