/**
 * Spare files: the inodes of session files just replaced, kept in `spare/`
 * to write later session files into instead of new temp files.
 *
 * Why: on ext4, a rename over an existing file starts the writeback of the
 * new file at once when its blocks are not allocated yet (`auto_da_alloc`),
 * and a new file costs an inode and blocks to allocate where the replaced one
 * costs them to free. Rewriting a session file so costs 55-80 µs of CPU
 * here; writing into a kept inode whose blocks are allocated, about 19 µs
 * (docs/design/storage-measurements.md, "Spare files"; docs/design/file-churn.mjs).
 *
 * What keeps it safe:
 * - A spare has no other name, and is a regular file: it is kept only when
 *   `lstat` says so, and written again only through a descriptor opened
 *   without following a link whose `fstat` says so (safe-open.ts), so a
 *   symlink or a file a backup hard-linked is never written into. The
 *   session file is linked into `spare/`
 *   before the rename that takes its session name away, and is written again
 *   only after that rename succeeded; a link that is left naming a live file
 *   (a failed rename whose cleanup failed too) is never added to the pool.
 * - A reader that opened the replaced file keeps reading its inode. A spare
 *   is written again only `SPARE_MIN_AGE_MS` after it was replaced, so a
 *   reader that has read a session file within that time of opening it has
 *   seen one whole version, as with a plain rename (one that keeps the file
 *   open longer may see it change: `SPARE_FILES=0` if that matters).
 * - What a spare holds is nobody's: it is written whole (then cut to length
 *   if it held more) before the rename that names it; a clean stop removes
 *   every spare, a start those a kill left, in the background after its
 *   first checkpoint (`removeSpareFiles`); after a power cut the view is
 *   written again anyway (see WriteBehind.rebuildAfterPowerCut).
 * - The pool is bounded: at most `maxFiles` spares of at most
 *   `SPARE_MAX_BYTES` each (`SPARE_FILES`; 0 turns it off).
 */
import { randomBytes } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { forEachConcurrently } from './concurrently.js';
import type { WritableFileSystem } from './file-system.js';
import { readdirIfPresent } from './layout.js';
import { checkRegularFile } from './safe-open.js';
import { quarantineFile } from './session-files.js';

/** How long a replaced file stays untouched before it is written again. */
export const SPARE_MIN_AGE_MS = 250;
/** Larger replaced files are not kept (the pool's disk use stays `maxFiles` × this). */
export const SPARE_MAX_BYTES = 8 * 1024;
/** The default of SPARE_FILES. */
export const DEFAULT_SPARE_FILES = 8192;

/** Where spares go, how many may be kept (0: none), and how old one must be to be written. */
export interface SparePool {
  dir: string;
  maxFiles: number;
  /** SPARE_MIN_AGE_MS unless a test wants spares written at once. */
  minAgeMs: number;
}

/**
 * A spare: its path, and its size when it was kept. A write into it that is
 * not shorter leaves nothing of the old content, so it needs no truncate.
 */
export interface Spare {
  path: string;
  bytes: number;
}

/** The calls a pool makes (the unsynced writer's seam, see unsynced-writes.ts). */
export interface SpareCalls {
  linkSync(existing: string, newPath: string): void;
}

/** The spares of one directory, oldest first. Lives as long as the writer that uses it. */
export class SpareFiles {
  private readonly kept: { spare: Spare; since: number }[] = [];
  private head = 0;
  /**
   * Names are never reused (a prefix of this pool's own, then a count), so a
   * name a failed cleanup or an earlier writer left behind is never written
   * through, and a link never meets a name that exists.
   */
  private readonly prefix = randomBytes(4).toString('hex');
  private nextName = 0;

  constructor(
    readonly dir: string,
    private readonly maxFiles: number,
    private readonly minAgeMs = SPARE_MIN_AGE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.kept.length - this.head;
  }

  /** The oldest spare, taken out of the pool, if it was replaced long enough ago. */
  take(): Spare | undefined {
    const oldest = this.kept[this.head];
    if (oldest === undefined || this.now() - oldest.since < this.minAgeMs) return undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept.splice(0, this.head);
      this.head = 0;
    }
    return oldest.spare;
  }

  /**
   * Links `target` (about to be replaced) into the pool under a new name and
   * returns that spare, or null when it is not kept: the pool is full, the
   * file is large or does not exist (a new session), it is not a regular
   * file with this one name (a symlink: link() would link the link itself;
   * a file a backup hard-linked: writing into it would change the backup),
   * or the link failed (nothing depends on it). The caller adds it with `add` once the rename
   * that replaces `target` succeeded, and must unlink it if that rename fails.
   */
  link(calls: SpareCalls, target: string): Spare | null {
    if (this.size >= this.maxFiles) return null;
    const stats = lstatSync(target, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isFile() || stats.nlink !== 1) return null;
    if (stats.size > SPARE_MAX_BYTES) return null;
    const name = join(this.dir, `${this.prefix}-${this.nextName++}`);
    try {
      calls.linkSync(target, name);
    } catch {
      return null;
    }
    return { path: name, bytes: stats.size };
  }

  add(spare: Spare): void {
    this.kept.push({ spare, since: this.now() });
  }
}

/** The pools of the writer thread, one a directory (the store's `spare/`). */
export function sparePools(): (pool: SparePool | null) => SpareFiles | null {
  const pools = new Map<string, SpareFiles>();
  return (pool) => {
    if (pool === null || pool.maxFiles === 0) return null;
    let spares = pools.get(pool.dir);
    if (spares === undefined) {
      spares = new SpareFiles(pool.dir, pool.maxFiles, pool.minAgeMs);
      pools.set(pool.dir, spares);
    }
    return spares;
  };
}

/** Removals in flight at once: a full pool goes in about 0.1 s here, one at a time in 1 s. */
const REMOVE_CONCURRENCY = 16;

/**
 * Removes every spare in `dir` (a clean stop), or the `names` there (the
 * spares a killed instance left, listed by the start and removed in the
 * background: no pool writes through them, this run's names its own),
 * through the file-system seam. Only regular files
 * are spares: anything else found there (a symlink, a FIFO, a folder) was
 * put there by someone else and is moved to `quarantineDir`, never deleted
 * (left where it is without one; a spare name is never used twice).
 */
export async function removeSpareFiles(
  fs: WritableFileSystem,
  dir: string,
  quarantineDir: string | null = null,
  names?: readonly string[],
): Promise<void> {
  const spares = names ?? (await readdirIfPresent(dir));
  await forEachConcurrently(spares, REMOVE_CONCURRENCY, async (name) => {
    const path = join(dir, name);
    const kind = await checkRegularFile(path);
    if (kind === 'ok') await fs.rm(path, { force: true });
    else if (kind !== 'missing' && quarantineDir !== null) {
      await quarantineFile(fs, path, quarantineDir, `spare-${name}`);
    }
  });
}
