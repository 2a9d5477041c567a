import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { makeEvent, type ServiceEvent } from '../../../src/domain/event.js';
import type { RetentionPolicy } from '../../../src/domain/retention.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { compactionHead, parseLogHead } from '../../../src/store/file/log-positions.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import { OriginalWriter } from '../../helpers/original-writer.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

const KEEP_300: RetentionPolicy = { count: 300, maxAgeMs: null, bytes: null };

async function openStore(t: TestContext, dir: string, retention: RetentionPolicy = KEEP_300) {
  const opened = await FileStore.open(dir, 'deadbeef', undefined, { retention });
  t.after(() => opened.store.close().catch(() => undefined));
  return opened.store;
}

async function fileLines(dir: string): Promise<string[]> {
  return (await readFile(join(dir, 'events.jsonl'), 'utf8')).split('\n').slice(0, -1);
}

/** Every event the store serves, by position, from its oldest kept on. */
async function served(store: FileStore): Promise<Map<number, ServiceEvent>> {
  const count = store.eventCount();
  const { oldest, events } = await store.eventRange(1, count);
  return new Map(events.map((event, index) => [oldest + index, event]));
}

/** Creates `n` sessions and updates each once: 2n events. */
async function write(store: FileStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const session = await sessionsOf(store).create({ name: `s${i}`, data: { i } });
    await sessionsOf(store).update(session.id, { data: { i, again: true } });
  }
}

