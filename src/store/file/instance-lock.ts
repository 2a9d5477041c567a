/**
 * One live instance per data directory, enforced by the kernel: the owner
 * holds an exclusive flock(2) on `instance.lock` for its whole life. The lock
 * belongs to an open file that only the owning process holds, so it is
 * released the moment that process dies, however it dies (SIGKILL, OOM,
 * power loss): a dead instance never blocks its own restart, and PID reuse
 * cannot fool it. Node has no flock binding, so util-linux's `flock` takes
 * the lock on our file descriptor (shared with it) and exits at once.
 */
import { spawnSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { openNoFollowSync } from './safe-open.js';

export class DataDirectoryBusyError extends Error {
  constructor(readonly lockFile: string) {
    super(
      `Another live instance owns this data directory (it holds ${lockFile}). ` +
        'Stop it first, or point DATA_DIR at another directory.',
    );
    this.name = 'DataDirectoryBusyError';
  }
}

export interface InstanceLock {
  release(): void;
}

/** Takes the lock or throws DataDirectoryBusyError without waiting. Boot-time only (sync). */
export function acquireInstanceLock(lockFile: string): InstanceLock {
  // Never through a symlink, never a FIFO (the open would hang): see safe-open.ts.
  const fd = openNoFollowSync(lockFile, 'a', 0o644);
  const result = spawnSync('flock', ['--exclusive', '--nonblock', '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    timeout: 10_000,
  });
  if (result.error !== undefined || result.status !== 0) {
    closeSync(fd);
    if (result.error !== undefined) {
      throw new Error(
        `Cannot lock the data directory: running util-linux's flock failed (${result.error.message}).`,
      );
    }
    if (result.status === 1) throw new DataDirectoryBusyError(lockFile);
    throw new Error(
      `Cannot lock the data directory: flock exited with ${result.status ?? result.signal}: ${result.stderr.toString().trim()}`,
    );
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

/**
 * Whether a live instance holds the lock now (for readers that must not take
 * it, such as `inspect --verify`): tried with a shared lock, let go at once.
 */
export function isLockHeld(lockFile: string): boolean {
  let fd: number;
  try {
    fd = openNoFollowSync(lockFile, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  try {
    const result = spawnSync('flock', ['--shared', '--nonblock', '3'], {
      stdio: ['ignore', 'ignore', 'ignore', fd],
      timeout: 10_000,
    });
    return result.status === 1;
  } finally {
    closeSync(fd);
  }
}
