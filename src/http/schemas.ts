/**
 * The answers' shapes, each described once (TypeBox): Fastify serialises each
 * answer with its schema (fixed key order, compact and fast; the wire format
 * is the original's), the handlers are typed by it, and the OpenAPI document
 * is built from it. The session's own shapes live in domain/schemas.ts; the
 * ones the document names (`components`) carry an `$id` here, are added to
 * the app once (addComponents) and are referred to by routes with Type.Ref.
 */
import { type SchemaOptions, type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { SEARCH_SCAN_LIMIT } from '../domain/page.js';
import {
  SessionInputSchema as DomainSessionInputSchema,
  SessionSchema as DomainSessionSchema,
  type JsonObject,
} from '../domain/schemas.js';

const SESSION_EXAMPLE = {
  id: '3f2c9a4e-8b1d-4c6f-9e2a-7d5b1c0e4f6a',
  name: 'alice',
  data: { plan: 'pro', cart: [1, 2] },
  created_at: '2026-01-02T10:00:00Z',
  last_active: '2026-01-02T10:05:00Z',
  access_count: 1,
};

const EVENT_EXAMPLE = {
  ts: 1767348000.123,
  time: '2026-01-02T10:00:00Z',
  event: 'session_created',
  container: 'web-1',
  session_id: SESSION_EXAMPLE.id,
  name: 'alice',
};

/** A session id: a lower-case UUID (any other text is simply not found). */
export const SessionIdSchema = Type.String({
  format: 'uuid',
  description: 'a lower-case UUID',
  examples: [SESSION_EXAMPLE.id],
});

/** A session as the document names it (the domain's shape, its id a UUID). */
export const SessionSchema = Type.Object(
  { ...DomainSessionSchema.properties, id: SessionIdSchema },
  { $id: 'Session', examples: [SESSION_EXAMPLE] },
);

/** The body of a create, an update or a merge patch. */
export const SessionInputSchema = Type.Object(
  {
    ...DomainSessionInputSchema.properties,
    data: Type.Optional(
      Type.Unsafe<JsonObject>({
        type: 'object',
        additionalProperties: true,
        description: 'any JSON object; in a PATCH, null removes a key',
      }),
    ),
  },
  {
    $id: 'SessionInput',
    description: 'each field optional; others are ignored',
    examples: [{ name: 'alice', data: { plan: 'pro', cart: [1, 2] } }],
  },
);

/** A page of sessions (GET /sessions?limit=…): `next` is the cursor of the next page, or null. */
export const SessionPageSchema = Type.Object(
  {
    sessions: Type.Array(Type.Ref(SessionSchema)),
    count: Type.Integer({ description: 'sessions on this page' }),
    next: Type.Unsafe<string | null>({
      type: ['string', 'null'],
      description: 'the cursor of the next page (pass it as after=), null on the last page',
    }),
    scanned: Type.Optional(
      Type.Integer({
        description: `with q: how many sessions this page looked at (at most ${SEARCH_SCAN_LIMIT}) to find its matches`,
      }),
    ),
  },
  {
    $id: 'SessionPage',
    examples: [{ sessions: [SESSION_EXAMPLE], count: 1, next: 'WyIyMDI2LTAxLTAyIiwiM2YyYyJd' }],
  },
);
export type SessionPage = Static<typeof SessionPageSchema>;

/** The original's whole listing (GET /sessions with no parameters), streamed. */
export const SessionListingSchema = Type.Object(
  {
    sessions: Type.Array(Type.Ref(SessionSchema)),
    count: Type.Integer({ description: 'every live session' }),
  },
  { $id: 'SessionListing', examples: [{ sessions: [SESSION_EXAMPLE], count: 1 }] },
);
export type SessionListing = Static<typeof SessionListingSchema>;

/** One line of the event log: the original's four keys, then the kind's own. */
export const EventSchema = Type.Object(
  {
    ts: Type.Number({ description: 'epoch seconds' }),
    time: Type.String({ description: 'UTC, YYYY-MM-DDTHH:MM:SSZ' }),
    event: Type.String({ description: 'the kind: startup, session_created, …' }),
    container: Type.String({ description: 'the instance that logged it' }),
  },
  { $id: 'Event', additionalProperties: true, examples: [EVENT_EXAMPLE] },
);
export type LoggedEvent = Static<typeof EventSchema>;

/** GET /events: `next` (only with before=) is the `before` of the page older still. */
export const EventPageSchema = Type.Object(
  {
    events: Type.Array(Type.Ref(EventSchema), { description: 'oldest first' }),
    count: Type.Integer({
      description: 'every event ever logged (the position of the last), the dropped ones too',
    }),
    oldest: Type.Optional(
      Type.Integer({
        description:
          'once the retention policy dropped events (EVENTS_RETAIN_*): the position of the oldest kept',
      }),
    ),
    next: Type.Optional(
      Type.Unsafe<number | null>({
        type: ['integer', 'null'],
        description: 'with before=: the before of the older page, null at the oldest event kept',
      }),
    ),
  },
  { $id: 'EventPage', examples: [{ events: [EVENT_EXAMPLE], count: 12, next: 11 }] },
);
export type EventPage = Static<typeof EventPageSchema>;

export const ErrorSchema = Type.Object(
  {
    error: Type.String({
      description:
        'a stable code (each answer of each operation lists the ones it can carry; docs/api.md, Errors, lists them all)',
    }),
    message: Type.String({ description: 'what went wrong, for people' }),
    oldest: Type.Optional(
      Type.Integer({
        description: 'with `events_dropped` (410): the position of the oldest event kept',
      }),
    ),
  },
  {
    $id: 'Error',
    examples: [{ error: 'not_found', message: 'Session 3f2c9a4e-… not found.' }],
  },
);
export type ErrorAnswer = Static<typeof ErrorSchema>;

/** The shapes the document names, each under its `$id` (added to the app before any route). */
const COMPONENTS: readonly TSchema[] = [
  SessionSchema,
  SessionInputSchema,
  SessionPageSchema,
  SessionListingSchema,
  EventSchema,
  EventPageSchema,
  ErrorSchema,
];

export function addComponents(app: FastifyInstance): void {
  for (const schema of COMPONENTS) app.addSchema(schema);
}

/**
 * A reference to a named shape, with its examples beside it: the document
 * shows them on the body or answer itself, where the reference page takes
 * them from (rather than making up `additionalProp1`).
 */
export function named<T extends TSchema>(schema: T, options: SchemaOptions = {}) {
  return Type.Ref(schema, { examples: schema.examples, ...options });
}

export const IdParamsSchema = Type.Object({ id: SessionIdSchema });
export type IdParams = Static<typeof IdParamsSchema>;

export const DeletedSchema = Type.Object(
  { status: Type.Literal('deleted'), id: SessionIdSchema },
  { examples: [{ status: 'deleted', id: SESSION_EXAMPLE.id }] },
);
export type Deleted = Static<typeof DeletedSchema>;

// An enum, not a union of literals: fast-json-stringify serialises a union
// (anyOf) by validating each answer against every branch first.
const HealthStatus = Type.Unsafe<'ok' | 'degraded'>({ type: 'string', enum: ['ok', 'degraded'] });
const Problems = Type.Array(Type.String(), {
  description: 'why the service is degraded, in words; empty when it is not',
});

/** The original's keys (status, container, uptime), then ours. */
export const HealthSchema = Type.Object(
  {
    status: HealthStatus,
    container: Type.String(),
    uptime: Type.Number(),
    container_id: Type.String(),
    uptime_seconds: Type.Number(),
    problems: Problems,
  },
  {
    examples: [
      {
        status: 'ok',
        container: 'web-1',
        uptime: 42.5,
        container_id: 'web-1',
        uptime_seconds: 42.5,
        problems: [],
      },
    ],
  },
);
export type Health = Static<typeof HealthSchema>;

export const StateSchema = Type.Object(
  {
    container_id: Type.String(),
    uptime_seconds: Type.Number(),
    requests_this_instance: Type.Integer(),
    startup_count: Type.Integer(),
    crash_count: Type.Integer(),
    total_sessions: Type.Integer(),
    total_requests: Type.Integer(),
    live_sessions: Type.Integer(),
    live_replicas: Type.Integer({ description: 'replicas serving this data now (ours)' }),
    expired_sessions: Type.Integer({
      description: 'sessions the sweep removed once they expired (ours; durable)',
    }),
    status: HealthStatus,
    problems: Problems,
  },
  {
    examples: [
      {
        container_id: 'web-1',
        uptime_seconds: 42.5,
        requests_this_instance: 17,
        startup_count: 3,
        crash_count: 1,
        total_sessions: 12,
        total_requests: 230,
        live_sessions: 9,
        live_replicas: 1,
        expired_sessions: 4,
        status: 'ok',
        problems: [],
      },
    ],
  },
);
export type State = Static<typeof StateSchema>;

export const CrashAnswerSchema = Type.Object(
  { status: Type.Literal('crashing'), crash_count: Type.Integer() },
  { examples: [{ status: 'crashing', crash_count: 2 }] },
);
export type CrashAnswer = Static<typeof CrashAnswerSchema>;
