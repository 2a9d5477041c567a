/**
 * A session's shape is written once, in SessionSchema; everything that maps
 * its fields is checked against the schema's keys here, each by name. A field
 * added to the schema alone makes these tests fail, saying what lacks it: a
 * PostgreSQL column (migrations.ts), the codec, the footprint, the dashboard's
 * types; and a session with a value in every field must come back whole from
 * the file store, from the PostgreSQL store, and through `stateful migrate`
 * both ways (byte for byte on disk).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { FIELD_BYTES, sessionFootprint } from '../../src/domain/footprint.js';
import { SESSION_KEYS, type Session, SessionSchema } from '../../src/domain/schemas.js';
import { parseStoredSession } from '../../src/domain/stored-session.js';
import { exportToDataDirectory, importDataDirectory } from '../../src/migrate/transfer.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { formatSessionFile, sessionFileName } from '../../src/store/file/index.js';
import { SNAPSHOT_FORMAT } from '../../src/store/file/snapshot.js';
import { migrate } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import {
  SESSION_CODEC,
  SESSION_COLUMNS,
  type SessionRow,
  sessionParameters,
  toSession,
} from '../../src/store/postgres/session-codec.js';
import { describeOnPostgres } from '../helpers/postgres.js';
import { SESSION_KEYS as ORIGINAL_KEYS } from '../helpers/session-keys.js';
import { tempDir } from '../helpers/temp-dir.js';

type FieldSchema = { type?: string; pattern?: string; anyOf?: FieldSchema[] };

/**
 * A session with a value in every field of the schema, each unlike the
 * defaults and unlike the others (so a field dropped, defaulted or swapped
 * shows). A field that may be null gets a value of its other type. A field
 * of a type not known here fails loudly. Its times are decades ahead: an
 * expired session is hidden by every store, and this one must be seen.
 */
function sampleSession(): Session {
  const sample: Record<string, unknown> = {};
  SESSION_KEYS.forEach((key, i) => {
    const field = SessionSchema.properties[key] as FieldSchema;
    const schema = field.anyOf?.find((each) => each.type !== 'null') ?? field;
    if (key === 'id') sample[key] = randomUUID();
    else if (schema.type === 'string' && schema.pattern !== undefined) {
      sample[key] = `2096-0${1 + (i % 9)}-1${i % 10}T0${i % 10}:3${i % 10}:4${i % 10}Z`;
    } else if (schema.type === 'string') sample[key] = `the ${key}: é😀 "quoted" \\ ${i}`;
    else if (schema.type === 'integer') sample[key] = 40 + i;
    else if (schema.type === 'object') sample[key] = { z: [i, null, true], a: { key } };
    else throw new Error(`no sample value for "${key}" (a ${schema.type}): teach sampleSession`);
  });
  const session = parseStoredSession(sample);
  assert.ok(typeof session !== 'string', `the sample is not a valid session: ${session}`);
  return session;
}

/** Each field of `expected` in `actual`, named when it is not; then the key order. */
function assertWhole(actual: Session | undefined, expected: Session, where: string): void {
  assert.ok(actual !== undefined, `${where}: the session is gone`);
  for (const key of SESSION_KEYS) {
    assert.ok(Object.hasOwn(actual, key), `${where} lost the field "${key}"`);
    assert.deepEqual(actual[key], expected[key], `${where} changed the field "${key}"`);
  }
  assert.deepEqual(Object.keys(actual), SESSION_KEYS, `${where}: keys not in the schema's order`);
}

