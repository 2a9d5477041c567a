/**
 * What a session costs to hold in memory, so that a limit can be put on it.
 * A body's byte size says little: 1 MiB of `[{},{},…]` is 349,000 objects,
 * about 27 MiB of heap. The footprint counts what V8 actually keeps: a fixed
 * cost per value and per key (measured: about 64 bytes for an empty object or
 * a key, 8 for a number), plus the characters of every string, two bytes
 * each where a string needs UTF-16. It errs on the generous side, so a budget
 * of footprints is a ceiling on the heap the sessions take.
 */
import { assertSessionKeys, type Session } from './schemas.js';

/** Heap bytes counted for each value (object, array, string, number, …) and each key. */
export const NODE_BYTES = 80;
/** What a session costs before its name and data: the object, its id and timestamps, the map entry. */
export const SESSION_OVERHEAD_BYTES = 512;
/**
 * What a session that expires costs besides: its three keys, and the file
 * store's place for it among the sessions by expiry (a set entry, and its
 * second's bucket and heap slot when it has a second of its own: about 200
 * bytes measured).
 */
export const EXPIRY_BYTES = 256;

export interface Footprint {
  /** Values and keys, containers included. */
  nodes: number;
  /** The estimated heap bytes. */
  bytes: number;
}

function stringBytes(text: string): number {
  // V8 keeps a string in one byte a character unless some character needs two.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) return text.length * 2;
  }
  return text.length;
}

/**
 * Measures a parsed JSON value. Recursion is safe: bodies are at most
 * MAX_NESTING deep before they are parsed, and stored sessions were bodies.
 */
export function measureJson(value: unknown): Footprint {
  let nodes = 0;
  let bytes = 0;
  const visit = (node: unknown): void => {
    nodes++;
    bytes += NODE_BYTES;
    if (typeof node === 'string') {
      bytes += stringBytes(node);
    } else if (Array.isArray(node)) {
      for (const item of node) visit(item);
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, item] of Object.entries(node)) {
        nodes++;
        bytes += NODE_BYTES + stringBytes(key);
        visit(item);
      }
    }
  };
  visit(value);
  return { nodes, bytes };
}

/**
 * What each of a session's fields costs beyond SESSION_OVERHEAD_BYTES: null
 * for a field of bounded size (counted in the overhead), else how to measure
 * it. Every field of SessionSchema has an entry (a type error otherwise).
 */
export const FIELD_BYTES: {
  readonly [K in keyof Session]-?: ((value: Session[K]) => number) | null;
} = {
  id: null,
  name: stringBytes,
  data: (data) => measureJson(data).bytes,
  created_at: null,
  last_active: null,
  access_count: null,
  expires_at: (value) => (value === undefined ? 0 : EXPIRY_BYTES),
  ends_at: null,
  idle_seconds: null,
};
assertSessionKeys('footprint.ts FIELD_BYTES', Object.keys(FIELD_BYTES));

/** The fields whose size varies, each with its measure. */
const MEASURED = Object.entries(FIELD_BYTES).filter(([, measure]) => measure !== null) as [
  keyof Session,
  (value: unknown) => number,
][];

/** The footprint of a stored session: what holding it in memory costs. */
export function sessionFootprint(session: Session): number {
  let bytes = SESSION_OVERHEAD_BYTES;
  for (const [key, measure] of MEASURED) bytes += measure(session[key]);
  return bytes;
}

/** How much an update changes a session's footprint; a field it kept (its data, say) is not walked. */
export function footprintGrowth(before: Session, after: Session): number {
  let growth = 0;
  for (const [key, measure] of MEASURED) {
    if (after[key] !== before[key]) growth += measure(after[key]) - measure(before[key]);
  }
  return growth;
}
