/**
 * Whether the service works as it should, for `/health` and `/state`: a
 * store's background work that keeps failing (a checkpoint, a flush, a lease
 * renewal, the event feed), or a store's own problem (write-behind far
 * behind), makes the service degraded, with the reasons in words. One
 * failure is not enough (each is retried); a success ends it.
 */
import type { BackgroundReporter, BackgroundTask } from '../store/store.js';

/** Failures in a row, with no success between them, that make the service degraded. */
export const FAILURES_BEFORE_DEGRADED = 3;

interface Failing {
  count: number;
  since: string;
  cause: string;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Keeps count of background failures; passes every report on to `next` (the log and metrics). */
export class BackgroundHealth implements BackgroundReporter {
  private readonly failing = new Map<BackgroundTask, Failing>();

  constructor(private readonly next: BackgroundReporter) {}

  failed(task: BackgroundTask, error: unknown, passing = false): void {
    this.next.failed(task, error, passing);
    if (passing) return;
    const current = this.failing.get(task);
    if (current === undefined) {
      this.failing.set(task, { count: 1, since: new Date().toISOString(), cause: describe(error) });
    } else {
      current.count++;
      current.cause = describe(error);
    }
  }

  succeeded(task: BackgroundTask): void {
    this.failing.delete(task);
    this.next.succeeded(task);
  }

  /** One line for each task that has failed FAILURES_BEFORE_DEGRADED times or more in a row. */
  problems(): string[] {
    const lines: string[] = [];
    for (const [task, failing] of this.failing) {
      if (failing.count < FAILURES_BEFORE_DEGRADED) continue;
      lines.push(
        `${task} has failed ${failing.count} times in a row since ${failing.since} (retried): ${failing.cause}`,
      );
    }
    return lines;
  }
}