describe("a session's shape, from its one schema", () => {
  it("keeps the original's key order", () => {
    // The original wrote these keys in this order; the disk and wire bytes depend on it.
    assert.deepEqual(SESSION_KEYS.slice(0, ORIGINAL_KEYS.length), ORIGINAL_KEYS);
    const session = sampleSession();
    const shuffled = Object.fromEntries(Object.entries(session).reverse());
    assertWhole(parseStoredSession(shuffled) as Session, session, 'parseStoredSession');
  });

  it('maps every field of the schema to a PostgreSQL column, a footprint and a dashboard type', async () => {
    for (const key of SESSION_KEYS) {
      assert.ok(Object.hasOwn(SESSION_CODEC, key), `session-codec.ts maps no column for "${key}"`);
      assert.ok(
        Object.hasOwn(FIELD_BYTES, key),
        `footprint.ts FIELD_BYTES says nothing of "${key}"`,
      );
    }
    assert.equal(SESSION_COLUMNS, SESSION_KEYS.join(', '));
    // The dashboard's Session is the schema's own type, not a copy of its fields.
    const api = await readFile(new URL('../../../public/api.js', import.meta.url), 'utf8');
    assert.match(
      api,
      /@typedef \{import\('\.\.\/src\/domain\/schemas\.js'\)\.Session\} Session\b/,
      "public/api.js must take its Session type from src/domain/schemas.ts's",
    );
    assert.equal(
      api.match(/\}\s+Session\b/g)?.length,
      1,
      'public/api.js declares Session once, from the schema',
    );
  });

  it("has a file-store snapshot format of this shape's", () => {
    // A snapshot's lines are sessions as JSON, used as they are: a field every
    // session must have, added after one was written, would be missing from
    // every session it holds. A new SNAPSHOT_FORMAT makes a boot set the old
    // one aside and read the session files, which parseStoredSession completes
    // (STORED_FALLBACKS). An optional field (the expiry's) needs none: a
    // session without it is whole (it never expires).
    assert.deepEqual(
      { format: SNAPSHOT_FORMAT, required: SessionSchema.required },
      { format: 1, required: ORIGINAL_KEYS },
      "SessionSchema's required keys changed: bump SNAPSHOT_FORMAT (src/store/file/snapshot.ts), then this",
    );
  });

  it('encodes every field into its column and back, and refuses a key no column maps', () => {
    const session = sampleSession();
    const arrays = sessionParameters([session]);
    // What the pg client hands back: each column as text.
    const row = Object.fromEntries(SESSION_KEYS.map((key, i) => [key, String(arrays[i]?.[0])]));
    assertWhole(toSession(row as SessionRow), session, 'the PostgreSQL codec');
    assert.throws(
      () => sessionParameters([{ ...session, not_a_field: 'red' } as Session]),
      /"not_a_field", which no PostgreSQL column maps/,
    );
  });

  it('measures each field whose size varies', () => {
    const session = sampleSession();
    for (const key of SESSION_KEYS) {
      if (FIELD_BYTES[key] === null) continue;
      const bigger = { ...session, [key]: structuredClone(session[key]) };
      const value = bigger[key];
      if (typeof value === 'string') (bigger as Record<string, unknown>)[key] = `${value}xxxx`;
      else if (typeof value === 'object') (value as Record<string, unknown>).more = 'x';
      // A field of fixed size that a session may lack (the expiry) costs by being there.
      const { [key]: _absent, ...without } = session;
      const optional = !(SessionSchema.required as readonly string[]).includes(key);
      assert.ok(
        sessionFootprint(bigger) > sessionFootprint(session) ||
          (optional && sessionFootprint(session) > sessionFootprint(without as Session)),
        `the footprint does not grow with "${key}"`,
      );
    }
  });
});

describeOnPostgres("a session's shape in PostgreSQL", (server) => {
  it("has a column of the codec's type for every field, and no other", async () => {
    const pool = new pg.Pool({ connectionString: await server().createDatabase(), max: 1 });
    try {
      await migrate(pool);
      const { rows } = await pool.query<{ column_name: string; data_type: string }>(
        `SELECT column_name, data_type FROM information_schema.columns
         WHERE table_name = 'sessions' AND column_name <> 'seq'`,
      );
      const types = new Map(rows.map((row) => [row.column_name, row.data_type]));
      for (const key of SESSION_KEYS) {
        assert.ok(types.has(key), `the sessions table has no column "${key}": add a migration`);
        assert.equal(types.get(key), SESSION_CODEC[key].type, `the column "${key}"'s type`);
      }
      assert.deepEqual(
        [...types.keys()].filter((column) => !(SESSION_KEYS as readonly string[]).includes(column)),
        [],
        'columns of the sessions table that no field of SessionSchema names',
      );
    } finally {
      await pool.end();
    }
  });

  it('keeps every field through migrate both ways, in both stores, the file byte for byte', async (t) => {
    const sample = sampleSession();
    // And a field that may be null, null: an idle timeout alone, a lifetime alone.
    const sessions: Session[] = [
      sample,
      { ...sample, id: randomUUID(), ends_at: null },
      { ...sample, id: randomUUID(), idle_seconds: null },
    ];
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sessions'));
    await writeFile(join(dir, 'events.jsonl'), '');
    const files = sessions.map((session, i) => ({
      session,
      file: join('sessions', sessionFileName(session.id)),
      bytes: formatSessionFile({ session, seq: i + 1 }),
    }));
    for (const { file, bytes } of files) await writeFile(join(dir, file), bytes);
    const url = await server().createDatabase();

    await importDataDirectory(dir, url);
    const client = new pg.Client(url);
    await client.connect();
    try {
      const { rows } = await client.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY seq`,
      );
      assert.equal(rows.length, sessions.length);
      for (const [i, row] of rows.entries()) {
        assertWhole(toSession(row), sessions[i] as Session, `migrate into PostgreSQL (${i})`);
      }
    } finally {
      await client.end();
    }

    const postgres = await PostgresStore.open(url, 'c0ffee00');
    try {
      for (const [i, session] of sessions.entries()) {
        assertWhole(await postgres.getSession(session.id), session, `the PostgreSQL store (${i})`);
      }
    } finally {
      await postgres.close();
    }

    const out = join(await tempDir(t), 'exported');
    await exportToDataDirectory(url, out);
    for (const [i, { file, bytes }] of files.entries()) {
      assert.equal(
        await readFile(join(out, file), 'utf8'),
        bytes,
        `migrate out: the same file (${i})`,
      );
    }

    const { store } = await FileStore.open(out, 'c0ffee01');
    try {
      for (const [i, session] of sessions.entries()) {
        assertWhole(await store.getSession(session.id), session, `the file store (${i})`);
      }
    } finally {
      await store.close();
    }
  });
});
