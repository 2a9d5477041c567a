/**
 * A page of the event log as the client gives it: the service's answer, plus
 * `next` on every page and each event's position (its line in the log, its
 * SSE id). The service does not send positions (an event on the wire stays
 * the original's line); the client works them out, because a page's events
 * have consecutive positions and the answer says where the page starts or
 * ends: with `before=`, the page starts at its `next` (at `oldest` when
 * `next` is null); the tail ends at `count`, the position of the last event
 * logged. `oldest` is the oldest position kept: 1 unless the service's
 * retention policy dropped events (then the answer says it).
 */
import { isCount, isLoggedEvent } from './answer-shapes.js';
import { UntrustedAnswerError } from './errors.js';
import type { EventPageAnswer, LoggedEvent } from './wire.js';

/** GET /events, with `next` always and the events' positions. */
export interface EventPage {
  /** Oldest first. */
  events: LoggedEvent[];
  /** Every event ever logged: the position of the last. */
  count: number;
  /** The position of the oldest event kept (1 unless retention dropped some). */
  oldest: number;
  /**
   * The `before` of the page older still, which is the position of this
   * page's first event; null when the page starts at the oldest event kept.
   */
  next: number | null;
  /** `positions[i]` is the position of `events[i]`: its line in the log, its SSE id. */
  positions: number[];
  /** The answer as the service sent it: what `JSON.stringify(page)` writes. */
  toJSON(): EventPageAnswer;
}

/** An event and its position, as `StatefulClient.eventHistory()` gives them. */
export interface PositionedEvent {
  position: number;
  event: LoggedEvent;
}

/**
 * The page for `answer`, the service's answer to GET /events with `before`
 * (undefined: the tail). Throws UntrustedAnswerError for an answer whose
 * events cannot have the positions it implies (more events than positions,
 * events past `before` or past the log's end), whose `next` does not go
 * back, or that does not page back when asked to (the original service
 * ignores `before`).
 */
export function eventPage(answer: unknown, before: number | undefined, url: string): EventPage {
  const untrusted = (reason: string) => new UntrustedAnswerError(url, reason);
  const { events, count, next, oldest: told } = (answer ?? {}) as Partial<Record<string, unknown>>;
  if (!Array.isArray(events) || !isCount(count)) {
    throw untrusted('an event page needs an events array and a count');
  }
  if (told !== undefined && !(isCount(told) && told >= 1 && told <= count + 1)) {
    throw untrusted(
      `an oldest position that is none in a log of ${count}: ${JSON.stringify(told)}`,
    );
  }
  const oldest = told ?? 1;
  for (const event of events) {
    const wrong = isLoggedEvent(event);
    if (wrong !== null) throw untrusted(`an event page holds what is not an event: ${wrong}`);
  }
  let first: number;
  if (before === undefined) {
    first = count - events.length + 1;
    if (first < oldest) {
      const kept = oldest > 1 ? ` that keeps ${oldest} on` : '';
      throw untrusted(`a page of ${events.length} events in a log of ${count}${kept}`);
    }
  } else {
    if (next === undefined) throw untrusted(`it answered before=${before} without next`);
    if (next !== null && !(isCount(next) && next >= 1)) {
      throw untrusted(`a page cursor (next) that is no position: ${JSON.stringify(next)}`);
    }
    // The older page ends before this one starts: a next at or past `before`
    // would have a reader of every page ask for this one again, for ever.
    if (next !== null && next >= before) {
      throw untrusted(`a page cursor (next) ${next === before ? 'repeats' : 'goes forward'}`);
    }
    if (next !== null && next < oldest) throw untrusted(`a page cursor (next) before ${oldest}`);
    first = next ?? oldest;
    const last = first + events.length - 1;
    if (events.length > 0 && (last >= before || last > count)) {
      throw untrusted(
        `events at ${first} to ${last}, for the ones before ${before} in a log of ${count}`,
      );
    }
  }
  const page = {
    events: events as LoggedEvent[],
    count,
    oldest,
    next: first > oldest ? first : null,
    positions: events.map((_, index) => first + index),
  };
  // Not enumerable: a copy or a deepEqual of the page sees its data only.
  Object.defineProperty(page, 'toJSON', { value: () => answer });
  return page as EventPage;
}
