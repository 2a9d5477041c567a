/**
 * Durable file writes: write a unique temp file, fsync it, rename it over the
 * target, fsync the directory. When `writeFileDurably` resolves the new
 * content survives a kill or power loss, and a reader sees either the old file
 * or the new one, never a mix. Directory fsyncs are shared by concurrent
 * writers (group commit).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StorageFullError, StorageUnavailableError } from '../../domain/errors.js';
import { GroupCommit } from './group-commit.js';
import { TEMP_SUFFIX } from './layout.js';

const directorySyncs = new Map<string, GroupCommit>();

export async function syncDirectory(dir: string): Promise<void> {
  let group = directorySyncs.get(dir);
  if (group === undefined) {
    group = new GroupCommit(async () => {
      const handle = await open(dir, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    });
    directorySyncs.set(dir, group);
  }
  await group.run();
}

export function tempPathFor(target: string): string {
  return join(
    dirname(target),
    `${basename(target)}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`,
  );
}

export async function writeFileDurably(
  target: string,
  content: string | Uint8Array,
): Promise<void> {
  const temp = tempPathFor(target);
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(content);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw storageError(error, `writing ${basename(target)}`);
  }
  await syncDirectory(dirname(target)).catch((error: unknown) => {
    throw storageError(error, `syncing ${dirname(target)}`);
  });
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
