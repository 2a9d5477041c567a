/**
 * The answers' shapes, each described once (TypeBox): Fastify serialises each
 * answer with its schema (fixed key order, compact and fast; the wire format
 * is the original's), the handlers are typed by it, and the OpenAPI document
 * can be built from it. The session's own shapes live in domain/schemas.ts.
 */
import { type Static, Type } from '@sinclair/typebox';

import { SessionSchema } from '../domain/schemas.js';

export { SessionSchema };

/** A page of sessions (GET /sessions?limit=…): `next` is the cursor of the next page, or null. */
export const SessionPageSchema = Type.Object({
  sessions: Type.Array(SessionSchema),
  count: Type.Integer({ description: 'sessions on this page' }),
  next: Type.Unsafe<string | null>({
    type: ['string', 'null'],
    description: 'the cursor of the next page (pass it as after=), null on the last page',
  }),
});
export type SessionPage = Static<typeof SessionPageSchema>;

/** The original's whole listing (GET /sessions with no parameters), streamed. */
export const SessionListingSchema = Type.Object({
  sessions: Type.Array(SessionSchema),
  count: Type.Integer({ description: 'every live session' }),
});
export type SessionListing = Static<typeof SessionListingSchema>;

/** One line of the event log: the original's four keys, then the kind's own. */
export const EventSchema = Type.Object(
  {
    ts: Type.Number({ description: 'epoch seconds' }),
    time: Type.String({ description: 'UTC, YYYY-MM-DDTHH:MM:SSZ' }),
    event: Type.String({ description: 'the kind: startup, session_created, …' }),
    container: Type.String({ description: 'the instance that logged it' }),
  },
  { additionalProperties: true },
);
export type LoggedEvent = Static<typeof EventSchema>;

/** GET /events: `next` (only with before=) is the `before` of the page older still. */
export const EventPageSchema = Type.Object({
  events: Type.Array(EventSchema, { description: 'oldest first' }),
  count: Type.Integer({ description: 'every event in the log' }),
  next: Type.Optional(
    Type.Unsafe<number | null>({
      type: ['integer', 'null'],
      description: 'with before=: the before of the older page, null at the start of the log',
    }),
  ),
});
export type EventPage = Static<typeof EventPageSchema>;

export const ErrorSchema = Type.Object({
  error: Type.String({
    description:
      'a stable code: not_found, invalid_input, storage_full, too_busy, stopping, … (docs/api.md, Errors, lists them all)',
  }),
  message: Type.String({ description: 'what went wrong, for people' }),
});
export type ErrorAnswer = Static<typeof ErrorSchema>;

export const IdParamsSchema = Type.Object({ id: Type.String() });
export type IdParams = Static<typeof IdParamsSchema>;

export const DeletedSchema = Type.Object({ status: Type.Literal('deleted'), id: Type.String() });
export type Deleted = Static<typeof DeletedSchema>;

// An enum, not a union of literals: fast-json-stringify serialises a union
// (anyOf) by validating each answer against every branch first.
const HealthStatus = Type.Unsafe<'ok' | 'degraded'>({ type: 'string', enum: ['ok', 'degraded'] });
const Problems = Type.Array(Type.String(), {
  description: 'why the service is degraded, in words; empty when it is not',
});

/** The original's keys (status, container, uptime), then ours. */
export const HealthSchema = Type.Object({
  status: HealthStatus,
  container: Type.String(),
  uptime: Type.Number(),
  container_id: Type.String(),
  uptime_seconds: Type.Number(),
  problems: Problems,
});
export type Health = Static<typeof HealthSchema>;

export const StateSchema = Type.Object({
  container_id: Type.String(),
  uptime_seconds: Type.Number(),
  requests_this_instance: Type.Integer(),
  startup_count: Type.Integer(),
  crash_count: Type.Integer(),
  total_sessions: Type.Integer(),
  total_requests: Type.Integer(),
  live_sessions: Type.Integer(),
  live_replicas: Type.Integer({ description: 'replicas serving this data now (ours)' }),
  status: HealthStatus,
  problems: Problems,
});
export type State = Static<typeof StateSchema>;

export const CrashAnswerSchema = Type.Object({
  status: Type.Literal('crashing'),
  crash_count: Type.Integer(),
});
export type CrashAnswer = Static<typeof CrashAnswerSchema>;