describe('the event log under a retention policy (file store)', () => {
  it('drops its head into a log_compacted first line; positions, count and the events kept stay', async (t) => {
    const dir = await tempDir(t);
    const store = await openStore(t, dir);
    await write(store, 500);
    await store.writeBehind.snapshot(); // a boot needs nothing before the snapshot's point
    const count = store.eventCount();
    const before = await served(store);
    const created = store.instance.stats().total_sessions;

    assert.equal(await store.retention.runIfDue(), true);

    assert.equal(store.eventCount(), count, 'count stays every event ever logged');
    const { oldest } = store.eventTail(1);
    assert.equal(oldest, count - 300 + 1, 'the newest 300 kept');
    const after = await served(store);
    assert.equal(after.size, 300);
    for (const [position, event] of after) assert.deepEqual(event, before.get(position));
    const lines = await fileLines(dir);
    assert.equal(lines.length, 301);
    const head = parseLogHead(lines[0] ?? '');
    assert.equal(head.dropped, oldest - 1);
    assert.equal(
      head.created,
      created - [...after.values()].filter((e) => e.event === 'session_created').length,
    );
    assert.deepEqual(
      await readdir(dir).then((names) => names.filter((n) => n.endsWith('.tmp'))),
      [],
    );
    // A page of older events and the tail read alike.
    const page = await store.eventRange(oldest + 10, oldest + 20);
    assert.deepEqual(page.events, [...after.values()].slice(10, 21));
    assert.equal(page.oldest, oldest);
  });

  it('appends go on after a compaction, and a restart, a kill and the original between runs count the same', async (t) => {
    const dir = await tempDir(t);
    const store = await openStore(t, dir);
    await write(store, 400);
    await store.writeBehind.snapshot();
    await store.retention.runIfDue();
    await write(store, 20);
    const count = store.eventCount();
    const oldest = store.eventTail(1).oldest;
    const expected = await served(store);
    const totalSessions = store.instance.stats().total_sessions;

    // A kill: the boot reads the snapshot's point through the compacted file.
    const killed = await killedCopy(t, dir);
    const afterKill = await openStore(t, killed);
    assert.equal(afterKill.eventCount(), count);
    assert.equal(afterKill.eventTail(1).oldest, oldest);
    assert.equal(afterKill.instance.stats().total_sessions, totalSessions);
    const again = await served(afterKill);
    for (const [position, event] of expected) assert.deepEqual(again.get(position), event);
    await afterKill.close();

    // A clean stop, the original's service writing in between, and a start.
    await store.close();
    const original = new OriginalWriter(dir);
    await original.startup();
    const theirs = await original.create('from-the-original');
    const reopened = await openStore(t, dir);
    assert.ok(
      (await sessionsOf(reopened).get(theirs.id)) !== undefined,
      'adopted from its file and its logged change',
    );
    const { count: reopenedCount, oldest: reopenedOldest } = reopened.eventTail(1);
    assert.equal(reopenedOldest, oldest);
    // The original's startup and create, then this start's adoption of the session.
    const tail = (await reopened.eventRange(count + 1, reopenedCount)).events.map((e) => e.event);
    assert.deepEqual(tail, ['startup', 'session_created', 'session_adopted']);
    assert.equal(reopened.instance.stats().total_sessions, totalSessions + 1);
  });

  it('pages from the oldest kept after a boot from a snapshot taken before the compaction', async (t) => {
    const dir = await tempDir(t);
    const store = await openStore(t, dir, { count: 10_100, maxAgeMs: null, bytes: null });
    // More than the 10,000 events held in memory are kept: the oldest are read from the file.
    for (let i = 0; i < 15_400; i++) {
      await store.events.append(makeEvent('startup', 'deadbeef', { startup_count: i }), false);
    }
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true);
    const { oldest } = store.eventTail(1);
    assert.ok((oldest - 1) % 256 !== 0, 'the oldest kept is between two entries of the line index');
    const pages = async (of: FileStore) => [
      (await of.eventRange(oldest, oldest + 5)).events,
      (await of.eventRange(oldest + 250, oldest + 260)).events,
    ];
    const expected = await pages(store);
    assert.deepEqual(
      expected[0]?.map((event) => event.startup_count),
      [0, 1, 2, 3, 4, 5].map((n) => oldest - 1 + n),
    );
    // The snapshot's mark was taken before the compaction, with the index of the whole log.
    const again = await openStore(t, await killedCopy(t, dir));
    assert.deepEqual(await pages(again), expected);
  });

  it('compacts again with the head moving on, and never past what a boot needs', async (t) => {
    const dir = await tempDir(t);
    const store = await openStore(t, dir, { count: 100, maxAgeMs: null, bytes: null });
    await write(store, 300);
    // No snapshot yet: the journal's segments hold every change, so nothing may go.
    assert.equal(await store.retention.runIfDue(), false);
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true);
    const first = parseLogHead((await fileLines(dir))[0] ?? '');
    await write(store, 300);
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true);
    const lines = await fileLines(dir);
    const second = parseLogHead(lines[0] ?? '');
    assert.ok(second.dropped > first.dropped);
    assert.ok(second.base > first.base);
    assert.equal(lines.length, 101);
    assert.equal(store.eventTail(1).oldest, store.eventCount() - 99);
    assert.equal(second.created, store.instance.stats().total_sessions - countCreated(lines));
    const size = (await stat(join(dir, 'events.jsonl'))).size;
    assert.equal(store.events.fileSize(), size);
  });

  it('keeps by age and by bytes as well', async (t) => {
    const dir = await tempDir(t);
    let now = Date.parse('2026-12-01T00:00:00Z');
    const opened = await FileStore.open(dir, 'deadbeef', undefined, {
      retention: { count: null, maxAgeMs: 3_600_000, bytes: 64 * 1024 },
      clock: () => now,
    });
    const store = opened.store;
    t.after(() => store.close().catch(() => undefined));
    await write(store, 600); // about 150 KiB: over 1.5 × 64 KiB
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true);
    assert.ok(store.events.fileSize() <= 64 * 1024 + 1024, 'down to the bound (and its head line)');
    // The events were logged at the real time, long after `now`: none is too old yet.
    now = Date.now() + 3 * 3_600_000;
    await write(store, 1);
    await store.writeBehind.snapshot();
    assert.equal(await store.retention.runIfDue(), true, 'every event older than an hour goes');
    const kept = (await served(store)).size;
    assert.ok(kept <= 3, `only the newest events kept (${kept})`);
  });
});

function countCreated(lines: readonly string[]): number {
  return lines.filter((line) => line.includes('"event":"session_created"')).length;
}

describe('the head line of a compacted log', () => {
  it('stands exactly before the first kept byte, across every power of ten its offset crosses', () => {
    const now = new Date('2026-12-07T10:00:00Z');
    for (const keptFrom of [
      150, 999, 1000, 1001, 1099, 1100, 1101, 1150, 10_100, 10_150, 100_150, 1_000_150,
    ]) {
      for (let delta = -3; delta <= 3; delta++) {
        const at = keptFrom + delta;
        const { line, head } = compactionHead(
          'deadbeef',
          { count: 42, keptFrom: at, created: 7, expired: 1 },
          now,
        );
        assert.equal(head.base + head.length, at, `kept from ${at}`);
        assert.equal(Buffer.byteLength(line) + 1, head.length);
        assert.deepEqual(parseLogHead(line), head);
      }
    }
  });
});
