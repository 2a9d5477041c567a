/**
 * What the event log keeps (EVENTS_RETAIN_COUNT, EVENTS_RETAIN_DAYS,
 * EVENTS_RETAIN_MB; unset: everything, as the original). An event goes once
 * any bound set would not keep it; the newest are always the ones kept.
 * How each store drops the rest: store/file/log-compaction.ts and
 * store/postgres/event-log.ts.
 */

/** The bounds; null: none of that kind. */
export interface RetentionPolicy {
  /** The most events kept. */
  count: number | null;
  /** The oldest an event kept may be, in ms. */
  maxAgeMs: number | null;
  /** The most bytes of events.jsonl kept (the file store only). */
  bytes: number | null;
}

export const KEEP_EVERYTHING: Readonly<RetentionPolicy> = Object.freeze({
  count: null,
  maxAgeMs: null,
  bytes: null,
});

/** Whether the policy bounds anything. */
export function bounds(policy: RetentionPolicy): boolean {
  return policy.count !== null || policy.maxAgeMs !== null || policy.bytes !== null;
}

const DAY_MS = 86_400_000;

/**
 * The policy the three settings name (each unset or empty: no bound); a
 * string says what is wrong with one. EVENTS_RETAIN_MB bounds events.jsonl:
 * refused with STORE=postgres.
 */
export function retentionPolicy(
  env: Readonly<Record<string, string | undefined>>,
): RetentionPolicy | string {
  const raw = {
    count: env.EVENTS_RETAIN_COUNT,
    days: env.EVENTS_RETAIN_DAYS,
    mb: env.EVENTS_RETAIN_MB,
  };
  const given = (value: string | undefined): value is string => value !== undefined && value !== '';
  const policy: RetentionPolicy = { count: null, maxAgeMs: null, bytes: null };
  if (given(raw.count)) {
    if (!/^\d{1,15}$/.test(raw.count) || Number(raw.count) < 1) {
      return `EVENTS_RETAIN_COUNT must be a whole number of events, 1 or more; got "${raw.count}".`;
    }
    policy.count = Number(raw.count);
  }
  if (given(raw.days)) {
    const days = /^\d{1,6}(\.\d{1,9})?$/.test(raw.days) ? Number(raw.days) : 0;
    if (!(days > 0 && days <= 36_500)) {
      return `EVENTS_RETAIN_DAYS must be a number of days above 0 (such as 30 or 0.5), up to 36500; got "${raw.days}".`;
    }
    policy.maxAgeMs = days * DAY_MS;
  }
  if (given(raw.mb)) {
    if (!/^\d{1,7}$/.test(raw.mb) || Number(raw.mb) < 1) {
      return `EVENTS_RETAIN_MB must be a whole number of MiB from 1 to 9999999; got "${raw.mb}".`;
    }
    if (env.STORE === 'postgres') {
      return "EVENTS_RETAIN_MB bounds events.jsonl, the file store's log; with STORE=postgres, use EVENTS_RETAIN_COUNT or EVENTS_RETAIN_DAYS.";
    }
    policy.bytes = Number(raw.mb) * 1024 * 1024;
  }
  return policy;
}
