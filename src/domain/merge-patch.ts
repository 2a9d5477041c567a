/**
 * JSON values compared and merged as a PATCH needs them: RFC 7396 JSON
 * Merge Patch (a copy, or in place), and a comparison that says whether two
 * values serialise alike. Keys are defined, never assigned, so a
 * `__proto__` key is data like any other.
 */
import type { JsonObject } from './schemas.js';

/** Whether `value` is a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether two JSON values serialize alike: equal values, object keys in the
 * same order. Stops at the first difference, allocating nothing.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i] as string;
    if (key !== keysB[i]) return false;
    if (!sameJson((a as JsonObject)[key], (b as JsonObject)[key])) return false;
  }
  return true;
}

/**
 * RFC 7396 JSON Merge Patch: an object patch merges key by key (`null`
 * removes a key, an object merges into an object, anything else replaces);
 * any other patch replaces the target. Keys are defined, never assigned, so
 * a `__proto__` key is data like any other.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isJsonObject(patch)) return patch;
  const result: Record<string, unknown> = {};
  if (isJsonObject(target)) {
    for (const [key, value] of Object.entries(target)) defineKey(result, key, value);
  }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else
      defineKey(
        result,
        key,
        mergePatch(Object.hasOwn(result, key) ? result[key] : undefined, value),
      );
  }
  return result;
}

/**
 * mergePatch of an object patch into an object target, in place: O(the
 * patch), whatever the target holds. Objects taken from the patch are
 * copied (arrays are shared: a merge patch never merges into one).
 */
export function mergeInto(target: JsonObject, patch: JsonObject): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
    } else if (isJsonObject(value)) {
      const existing = Object.hasOwn(target, key) ? target[key] : undefined;
      if (isJsonObject(existing)) {
        mergeInto(existing, value);
      } else {
        const fresh: JsonObject = {};
        mergeInto(fresh, value);
        defineKey(target, key, fresh);
      }
    } else {
      defineKey(target, key, value);
    }
  }
}

function defineKey(object: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
