/**
 * The peer on an embedded database: Fastify + `node:sqlite`, as a user would
 * set it up for durability: WAL, `synchronous=FULL` (every commit fsynced),
 * a transaction a write (the session and its event together). The database
 * is DATA_DIR/peer.sqlite. node:sqlite is synchronous: each statement, and
 * each commit's fsync, holds the event loop.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type PeerSession, type PeerStore, seedEvents, servePeer } from './peer-app.js';

const db = new DatabaseSync(join(process.env.DATA_DIR ?? '.', 'peer.sqlite'));
db.exec(`
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = FULL;
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, json TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS sessions_seq ON sessions (seq);
  CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY, line TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT OR IGNORE INTO counters VALUES ('startup_count', 0), ('crash_count', 0),
    ('total_sessions', 0), ('total_requests', 0);
  UPDATE counters SET value = value + 1 WHERE name = 'startup_count';
`);

const statements = {
  insertSession: db.prepare(
    'INSERT INTO sessions (id, seq, json) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM sessions), ?)',
  ),
  getSession: db.prepare('SELECT json FROM sessions WHERE id = ?'),
  setSession: db.prepare('UPDATE sessions SET json = ? WHERE id = ?'),
  deleteSession: db.prepare('DELETE FROM sessions WHERE id = ?'),
  listSessions: db.prepare('SELECT json FROM sessions ORDER BY seq'),
  countSessions: db.prepare('SELECT count(*) AS n FROM sessions'),
  logEvent: db.prepare('INSERT INTO events (line) VALUES (?)'),
  lastEvents: db.prepare('SELECT line FROM events ORDER BY position DESC LIMIT ?'),
  eventCount: db.prepare('SELECT coalesce(max(position), 0) AS n FROM events'),
  counters: db.prepare('SELECT name, value FROM counters'),
  created: db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'total_sessions'"),
};

function transaction<T>(work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

const seeded = seedEvents();
if (seeded.length > 0) {
  transaction(() => {
    for (const line of seeded) statements.logEvent.run(line);
  });
}

const store: PeerStore = {
  async counters() {
    const counters: Record<string, number> = {};
    for (const row of statements.counters.all() as { name: string; value: number }[]) {
      counters[row.name] = row.value;
    }
    counters.live_sessions = (statements.countSessions.get() as { n: number }).n;
    return counters;
  },
  async create(session, event) {
    transaction(() => {
      statements.insertSession.run(session.id, JSON.stringify(session));
      statements.logEvent.run(event);
      statements.created.run();
    });
  },
  async get(id) {
    const row = statements.getSession.get(id) as { json: string } | undefined;
    return row?.json ?? null;
  },
  async update(id, change, event) {
    return transaction(() => {
      const row = statements.getSession.get(id) as { json: string } | undefined;
      if (row === undefined) return null;
      const updated = change(JSON.parse(row.json) as PeerSession);
      statements.setSession.run(JSON.stringify(updated), id);
      statements.logEvent.run(event);
      return updated;
    });
  },
  async remove(id, event) {
    return transaction(() => {
      if (statements.deleteSession.run(id).changes === 0) return false;
      statements.logEvent.run(event);
      return true;
    });
  },
  async list() {
    return (statements.listSessions.all() as { json: string }[]).map((row) => row.json);
  },
  async events(limit) {
    const lines = (statements.lastEvents.all(limit) as { line: string }[])
      .map((row) => row.line)
      .reverse();
    return { lines, count: (statements.eventCount.get() as { n: number }).n };
  },
};

await servePeer(store);
