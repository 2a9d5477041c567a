// @ts-check
// The event log as it arrives over the page's stream (live.js), newest first.
import { element, hueOf } from './dom.js';

/** @typedef {import('./api.js').ServiceEvent} ServiceEvent */

const TIMELINE_MAX = 200;
const BASE_KEYS = new Set(['ts', 'time', 'event', 'container']);
const NOTABLE = new Set([
  'startup',
  'shutdown',
  'crash_triggered',
  'crash_detected',
  'log_repaired',
  'session_quarantined',
  'stats_recovered',
  'journal_replayed',
  'session_adopted',
]);

/**
 * @param {string} tag
 * @param {string} className
 * @param {string} text
 */
function span(tag, className, text) {
  return Object.assign(document.createElement(tag), { className, textContent: text });
}

/**
 * Shows an event at the top of the log (at most TIMELINE_MAX are kept).
 * @param {ServiceEvent} event
 */
export function addToTimeline(event) {
  const item = document.createElement('li');
  item.dataset.event = event.event;
  if (NOTABLE.has(event.event)) item.classList.add('notable');
  item.style.setProperty('--hue', String(hueOf(event.container)));
  const extras = Object.entries(event)
    .filter(([key]) => !BASE_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  item.append(
    // The time of day; the whole timestamp is its title.
    Object.assign(document.createElement('time'), {
      textContent: event.time.slice(11, 19),
      dateTime: event.time,
      title: event.time,
    }),
    span('span', 'container', event.container),
    span('span', 'kind', event.event),
    span('span', 'extras', extras),
  );
  const list = element('timeline');
  list.prepend(item);
  while (list.children.length > TIMELINE_MAX) list.lastElementChild?.remove();
}
