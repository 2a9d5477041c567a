// Candidate C of docs/design/storage.md: SQLite (node:sqlite, Node 22.5+) as the session store.
// Run: node --no-warnings docs/design/sqlite-candidate.mjs [sessions]; it writes /tmp/sqlite-bench.db.
import { DatabaseSync } from 'node:sqlite';
import { randomUUID } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
const N = Number(process.argv[2] ?? 1_000_000);
const path = '/tmp/sqlite-bench.db';
rmSync(path, { force: true }); rmSync(path + '-wal', { force: true }); rmSync(path + '-shm', { force: true });
let db = new DatabaseSync(path);
db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE sessions (seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, json TEXT NOT NULL)");
const ids = [];
let t = performance.now();
const insert = db.prepare('INSERT INTO sessions (id, json) VALUES (?, ?)');
db.exec('BEGIN');
for (let i = 0; i < N; i++) {
  const id = randomUUID(); ids.push(id);
  insert.run(id, JSON.stringify({ id, name: `user-${i}`, data: { note: 'benchmark session', plan: i % 3 ? 'free' : 'pro', visits: i % 17 }, created_at: '2026-02-21T10:00:00Z', last_active: '2026-02-21T10:00:00Z', access_count: 0 }));
}
db.exec('COMMIT');
console.log('load', ((performance.now() - t) / 1000).toFixed(2), 's; file', (statSync(path).size / 2 ** 20).toFixed(0), 'MiB');
db.close();
t = performance.now();
db = new DatabaseSync(path);
const count = db.prepare('SELECT count(*) AS n FROM sessions').get().n;
console.log('reopen + count', ((performance.now() - t) / 1000).toFixed(3), 's', count, 'rss MiB', (process.memoryUsage().rss / 2 ** 20).toFixed(0));
db.exec('PRAGMA synchronous=FULL');
const get = db.prepare('SELECT json FROM sessions WHERE id = ?');
const update = db.prepare('UPDATE sessions SET json = ? WHERE id = ?');
const M = 3000;
t = performance.now();
for (let i = 0; i < M; i++) {
  const id = ids[Math.floor(Math.random() * ids.length)];
  const s = JSON.parse(get.get(id).json); s.access_count++; s.data = { step: 1 };
  update.run(JSON.stringify(s), id); // autocommit: one fsync of the WAL each
}
console.log('durable single-row updates', (M / ((performance.now() - t) / 1000)).toFixed(0), '/s');
t = performance.now();
const page = db.prepare('SELECT json FROM sessions WHERE seq > ? ORDER BY seq LIMIT 100');
for (let i = 0; i < 200; i++) page.all(Math.floor(Math.random() * N));
console.log('page of 100', ((performance.now() - t) / 200).toFixed(2), 'ms');
