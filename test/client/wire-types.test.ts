/**
 * The client's plain answer types (src/client/wire.ts) are the schemas'
 * types, shape for shape: the client package carries its own types so its
 * users need no TypeBox, and this file is what keeps the two from drifting
 * (it does not compile, so neither `npm run build` nor `npm run check`
 * passes, once a schema and its plain type differ).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Static } from '@sinclair/typebox';
import type * as Wire from '../../src/client/wire.js';
import type { JsonObject } from '../../src/domain/schemas.js';
import type {
  CrashAnswerSchema,
  DeletedSchema,
  EventPageSchema,
  EventSchema,
  HealthSchema,
  SessionInputSchema,
  SessionListingSchema,
  SessionPageSchema,
  SessionSchema,
  StateSchema,
} from '../../src/http/schemas.js';

/** True when each type is assignable to the other: the same keys, each as optional and of the same type. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const shapes = {
  JsonObject: true satisfies Same<Wire.JsonObject, JsonObject>,
  Session: true satisfies Same<Wire.Session, Static<typeof SessionSchema>>,
  SessionInput: true satisfies Same<Wire.SessionInput, Static<typeof SessionInputSchema>>,
  SessionPage: true satisfies Same<Wire.SessionPage, Static<typeof SessionPageSchema>>,
  SessionListing: true satisfies Same<Wire.SessionListing, Static<typeof SessionListingSchema>>,
  LoggedEvent: true satisfies Same<Wire.LoggedEvent, Static<typeof EventSchema>>,
  EventPageAnswer: true satisfies Same<Wire.EventPageAnswer, Static<typeof EventPageSchema>>,
  Health: true satisfies Same<Wire.Health, Static<typeof HealthSchema>>,
  State: true satisfies Same<Wire.State, Static<typeof StateSchema>>,
  Deleted: true satisfies Same<Wire.Deleted, Static<typeof DeletedSchema>>,
  CrashAnswer: true satisfies Same<Wire.CrashAnswer, Static<typeof CrashAnswerSchema>>,
};

// What the check catches: a key missing, one made optional, one of another type.
// @ts-expect-error: a key missing is another shape
true satisfies Same<Wire.Session, Omit<Wire.Session, 'name'>>;
// @ts-expect-error: an optional key is another shape
true satisfies Same<Wire.State, Partial<Wire.State>>;
// @ts-expect-error: a key of another type is another shape
true satisfies Same<Wire.CrashAnswer, { status: 'crashing'; crash_count: string }>;

describe("the client's answer types", () => {
  it("are the schemas' types, each of them (checked when this file compiles)", () => {
    assert.equal(Object.keys(shapes).length, 11);
    assert.ok(Object.values(shapes).every((same) => same));
  });
});
