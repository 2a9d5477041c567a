/**
 * Retention for events.jsonl (EVENTS_RETAIN_COUNT, _DAYS, _MB): the log's
 * head is dropped by writing the events to keep to events.jsonl.tmp, after a
 * `log_compacted` line that says what was dropped (log-positions.ts), and
 * renaming it over the log.
 *
 * - When: once the log holds half again what a bound allows (a bound of
 *   1,000,000 events is compacted at 1,500,000 down to 1,000,000), so the
 *   bytes copied are a constant per event logged; and only when at least
 *   MIN_DROP_BYTES go.
 * - What goes: every event before the first that all the bounds keep, but
 *   never one a boot may need: none after the point the snapshot a boot
 *   would use was taken, none a journal segment not yet deleted may have
 *   logged (`events_offset`).
 * - Never blocking requests: the head is found and the events are copied in
 *   the background, a chunk at a time; only the appends made meanwhile are
 *   copied with appends held back (AppendFile.replace), then the copy is
 *   synced, renamed over the log and the directory synced. A kill or a power
 *   cut at any point leaves the old log or the new one, each whole; offsets
 *   kept elsewhere are true in both. A leftover events.jsonl.tmp is ours: the
 *   next boot removes it.
 */
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { bounds, type RetentionPolicy } from '../../domain/retention.js';
import type { Clock } from '../../domain/time.js';
import { type BackgroundReporter, runInBackground } from '../store.js';
import type { DurableFiles } from './durable-file.js';
import type { EventLog } from './event-log.js';
import type { WritableFileSystem } from './file-system.js';
import type { DataLayout } from './layout.js';
import { compactionHead } from './log-positions.js';
import { openNoFollow, openReadStream } from './safe-open.js';

/** How far past a bound the log grows before it is compacted back to it. */
export const RETENTION_SLACK = 1.5;
/** A compaction drops at least this much, or waits. */
export const MIN_DROP_BYTES = 16 * 1024;
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 0x0a;
const CREATED = [
  Buffer.from('"event":"session_created"'),
  Buffer.from('"event": "session_created"'),
];
const EXPIRED = Buffer.from('"event":"session_expired"');

export interface LogRetentionSettings {
  log: EventLog;
  layout: DataLayout;
  fileSystem: WritableFileSystem;
  files: DurableFiles;
  policy: RetentionPolicy;
  /** The least a compaction drops (MIN_DROP_BYTES), or it waits. */
  minDropBytes: number;
  clock: Clock;
  instanceId: string;
  background: BackgroundReporter;
  /** The first byte (in the whole history) a boot may need: nothing from it on is dropped. */
  keepFrom: () => number;
}

/** Where a compaction cuts: the first kept line, and what goes before it. */
interface Cut {
  /** The first kept line's byte in the file. */
  keptFrom: number;
  /** Events dropped in all, the earlier compactions' too. */
  dropped: number;
  created: number;
  expired: number;
}

export class LogRetention {
  private running: Promise<unknown> | null = null;
  private stopped = false;
  /** The oldest kept event's `ts` (ms), read when asked and forgotten at each compaction. */
  private oldestMs: number | null | undefined;
  /** How far the last look could drop at most, when it found too little: not looked at again before it moves. */
  private blockedAt = -1;
  readonly tempFile: string;

  constructor(private readonly settings: LogRetentionSettings) {
    this.tempFile = join(settings.layout.root, 'events.jsonl.tmp');
  }

  /** Whether any bound is set. */
  get active(): boolean {
    return bounds(this.settings.policy);
  }

  /** Called once a second: starts a compaction in the background when one is due. */
  tick(): void {
    if (!this.active || this.stopped || this.running !== null) return;
    const run = this.runIfDue().finally(() => {
      this.running = null;
    });
    this.running = run;
    void runInBackground(this.settings.background, 'log_compaction', () => run);
  }

  /** Runs a compaction now if one is due (tests call it); resolves when it is done. */
  async runIfDue(): Promise<boolean> {
    if (!(await this.due())) return false;
    return this.compact();
  }

