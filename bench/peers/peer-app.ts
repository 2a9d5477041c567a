/**
 * What a user would build instead of this service (issue 34): a plain
 * Fastify app with the original's API in front of a database, one store a
 * peer. No guards, no counting of requests, no metrics: what such an app
 * does per request is route, parse, query, answer. Each peer module
 * (sqlite-peer.ts, redis-peer.ts) gives its store and starts it; the bench
 * runs them as processes of their own (PORT, or 0: any; it prints
 * `{"msg":"listening","port":N}` as the service does).
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

export interface PeerSession {
  id: string;
  name: string;
  data: Record<string, unknown>;
  created_at: string;
  last_active: string;
  access_count: number;
}

/** What a peer's database must do; each write is one transaction with its event. */
export interface PeerStore {
  counters(): Promise<Record<string, number>>;
  create(session: PeerSession, event: string): Promise<void>;
  /** The session's JSON text, or null. */
  get(id: string): Promise<string | null>;
  /** Applies `change` to the session and logs `event`, in one transaction; the new session, or null. */
  update(
    id: string,
    change: (session: PeerSession) => PeerSession,
    event: string,
  ): Promise<PeerSession | null>;
  remove(id: string, event: string): Promise<boolean>;
  /** Every session's JSON text, in creation order. */
  list(): Promise<string[]>;
  /** The last `limit` event lines, oldest first, and the count of all. */
  events(limit: number): Promise<{ lines: string[]; count: number }>;
}

const container = randomUUID().slice(0, 8);
const started = performance.now();

function now(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

function event(kind: string, extra: Record<string, unknown>): string {
  return JSON.stringify({ ts: Date.now() / 1000, time: now(), event: kind, container, ...extra });
}

function body(raw: unknown): { name?: unknown; data?: unknown } {
  return typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
}

export async function servePeer(store: PeerStore): Promise<void> {
  const app = Fastify({ logger: false });
  const uptime = () => (performance.now() - started) / 1000;
  app.get('/health', async () => ({ status: 'ok', container, uptime: uptime() }));
  app.get('/state', async () => {
    const counters = await store.counters();
    return { container_id: container, uptime_seconds: uptime(), ...counters };
  });
  app.post('/sessions', async (request, reply) => {
    const input = body(request.body);
    const time = now();
    const session: PeerSession = {
      id: randomUUID(),
      name: typeof input.name === 'string' ? input.name : 'unnamed',
      data: typeof input.data === 'object' && input.data !== null ? (input.data as never) : {},
      created_at: time,
      last_active: time,
      access_count: 0,
    };
    await store.create(
      session,
      event('session_created', { session_id: session.id, name: session.name }),
    );
    return reply.code(201).send(session);
  });
  app.get('/sessions', async (_request, reply) => {
    const sessions = await store.list();
    return reply
      .type('application/json')
      .send(`{"sessions":[${sessions.join(',')}],"count":${sessions.length}}`);
  });
  app.get<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const json = await store.get(request.params.id);
    if (json === null) return reply.code(404).send({ error: 'not_found' });
    return reply.type('application/json').send(json);
  });
  app.put<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const input = body(request.body);
    const { id } = request.params;
    const updated = await store.update(
      id,
      (session) => ({
        ...session,
        ...(typeof input.name === 'string' ? { name: input.name } : {}),
        ...(typeof input.data === 'object' && input.data !== null
          ? { data: input.data as never }
          : {}),
        last_active: now(),
        access_count: session.access_count + 1,
      }),
      event('session_updated', { session_id: id }),
    );
    if (updated === null) return reply.code(404).send({ error: 'not_found' });
    return updated;
  });
  app.delete<{ Params: { id: string } }>('/sessions/:id', async (request, reply) => {
    const { id } = request.params;
    if (!(await store.remove(id, event('session_deleted', { session_id: id })))) {
      return reply.code(404).send({ error: 'not_found' });
    }
    return { status: 'deleted', id };
  });
  app.get<{ Querystring: { limit?: string } }>('/events', async (request, reply) => {
    const limit = Math.min(10_000, Math.max(1, Number(request.query.limit ?? 50) || 50));
    const { lines, count } = await store.events(limit);
    return reply.type('application/json').send(`{"events":[${lines.join(',')}],"count":${count}}`);
  });
  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port })}\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** `SEED_EVENTS` filler events, as the bench's `GET /events` workloads ask. */
export function seedEvents(): string[] {
  const count = Number(process.env.SEED_EVENTS ?? 0);
  return Array.from({ length: count }, (_, i) => event('startup', { startup_count: i + 1 }));
}
