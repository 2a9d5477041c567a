/**
 * Lifecycle counters and the rules of crash accounting.
 *
 * Every start counts once in `startup_count`. Every crash counts once in
 * `crash_count`: a `/crash` counts itself before the process exits; any other
 * death (SIGKILL, OOM, an uncaught exception, power loss) leaves the instance
 * marker saying "running", and the next start counts it. A clean stop marks
 * the instance "stopped" and counts nothing.
 */

export interface Stats {
  startup_count: number;
  crash_count: number;
  total_sessions: number;
  total_requests: number;
  /** Sessions the sweep removed once they expired (stats.json has it once it is not 0). */
  expired_sessions: number;
}

export const EMPTY_STATS: Readonly<Stats> = Object.freeze({
  startup_count: 0,
  crash_count: 0,
  total_sessions: 0,
  total_requests: 0,
  expired_sessions: 0,
});

/**
 * What the instance that owns a data directory says about itself. It carries
 * the counters it has made, or is about to make, durable, so a death between
 * writing the marker and writing stats.json loses no count.
 */
export interface InstanceMarker {
  container: string;
  pid: number;
  started_at: string;
  /** running: alive, or died unseen; crashing: /crash in progress; stopped: clean stop. */
  state: 'running' | 'crashing' | 'stopped';
  startup_count: number;
  crash_count: number;
}

/** An instance that died without a clean stop. */
export interface DeadInstance {
  container: string;
  pid: number;
  started_at: string;
}

export interface StartVerdict {
  /** The counters once this start and the previous instance's end are counted. */
  startupCount: number;
  crashCount: number;
  /** An unseen death to log, naming the instance that died. */
  detected: DeadInstance | null;
}

/**
 * Counts a start. First the previous instance's marker tops up the counters
 * it announced but may not have written; then its end is judged: a marker
 * still saying `running` is a death nobody saw, one crash. A directory without
 * a marker was last written by the original implementation (or is new):
 * taking it over is a start, not a crash.
 */
export function judgeStart(marker: InstanceMarker | null, stats: Stats): StartVerdict {
  const startupCount = Math.max(stats.startup_count, marker?.startup_count ?? 0) + 1;
  let crashCount = Math.max(stats.crash_count, marker?.crash_count ?? 0);
  if (marker === null || marker.state !== 'running') {
    return { startupCount, crashCount, detected: null };
  }
  crashCount += 1;
  return {
    startupCount,
    crashCount,
    detected: { container: marker.container, pid: marker.pid, started_at: marker.started_at },
  };
}
