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
  next: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
});

export const ErrorSchema = Type.Object({ error: Type.String(), message: Type.String() });

export const IdParamsSchema = Type.Object({ id: Type.String() });
export type IdParams = Static<typeof IdParamsSchema>;

export const DeletedSchema = Type.Object({ status: Type.Literal('deleted'), id: Type.String() });

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
