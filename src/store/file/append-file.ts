/**
 * A file that only grows, with group commit: `append` resolves once its line
 * is written and fdatasynced, and lines appended while a write is in flight go
 * out together in the next write and share its fdatasync. A line appended
 * with `durable: false` is only written (it survives a kill, not a power
 * loss) until a later durable append or `sync()`. A failed write is cut back
 * off the file (and, if that fails too, before the next write), so the file
 * never keeps part of a batch. Used by the event log and the journal.
 * Lines are written with a synchronous call; only the fdatasync leaves the
 * event loop. A file made with `create` is preallocated: see there.
 */

import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { cleanUpAfter } from '../cleanup.js';
import { storageError } from './durable-file.js';
import type { WritableFileSystem } from './file-system.js';

interface PendingAppend<T> {
  line: string;
  durable: boolean;
  item: T;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class AppendFile<T = undefined> {
  private pending: PendingAppend<T>[] = [];
  private writing: Promise<void> | null = null;
  /** A failed write may have left part of a batch at the end: cut it before the next one. */
  private mustTruncate = false;
  private closed = false;
  /** While another file is put in this one's place (replace): appends wait. */
  private held = false;
  /** Where the zeros written ahead of the lines end (preallocated files only). */
  private allocated = 0;

  private constructor(
    private readonly fs: WritableFileSystem,
    private readonly path: string,
    private handle: FileHandle,
    private readonly name: string,
    /** End of the last batch written whole: the file is cut back to this after a failed write. */
    private end: number,
    /**
     * Called with each batch's items once it is written (and synced if any of
     * it is durable), in order, before any append of it resolves; with the
     * byte offset the batch starts at and its lines (each with its newline).
     */
    private readonly onCommit: (items: T[], start: number, lines: string[]) => void,
    /** Bytes of zeros written ahead of the lines at a time; 0: a plain append. */
    private readonly preallocate = 0,
  ) {}

  /** Opens `path` for appending; `size` must be the end of its last valid line. */
  static async open<T>(
    fs: WritableFileSystem,
    path: string,
    size: number,
    onCommit: (items: T[], start: number, lines: string[]) => void = () => undefined,
  ): Promise<AppendFile<T>> {
    const handle = await fs.open(path, 'a');
    return new AppendFile(fs, path, handle, basename(path), size, onCommit);
  }

  /**
   * Creates `path` (it must not exist), preallocated: lines are written into
   * zeros written ahead of them, `preallocate` bytes at a time, and synced
   * with the batch they come before. An fdatasync that does not change the
   * file's size flushes data only, not the file's inode too: about
   * 0.16 ms here against 0.25 ms (and twice that under load) for an append.
   * The file ends in zeros, which its readers take for the end (journal.ts).
   */
  static async create<T>(
    fs: WritableFileSystem,
    path: string,
    preallocate: number,
    onCommit: (items: T[], start: number, lines: string[]) => void = () => undefined,
  ): Promise<AppendFile<T>> {
    const handle = await fs.open(path, 'wx');
    return new AppendFile(fs, path, handle, basename(path), 0, onCommit, preallocate);
  }

  /** Appends `line` (one line, without its newline). */
  append(line: string, item: T, durable = true): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`${this.name} is closed.`));
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${line}\n`, durable, item, resolve, reject });
      if (!this.held) this.writing ??= this.writeBatches();
    });
  }

  /**
   * Appends `lines` to go out in one write: all of them are written (and
   * synced with it), or the write fails and none is. Lines are taken from
   * `pending` whole, only between writes, so lines pushed in one call are
   * never split.
   */
  appendAll(lines: readonly { line: string; item: T }[], durable = true): Promise<void> {
    return Promise.all(lines.map(({ line, item }) => this.append(line, item, durable))).then(
      () => undefined,
    );
  }

  /** Makes every line appended so far durable. */
  async sync(): Promise<void> {
    await this.writing;
    try {
      await this.handle.datasync();
    } catch (error) {
      throw storageError(error, `syncing ${this.name}`);
    }
  }

  /** Bytes of whole lines written. */
  size(): number {
    return this.end;
  }

  /**
   * Puts another file in this one's place (how the event log is compacted):
   * the write under way finishes, appends made meanwhile wait, and `swap`
   * gets the end of what was written whole. It must have renamed a file
   * holding all of that (moved, not cut) over this one's path, and return
   * that file open for appending and its size: appends go on there. When
   * `swap` fails, nothing changes and the appends go on here. Not for a
   * preallocated file.
   */
  async replace(
    swap: (end: number) => Promise<{ handle: FileHandle; size: number }>,
  ): Promise<void> {
    if (this.closed) throw new Error(`${this.name} is closed.`);
    if (this.preallocate > 0) throw new Error('a preallocated file is never replaced');
    this.held = true;
    try {
      await this.writing;
      if (this.mustTruncate) await this.truncateToEnd();
      const { handle, size } = await swap(this.end);
      const old = this.handle;
      this.handle = handle;
      this.end = size;
      await old.close().catch(() => undefined); // its file is no longer the log: nothing to lose
    } finally {
      this.held = false;
      if (this.pending.length > 0) this.writing ??= this.writeBatches();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    await this.handle.close();
  }

  private async writeBatches(): Promise<void> {
    // Lines appended by the rest of this tick's callbacks (a journal commit
    // resolves a whole batch of writers at once) go out in the same write.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    while (this.pending.length > 0 && !this.held) {
      const batch = this.pending;
      this.pending = [];
      const bytes = Buffer.from(batch.map((entry) => entry.line).join(''), 'utf8');
      try {
        if (this.mustTruncate) await this.truncateToEnd();
        // Written synchronously (see file-system.ts): to the page cache, a few
        // microseconds, where a threadpool round trip costs tens.
        if (this.preallocate > 0 && this.end + bytes.length > this.allocated) {
          const chunks = Math.ceil((this.end + bytes.length - this.allocated) / this.preallocate);
          this.writeAll(Buffer.alloc(chunks * this.preallocate), this.allocated);
          this.allocated += chunks * this.preallocate;
        }
        this.writeAll(bytes, this.preallocate > 0 ? this.end : null);
        if (batch.some((entry) => entry.durable)) await this.handle.datasync();
      } catch (error) {
        const failure = storageError(error, `appending to ${this.name}`);
        // Cut the failed batch off now; if even that fails, the next append
        // truncates first (mustTruncate stays set).
        this.mustTruncate = true;
        await cleanUpAfter(failure, () => this.truncateToEnd());
        for (const entry of batch) entry.reject(failure);
        continue;
      }
      const start = this.end;
      this.end += bytes.length;
      this.onCommit(
        batch.map((entry) => entry.item),
        start,
        batch.map((entry) => entry.line),
      );
      for (const entry of batch) entry.resolve();
    }
    this.writing = null;
  }

  /** Cuts the file back to the end of the last batch written whole (the zeros after it go too). */
  private async truncateToEnd(): Promise<void> {
    await this.handle.truncate(this.end);
    this.mustTruncate = false;
    this.allocated = Math.min(this.allocated, this.end);
  }

  /** Writes `bytes` whole at `position` (null: at the end). */
  private writeAll(bytes: Buffer, position: number | null): void {
    let written = 0;
    while (written < bytes.length) {
      const at = position === null ? null : position + written;
      written += this.fs.writeSync(this.handle, this.path, bytes, written, at);
    }
  }
}
