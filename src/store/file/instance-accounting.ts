/**
 * The file store's lifecycle counters (stats.json) and its instance marker
 * (instance.json, see instance-marker.ts): a start counted, with every death
 * of an earlier instance nobody saw (judged by the marker, domain/counters.ts);
 * `/crash`; a clean stop, which seals the directory (directory-seal.ts).
 * Counters that change with every request (total_requests) or every create
 * (total_sessions) or every expiry (expired_sessions) reach stats.json
 * lazily, within a second; a boot recounts them from the durable
 * `session_created` and `session_expired` events.
 */
import { type InstanceMarker, judgeStart, type Stats } from '../../domain/counters.js';
import {
  crashDetectedEvent,
  crashTriggeredEvent,
  type ServiceEvent,
  startupEvent,
} from '../../domain/event.js';
import { utcTimestamp } from '../../domain/time.js';
import type { InstanceStart } from '../store.js';
import { type DirectorySeal, takeSeal } from './directory-seal.js';
import type { DurableFiles } from './durable-file.js';
import { currentBootId, formatMarker } from './instance-marker.js';
import type { DataLayout } from './layout.js';
import type { LogPoint } from './log-after-mark.js';
import { SharedFlush } from './shared-flush.js';
import { formatStats } from './stats-file.js';

/** What a boot found for the accounting. */
export interface AccountingStart {
  /** stats.json as read (or zeros). */
  stats: Stats;
  /** The marker as read; null where there is none. */
  marker: InstanceMarker | null;
  /** Sessions total_sessions counts that the log does not (see instance-marker.ts). */
  sessionsBeforeLog: number;
  /** How far into events.jsonl others' logged changes are adopted (see readLogAfterMark). */
  adoptedThrough: LogPoint | null;
}

export class InstanceAccounting {
  private readonly instanceId: string;
  private readonly layout: DataLayout;
  private readonly files: DurableFiles;
  /** Appends an event to the log, durably. */
  private readonly log: (event: ServiceEvent) => Promise<void>;
  private readonly counters: Stats;
  /** The counters as stats.json last received them. */
  private flushed: Stats;
  private readonly statsFlush: SharedFlush;
  private marker: InstanceMarker | null;
  /** Sessions total_sessions counts that the log does not (see instance-marker.ts). */
  private sessionsBeforeLog: number;
  private readonly adoptedThrough: LogPoint | null;
  /**
   * The machine boot during which session files were written without a sync
   * (the marker keeps it): an earlier one's until the write-behind has
   * written them all again.
   */
  private viewBootId: string | null = currentBootId();
  /** What a clean stop left (directory-seal.ts), once it has sealed the directory. */
  private seal: DirectorySeal | null = null;

  constructor(
    instanceId: string,
    where: { layout: DataLayout; files: DurableFiles },
    start: AccountingStart,
    log: (event: ServiceEvent) => Promise<void>,
  ) {
    this.instanceId = instanceId;
    this.layout = where.layout;
    this.files = where.files;
    this.log = log;
    this.counters = start.stats;
    this.flushed = { ...start.stats };
    this.marker = start.marker;
    this.sessionsBeforeLog = start.sessionsBeforeLog;
    this.adoptedThrough = start.adoptedThrough;
    this.statsFlush = new SharedFlush(async () => {
      const snapshot = { ...this.counters };
      await this.files.write(this.layout.statsFile, formatStats(snapshot));
      this.flushed = snapshot;
    });
  }

  stats(): Stats {
    return { ...this.counters };
  }

  countRequest(): void {
    this.counters.total_requests++;
  }

  /** Counts a created session; its durable event is what counts it at the next boot. */
  sessionCreated(): void {
    this.counters.total_sessions++;
  }

  /** Counts a session the sweep removed; its durable event is what counts it at the next boot. */
  sessionExpired(): void {
    this.counters.expired_sessions++;
  }

  /** Recounts expired_sessions from the log, as recountSessions does total_sessions. */
  recountExpired(expiredEvents: number): void {
    this.counters.expired_sessions = Math.max(this.counters.expired_sessions, expiredEvents);
  }

  /** Counts a session another program created that the log has no `session_created` for. */
  sessionBeforeLog(): void {
    this.sessionsBeforeLog++;
  }

