/**
 * What a boot has done so far: the readers count as they go (sessions of the
 * snapshot, journal records, session files) and a timer reports it, so a
 * start that takes more than a second says what it is doing at least once a
 * second. The readers give the event loop a turn every few thousand items
 * (`yieldToEventLoop`), so the timer fires, and so does anything else the
 * process answers while it starts.
 */

export type ProgressReport = (message: string, detail: Record<string, unknown>) => void;

/** How often a boot under way is reported. */
export const BOOT_PROGRESS_INTERVAL_MS = 1000;

export class BootProgress {
  /** What the boot is doing now, as a person reads it ("reading snapshot.jsonl"). */
  phase = 'opening the data directory';
  sessionsRead = 0;
  journalRecords = 0;
  sessionFilesRead = 0;
  /** Names of sessions/ looked at for others' changes (foreign-changes.ts). */
  sessionNamesSeen = 0;
  private readonly started = performance.now();
  private timer: NodeJS.Timeout | null = null;

  seconds(): number {
    return Math.round(performance.now() - this.started) / 1000;
  }

  /** The figures a report carries (each count only once it has started). */
  detail(): Record<string, unknown> {
    return {
      phase: this.phase,
      seconds: Math.round(this.seconds() * 10) / 10,
      sessions_read: this.sessionsRead,
      journal_records_replayed: this.journalRecords,
      ...(this.sessionFilesRead > 0 ? { session_files_read: this.sessionFilesRead } : {}),
      ...(this.sessionNamesSeen > 0 ? { session_names_seen: this.sessionNamesSeen } : {}),
    };
  }

  /** Reports "starting" to `report` every `everyMs` until `stop`. */
  reportEvery(report: ProgressReport, everyMs = BOOT_PROGRESS_INTERVAL_MS): void {
    this.stop();
    this.timer = setInterval(() => report('starting', this.detail()), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** Lets timers and I/O callbacks run in the middle of a long synchronous read. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