  /** Stops: a compaction under way gives up (its temp file removed) and this resolves once it has. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async due(): Promise<boolean> {
    const { log, policy, clock } = this.settings;
    if (
      policy.count !== null &&
      log.count() - log.head().dropped > RETENTION_SLACK * policy.count
    ) {
      return true;
    }
    if (policy.bytes !== null && log.fileSize() > RETENTION_SLACK * policy.bytes) return true;
    if (policy.maxAgeMs !== null) {
      if (this.oldestMs === undefined) this.oldestMs = await this.readOldestMs();
      return this.oldestMs !== null && clock() - this.oldestMs > RETENTION_SLACK * policy.maxAgeMs;
    }
    return false;
  }

  /** The `ts` of the first kept line, in ms; null when the log has none. */
  private async readOldestMs(): Promise<number | null> {
    const { log, layout } = this.settings;
    const handle = await openNoFollow(layout.eventsFile, 'r');
    try {
      const buffer = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, log.head().length);
      return lineTimeMs(buffer.subarray(0, bytesRead));
    } finally {
      await handle.close();
    }
  }

  private async compact(): Promise<boolean> {
    const { log, layout, clock, instanceId } = this.settings;
    const head = log.head();
    const limit = Math.min(this.settings.keepFrom(), log.size()) - head.base;
    if (limit <= this.blockedAt) return false;
    const now = clock();
    const cut = await this.findCut(limit, now);
    if (cut === null || cut.keptFrom - head.length < this.settings.minDropBytes) {
      this.blockedAt = limit;
      return false;
    }
    const { line, head: newHead } = compactionHead(
      instanceId,
      {
        count: cut.dropped,
        keptFrom: head.base + cut.keptFrom,
        created: cut.created,
        expired: cut.expired,
      },
      new Date(now),
    );
    const { fileSystem: fs, files } = this.settings;
    const source = await openNoFollow(layout.eventsFile, 'r');
    let target: FileHandle | null = null;
    let renamed = false;
    let unsynced: unknown = null;
    try {
      // Never through a link, never over a file: a name taken is an error.
      target = await fs.open(this.tempFile, 'ax');
      const out = target;
      writeAll(fs, out, this.tempFile, Buffer.from(`${line}\n`));
      // The bulk copied and synced in the background; only what is appended
      // meanwhile is copied and synced with the appends held back.
      let copied = await this.copy(source, out, cut.keptFrom, log.fileSize());
      await out.datasync();
      await log.replaceFile(async (end) => {
        copied = await this.copy(source, out, copied, end);
        await out.datasync();
        await fs.rename(this.tempFile, layout.eventsFile);
        renamed = true;
        // From here the new file is the log whatever happens. Appends wait
        // until the rename is durable (a power cut would bring the old file
        // back without them): the directory's sync is tried three times, and
        // a sync that still fails is reported, never undone.
        unsynced = await syncWithRetries(() => files.syncDirectory(layout.root));
        log.compacted(newHead);
        return { handle: out, size: newHead.length + end - cut.keptFrom };
      });
    } catch (error) {
      // Only a temp file this compaction made is removed.
      if (!renamed && target !== null) {
        await target.close().catch(() => undefined);
        await fs.rm(this.tempFile, { force: true }).catch(() => undefined);
      }
      if (this.stopped) return false; // given up for the stop: nothing went wrong
      throw error;
    } finally {
      await source.close();
    }
    this.oldestMs = undefined;
    this.blockedAt = -1;
    if (unsynced !== null) throw unsynced;
    return true;
  }

  /** Copies bytes `from` to `to` of the log to `out`, a chunk at a time; stops (throws) when the store stops. */
  private async copy(
    source: FileHandle,
    out: FileHandle,
    from: number,
    to: number,
  ): Promise<number> {
    const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let at = from;
    while (at < to) {
      if (this.stopped) throw new Error('the store is stopping: compaction given up');
      const { bytesRead } = await source.read(buffer, 0, Math.min(buffer.length, to - at), at);
      if (bytesRead === 0) throw new Error('events.jsonl ended before the bytes to copy');
      writeAll(this.settings.fileSystem, out, this.tempFile, buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
    return at;
  }

  /**
   * Reads the log from its first kept line up to byte `limit` of the file
   * (a line start) for the first line every bound keeps; null when none
   * goes. Counts the `session_created` and `session_expired` lines that go.
   */
  private async findCut(limit: number, now: number): Promise<Cut | null> {
    const { log, policy, layout } = this.settings;
    const head = log.head();
    const end = log.fileSize();
    const lastDroppable = policy.count === null ? 0 : log.count() - policy.count;
    const cut: Cut = {
      keptFrom: head.length,
      dropped: head.dropped,
      created: head.created,
      expired: head.expired,
    };
    // Whether the line at cut.keptFrom goes: a bound would not keep it
    // (positions start at 1: with no bound on the count, none goes for it).
    const goes = (timeMs: number | null): boolean =>
      cut.dropped + 1 <= lastDroppable ||
      (policy.bytes !== null && end - cut.keptFrom > policy.bytes) ||
      (policy.maxAgeMs !== null && timeMs !== null && now - timeMs > policy.maxAgeMs);
    if (limit <= cut.keptFrom) return null;
    const stream = await openReadStream(layout.eventsFile, {
      start: cut.keptFrom,
      end: limit - 1,
      highWaterMark: CHUNK_BYTES,
    });
    if (stream === null) return null;
    let partial: Buffer = Buffer.alloc(0);
    let lastTime: number | null = null;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const bytes = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
        let from = 0;
        for (let nl = bytes.indexOf(NEWLINE); nl !== -1; nl = bytes.indexOf(NEWLINE, from)) {
          const line = bytes.subarray(from, nl);
          // A line whose time cannot be read is as old as the one before it.
          lastTime = lineTimeMs(line) ?? lastTime;
          if (!goes(lastTime)) return cut.dropped > head.dropped ? cut : null;
          cut.dropped++;
          if (CREATED.some((mark) => line.includes(mark))) cut.created++;
          else if (line.includes(EXPIRED)) cut.expired++;
          cut.keptFrom += nl + 1 - from;
          from = nl + 1;
        }
        partial = Buffer.from(bytes.subarray(from));
      }
    } finally {
      stream.destroy();
    }
    return cut.dropped > head.dropped ? cut : null;
  }
}

/** Runs `sync` until it succeeds, three tries at most; the last failure, or null. */
async function syncWithRetries(sync: () => Promise<void>): Promise<unknown> {
  let failure: unknown = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await sync();
      return null;
    } catch (error) {
      failure = error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return failure;
}

/** A line's `ts` in ms (ours and the original's both begin `{"ts":`); null when it has none. */
function lineTimeMs(line: Buffer): number | null {
  const match = /^\{"ts": ?(\d+(?:\.\d+)?)[,}]/.exec(line.toString('latin1', 0, 48));
  return match === null ? null : Number(match[1]) * 1000;
}

function writeAll(fs: WritableFileSystem, handle: FileHandle, path: string, bytes: Buffer): void {
  let written = 0;
  while (written < bytes.length) written += fs.writeSync(handle, path, bytes, written, null);
}