  /**
   * Recounts total_sessions from the log: stats.json gets it lazily, every
   * create's event is durable before it is acknowledged, so the log recounts
   * what a crash cut short, on top of the sessions counted before the log
   * had them; and never fewer sessions created than exist.
   */
  recountSessions(createdEvents: number, liveSessions: number): void {
    this.counters.total_sessions = Math.max(
      this.counters.total_sessions,
      this.sessionsBeforeLog + createdEvents,
      liveSessions,
    );
  }

  /** Whether the lazy counters have moved since stats.json got them. */
  private behind(): boolean {
    const { total_requests, total_sessions, expired_sessions } = this.counters;
    return (
      total_requests !== this.flushed.total_requests ||
      total_sessions !== this.flushed.total_sessions ||
      expired_sessions !== this.flushed.expired_sessions
    );
  }

  /** Writes stats.json when the lazy counters moved (a failed write is retried next time). */
  flushIfBehind(): Promise<void> | null {
    return this.behind() ? this.flush() : null;
  }

  /** Writes stats.json; concurrent callers share one write. */
  flush(): Promise<void> {
    return this.statsFlush.run();
  }

  readMarker(): InstanceMarker | null {
    return this.marker;
  }

  /** The session files were written again after a power cut: the marker stops asking for it. */
  async viewWrittenDuring(bootId: string): Promise<void> {
    this.viewBootId = bootId;
    if (this.marker?.container === this.instanceId) await this.writeMarker(this.marker);
  }

  /** Says the session files were last written during an earlier machine boot (see viewBootId). */
  viewWrittenBefore(bootId: string): void {
    this.viewBootId = bootId;
  }

  async start(): Promise<InstanceStart> {
    const verdict = judgeStart(this.marker, this.stats());
    // The marker announces the counts before stats.json has them: a death in
    // between is made good by the next start (see judgeStart).
    await this.writeMarker({
      container: this.instanceId,
      pid: process.pid,
      started_at: utcTimestamp(),
      state: 'running',
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    });
    await this.updateStats(() => ({
      startup_count: verdict.startupCount,
      crash_count: verdict.crashCount,
    }));
    if (verdict.detected !== null) {
      await this.log(crashDetectedEvent(this.instanceId, verdict.detected, verdict.crashCount));
    }
    await this.log(startupEvent(this.instanceId, verdict));
    return {
      startupCount: verdict.startupCount,
      crashCount: verdict.crashCount,
      detected: verdict.detected === null ? [] : [verdict.detected],
    };
  }

  async recordCrash(): Promise<number> {
    const crashCount = this.counters.crash_count + 1;
    const marker = this.requireOwnMarker();
    await this.writeMarker({ ...marker, state: 'crashing', crash_count: crashCount });
    await this.updateStats(() => ({ crash_count: crashCount }));
    await this.log(crashTriggeredEvent(this.instanceId, crashCount));
    return crashCount;
  }

  async stop(event: ServiceEvent): Promise<void> {
    await this.log(event);
    await this.writeMarker({ ...this.requireOwnMarker(), state: 'stopped' });
  }

  /**
   * Seals the directory after a clean stop (directory-seal.ts), so the next
   * start sees in O(1) whether another program changed it since.
   */
  async sealStopped(): Promise<void> {
    if (this.marker?.state !== 'stopped') return;
    this.seal = takeSeal(this.layout);
    await this.writeMarker(this.marker);
  }

  private async updateStats(change: (current: Stats) => Partial<Stats>): Promise<Stats> {
    const before = { ...this.counters };
    Object.assign(this.counters, change(before));
    try {
      await this.statsFlush.run();
    } catch (error) {
      // Undo only what this change did; other counters moved on meanwhile.
      for (const key of Object.keys(before) as (keyof Stats)[]) {
        if (key !== 'total_requests' && this.counters[key] !== before[key]) {
          this.counters[key] = before[key];
        }
      }
      throw error;
    }
    return { ...this.counters };
  }

  private async writeMarker(marker: InstanceMarker): Promise<void> {
    const viewBootId = this.viewBootId;
    await this.files.write(
      this.layout.markerFile,
      formatMarker(marker, {
        viewBootId,
        sessionsBeforeLog: this.sessionsBeforeLog,
        seal: this.seal,
        adoptedThrough: this.adoptedThrough,
      }),
    );
    this.marker = marker;
    // A rebuild of the files that finished meanwhile must not be forgotten.
    if (this.viewBootId !== viewBootId) await this.writeMarker(marker);
  }

  private requireOwnMarker(): InstanceMarker {
    if (this.marker?.container !== this.instanceId) {
      throw new Error('startInstance() has not run: this instance has no marker yet.');
    }
    return this.marker;
  }
}
