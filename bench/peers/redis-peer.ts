/**
 * The peer on Redis: Fastify + ioredis in front of a redis-server that the
 * bench starts with `appendonly yes` and `appendfsync always` (every write
 * fsynced before its answer), a `MULTI` a write (the session, its place in
 * creation order and its event together). REDIS_PORT names the server.
 *
 *   s:<id>     a session's JSON          sessions   ids by creation (a sorted set)
 *   events     the event lines (a list)  counters   the counters (a hash)
 *
 * An update reads the session, then writes it back with its event in one
 * MULTI: the last write wins (as most such apps are written; `WATCH` would
 * retry under contention).
 */
import { Redis } from 'ioredis';
import { type PeerSession, type PeerStore, seedEvents, servePeer } from './peer-app.js';

const redis = new Redis({ port: Number(process.env.REDIS_PORT ?? 6379), host: '127.0.0.1' });
await redis.hincrby('counters', 'startup_count', 1);
const seeded = seedEvents();
for (let i = 0; i < seeded.length; i += 1000)
  await redis.rpush('events', ...seeded.slice(i, i + 1000));

const store: PeerStore = {
  async counters() {
    const [counters, live] = await Promise.all([
      redis.hgetall('counters'),
      redis.zcard('sessions'),
    ]);
    const numbers: Record<string, number> = {
      startup_count: 0,
      crash_count: 0,
      total_sessions: 0,
      total_requests: 0,
    };
    for (const [key, value] of Object.entries(counters)) numbers[key] = Number(value);
    numbers.live_sessions = live;
    return numbers;
  },
  async create(session, event) {
    const seq = await redis.incr('seq');
    await redis
      .multi()
      .set(`s:${session.id}`, JSON.stringify(session))
      .zadd('sessions', seq, session.id)
      .rpush('events', event)
      .hincrby('counters', 'total_sessions', 1)
      .exec();
  },
  async get(id) {
    return redis.get(`s:${id}`);
  },
  async update(id, change, event) {
    const json = await redis.get(`s:${id}`);
    if (json === null) return null;
    const updated = change(JSON.parse(json) as PeerSession);
    await redis.multi().set(`s:${id}`, JSON.stringify(updated)).rpush('events', event).exec();
    return updated;
  },
  async remove(id, event) {
    const done = await redis.multi().del(`s:${id}`).zrem('sessions', id).exec();
    if (done?.[0]?.[1] !== 1) return false;
    await redis.rpush('events', event);
    return true;
  },
  async list() {
    const ids = await redis.zrange('sessions', 0, -1);
    const sessions: string[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const batch = await redis.mget(...ids.slice(i, i + 1000).map((id) => `s:${id}`));
      for (const json of batch) if (json !== null) sessions.push(json);
    }
    return sessions;
  },
  async events(limit) {
    const [lines, count] = await Promise.all([
      redis.lrange('events', -limit, -1),
      redis.llen('events'),
    ]);
    return { lines, count };
  },
};

await servePeer(store);
