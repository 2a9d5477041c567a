/**
 * A session as the stores hold and send it: its compact JSON, and what the
 * stores read from that JSON without parsing it all (a search reads names, a
 * boot reads when each session expires, whatever the data weighs).
 */
import type { Session } from './schemas.js';

/**
 * A session as compact JSON, exactly as `JSON.stringify` writes it (keys in
 * the canonical order): what the stores hand to the listings and pages, so a
 * session held as JSON is sent without being parsed and written again.
 */
export type SessionJson = string;

const ID_KEY = '{"id":"';
const NAME_KEY = '","name":"';

/**
 * The name in a session's JSON, read without parsing the rest (a search
 * reads names only, whatever the data weighs): in the canonical key order
 * the name is the string right after the id. Parses it all if the JSON is
 * not in that form.
 */
export function nameInSessionJson(json: SessionJson): string {
  const idEnd = json.startsWith(ID_KEY) ? json.indexOf('"', ID_KEY.length) : -1;
  if (idEnd !== -1 && json.startsWith(NAME_KEY, idEnd)) {
    const start = idEnd + NAME_KEY.length - 1; // the name's opening quote
    for (let at = start + 1; ; at++) {
      at = json.indexOf('"', at);
      if (at === -1) break;
      let backslashes = 0;
      while (json.charCodeAt(at - 1 - backslashes) === 0x5c) backslashes++;
      if (backslashes % 2 === 0) return JSON.parse(json.slice(start, at + 1)) as string;
    }
  }
  return (JSON.parse(json) as Session).name;
}

const ACCESS_COUNT_KEY = ',"access_count":';
const EXPIRES_AT_KEY = ',"expires_at":"';

/**
 * When a session expires (epoch ms) from its JSON, read without parsing it
 * (a boot reads a million sessions): in the canonical key order the
 * session's own access_count is the last one (after `data`, whatever `data`
 * holds), and `expires_at`, when it has one, comes right after its number.
 * Undefined when it never expires.
 */
export function expiresAtInSessionJson(json: SessionJson): number | undefined {
  const count = json.lastIndexOf(ACCESS_COUNT_KEY);
  if (count === -1) return undefined;
  let at = count + ACCESS_COUNT_KEY.length;
  while (at < json.length && json.charCodeAt(at) >= 0x30 && json.charCodeAt(at) <= 0x39) at++;
  if (!json.startsWith(EXPIRES_AT_KEY, at)) return undefined;
  const start = at + EXPIRES_AT_KEY.length;
  const ms = Date.parse(json.slice(start, start + 20));
  return Number.isNaN(ms) ? undefined : ms;
}
