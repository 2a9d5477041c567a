import assert from 'node:assert/strict';
import { link, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { NotFoundError, StorageFullError } from '../../../src/domain/errors.js';
import { shutdownEvent } from '../../../src/domain/event.js';
import { StatefulService } from '../../../src/service/service.js';
import { FileStore } from '../../../src/store/file/file-store.js';
import { nodeFileSystem, type WritableFileSystem } from '../../../src/store/file/file-system.js';
import { DataDirectoryBusyError } from '../../../src/store/file/instance-lock.js';
import { readJournal } from '../../../src/store/file/journal-records.js';
import type { UnsyncedWrite } from '../../../src/store/file/unsynced-writes.js';
import { killedCopy } from '../../helpers/killed-copy.js';
import {
  ORIGINAL_SESSIONS,
  ORIGINAL_STATS,
  writeOriginalDataDir,
} from '../../helpers/original-data-dir.js';
import { sessionsOf } from '../../helpers/sessions.js';
import { tempDir } from '../../helpers/temp-dir.js';

async function openStore(t: TestContext, dir: string) {
  const opened = await FileStore.open(dir, 'deadbeef');
  t.after(() => opened.store.close().catch(() => undefined));
  return opened;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('the file store', () => {
  it('makes a created session durable in the original layout, with its event and count', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const session = await sessionsOf(store).create({ name: 'alice', data: { note: 'hi' } });
    await store.writeBehind.checkpoint(); // session files are written behind the journal
    const onDisk = await readJson(join(dir, 'sessions', `${session.id}.json`));
    assert.equal(onDisk.name, 'alice');
    assert.deepEqual(onDisk.data, { note: 'hi' });
    await store.instance.flush(); // total_sessions reaches stats.json lazily
    assert.equal((await readJson(join(dir, 'stats.json'))).total_sessions, 1);
    const log = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    const last = JSON.parse(log.at(-1) ?? '') as Record<string, unknown>;
    assert.equal(last.event, 'session_created');
    assert.equal(last.session_id, session.id);
    assert.equal(last.container, 'deadbeef');
  });

  it('never loses a total_sessions increment under concurrent creates', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => sessionsOf(store).create({ name: `s${i}` })),
    );
    assert.equal(store.instance.stats().total_sessions, 200);
    await store.instance.flush();
    await store.writeBehind.checkpoint();
    assert.equal((await readJson(join(dir, 'stats.json'))).total_sessions, 200);
    assert.equal((await readdir(join(dir, 'sessions'))).length, 200);
  });

  it('never loses an access_count increment under concurrent updates of one session', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const session = await sessionsOf(store).create({ name: 'busy' });
    await Promise.all(
      Array.from({ length: 100 }, (_, i) => sessionsOf(store).update(session.id, { data: { i } })),
    );
    assert.equal(store.getSession(session.id)?.access_count, 100);
    await store.writeBehind.checkpoint();
    const onDisk = await readJson(join(dir, 'sessions', `${session.id}.json`));
    assert.equal(onDisk.access_count, 100);
  });

  it('keeps creation order across a reopen, even within one second', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const names = Array.from({ length: 30 }, (_, i) => `n${i}`);
    for (const name of names) await sessionsOf(first.store).create({ name });
    await first.store.close();
    const { store } = await openStore(t, dir);
    assert.deepEqual(
      store.table.list().map((session) => session.name),
      names,
    );
  });

  it("keeps an expired session's file until the sweep removes it: a checkpoint never deletes it", async (t) => {
    // A checkpoint of a session that expired before the sweep got to it had
    // written "no session" and deleted its file, with no delete in the
    // journal: a clean stop then sealed a snapshot holding a session whose
    // file was gone (inspect --verify: "missing, its session served").
    const dir = await tempDir(t);
    let now = Date.parse('2026-12-07T10:00:00Z');
    const { store } = await FileStore.open(dir, 'deadbeef', undefined, { clock: () => now });
    t.after(() => store.close().catch(() => undefined));
    const service = new StatefulService(store, { sessionMaxNodes: 10_000, clock: () => now });
    const brief = await service.sessions.create({ name: 'brief', ttl_seconds: 5 });
    now += 5_000; // expired: hidden at once, swept within a second
    assert.equal(store.getSession(brief.id), undefined);
    assert.equal(store.table.has(brief.id), true);
    await store.writeBehind.checkpoint();
    if (store.table.has(brief.id)) {
      await stat(join(dir, 'sessions', `${brief.id}.json`)); // throws if the checkpoint deleted it
    }
  });

  it('deletes durably and answers NotFound afterwards', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const session = await sessionsOf(store).create({});
    await store.writeBehind.checkpoint();
    await stat(join(dir, 'sessions', `${session.id}.json`));
    await sessionsOf(store).delete(session.id);
    await store.writeBehind.checkpoint();
    await assert.rejects(stat(join(dir, 'sessions', `${session.id}.json`)), { code: 'ENOENT' });
    await assert.rejects(sessionsOf(store).delete(session.id), NotFoundError);
    await assert.rejects(sessionsOf(store).update(session.id, {}), NotFoundError);
    assert.equal(
      store.instance.stats().total_sessions,
      1,
      'deleting does not lower total_sessions',
    );
  });

  it('refuses a second owner while the first holds the directory, changing nothing', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    await sessionsOf(store).create({ name: 'kept' });
    const before = await readFile(join(dir, 'events.jsonl'));
    await assert.rejects(FileStore.open(dir, 'bbbbbbbb'), DataDirectoryBusyError);
    assert.deepEqual(await readFile(join(dir, 'events.jsonl')), before);
    await store.close();
    const second = await FileStore.open(dir, 'cccccccc');
    assert.equal(second.store.sessionCount(), 1);
    await second.store.close();
  });

  it('drops a torn last event line at open (never acknowledged) and logs the repair', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    await sessionsOf(first.store).create({ name: 'before the crash' });
    await first.store.close();
    const torn = '{"ts": 1771668000.1, "time": "2026-02-2';
    await writeFile(join(dir, 'events.jsonl'), torn, { flag: 'a' });
    const { store, recovery } = await openStore(t, dir);
    assert.deepEqual(recovery.eventLogRepair, { bytesRemoved: torn.length, savedAs: null });
    assert.deepEqual(await readdir(join(dir, 'quarantine')).catch(() => []), []);
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    for (const line of lines) JSON.parse(line);
    assert.equal(store.events.tail(1)[0]?.event, 'log_repaired');
  });

  it("quarantines an unreadable session file, removes its own temp files of unfinished writes and moves the original's aside", async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const good = await sessionsOf(first.store).create({ name: 'good' });
    await first.store.close();
    const badId = '00000000-0000-4000-8000-000000000000';
    await writeFile(join(dir, 'sessions', `${badId}.json`), '{"id": "0000');
    await writeFile(join(dir, 'sessions', `${good.id}.json.abc.tmp`), 'half');
    await writeFile(join(dir, 'stats.json.tmp'), 'half');
    // The original's unfinished writes: not ours to delete, moved aside.
    await writeFile(join(dir, 'stats.tmp'), '{"startup_count": 1');
    await writeFile(join(dir, 'sessions', `${badId}.tmp`), '{"id": "0000');
    // Session files are read only when there is no snapshot to boot from.
    await rm(join(dir, 'snapshot.jsonl'));
    const { store, recovery } = await openStore(t, dir);
    assert.deepEqual(
      store.table.list().map((session) => session.id),
      [good.id],
    );
    assert.deepEqual(recovery.quarantined.map((entry) => entry.file).sort(), [
      `sessions/${badId}.json`,
      `sessions/${badId}.tmp`,
      'stats.tmp',
    ]);
    assert.equal(recovery.tempFilesRemoved.length, 2);
    assert.equal((await readdir(join(dir, 'quarantine'))).length, 3);
    assert.deepEqual(await readdir(join(dir, 'sessions')), [`${good.id}.json`]);
  });

  it("takes over the original implementation's directory and keeps its counts and order", async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const { store } = await openStore(t, dir);
    assert.deepEqual(store.instance.stats(), { ...ORIGINAL_STATS, expired_sessions: 0 });
    assert.deepEqual(
      store.table.list().map((session) => session.name),
      ['alice', 'bob'],
      'sessions without our order key sort by created_at',
    );
    assert.deepEqual(store.getSession(ORIGINAL_SESSIONS[1]?.id ?? '')?.data, {
      note: 'first séssion',
    });
    assert.equal(store.eventCount(), 5);
    assert.equal(store.instance.readMarker(), null);
    const created = await sessionsOf(store).create({ name: 'carol' });
    assert.equal(store.table.list().at(-1)?.id, created.id);
    assert.equal(store.instance.stats().total_sessions, ORIGINAL_STATS.total_sessions + 1);
  });

  it('recounts total_sessions from the event log when stats.json fell behind (a kill before its lazy flush)', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    for (let i = 0; i < 3; i++) await sessionsOf(first.store).create({ name: `s${i}` });
    await first.store.close();
    const stats = await readJson(join(dir, 'stats.json'));
    await writeFile(join(dir, 'stats.json'), JSON.stringify({ ...stats, total_sessions: 0 }));
    for (const name of await readdir(join(dir, 'sessions'))) await rm(join(dir, 'sessions', name));
    const { store } = await openStore(t, dir);
    assert.equal(
      store.instance.stats().total_sessions,
      3,
      'three session_created events in the log',
    );
  });

  it('commits a change with one journal line and writes session files behind, in checkpoints', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const session = await sessionsOf(store).create({ name: 'behind' });
    await sessionsOf(store).update(session.id, { data: { v: 2 } });
    const file = join(dir, 'sessions', `${session.id}.json`);
    await assert.rejects(stat(file), { code: 'ENOENT' }, 'not written on the request path');
    const segments = readJournal(join(dir, 'journal'));
    assert.deepEqual(
      segments.flatMap((segment) => segment.records.map((record) => record.event?.event)),
      ['session_created', 'session_updated'],
    );
    await store.writeBehind.checkpoint();
    assert.deepEqual((await readJson(file)).data, { v: 2 });
    const records = () => readJournal(join(dir, 'journal')).flatMap((segment) => segment.records);
    assert.equal(records().length, 2, 'the journal holds the changes until a snapshot');
    await store.writeBehind.snapshot();
    assert.deepEqual(records(), [], 'the snapshot retired the segment that held the changes');
    await sessionsOf(store).update(session.id, { data: { v: 3 } });
    await store.close();
    assert.equal(records().length, 1, 'a clean stop leaves what no snapshot covers');
    assert.deepEqual((await readJson(file)).data, { v: 3 }, 'and the files current');
    const reopened = await openStore(t, dir);
    assert.deepEqual(reopened.store.getSession(session.id)?.data, { v: 3 });
    assert.equal(reopened.recovery.journal, null, 'replaying it is routine, not a repair');
  });

  it('replays the journal of a killed instance at the next start, and writes its files behind', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const kept = await sessionsOf(store).create({ name: 'kept' });
    await store.writeBehind.checkpoint();
    await sessionsOf(store).update(kept.id, { name: 'renamed', data: { v: 2 } });
    const gone = await sessionsOf(store).create({ name: 'gone' });
    await sessionsOf(store).delete(gone.id);
    const added = await sessionsOf(store).create({ name: 'added' });
    const eventsBefore = store.eventCount();
    const copy = await killedCopy(t, dir);

    const reopened = await openStore(t, copy);
    assert.equal(reopened.recovery.journal, null, 'no event was lost: nothing to report');
    assert.deepEqual(
      reopened.store.table.list().map((session) => [session.name, session.access_count]),
      [
        ['renamed', 1],
        ['added', 0],
      ],
    );
    await reopened.store.writeBehind.checkpoint(); // the files follow within seconds
    assert.deepEqual(await readdir(join(copy, 'sessions')), [
      ...[`${kept.id}.json`, `${added.id}.json`].sort(),
    ]);
    assert.equal((await readJson(join(copy, 'sessions', `${kept.id}.json`))).name, 'renamed');
    assert.equal(reopened.store.eventCount(), eventsBefore, 'no event added');
    assert.equal(reopened.store.instance.stats().total_sessions, 3);
  });

  it('appends the event of a committed change when a kill cut it off, exactly once', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    const session = await sessionsOf(store).create({ name: 'a' });
    await sessionsOf(store).update(session.id, { data: { v: 1 } });
    const copy = await killedCopy(t, dir);
    // The kill landed between the journal line and the event line.
    const log = (await readFile(join(copy, 'events.jsonl'), 'utf8')).split('\n');
    const cutOff = log.at(-2) ?? '';
    assert.match(cutOff, /"event":"session_updated"/);
    await writeFile(join(copy, 'events.jsonl'), `${log.slice(0, -2).join('\n')}\n`);

    const first = await FileStore.open(copy, 'bbbbbbbb');
    assert.equal(first.recovery.journal?.eventsRestored, 1);
    await first.store.close();
    const second = await openStore(t, copy);
    assert.equal(second.recovery.journal, null, 'nothing left to roll forward');
    const lines = (await readFile(join(copy, 'events.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(lines.filter((line) => line === cutOff).length, 1);
    assert.equal(second.store.getSession(session.id)?.access_count, 1);
  });

  it('keeps writes within the checkpoint backlog: past it they wait for a checkpoint', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'deadbeef', undefined, { checkpointBacklog: 20 });
    t.after(() => store.close().catch(() => undefined));
    let most = 0;
    for (let wave = 0; wave < 15; wave++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await sessionsOf(store).create({ name: `w${wave}-${i}` });
          most = Math.max(most, store.writeBehind.backlog());
        }),
      );
    }
    // At most the bound plus the writes admitted together (one wave).
    assert.ok(most <= 40, `backlog reached ${most}`);
    assert.ok(most >= 20, 'the bound was reached: the waits were exercised');
    assert.equal(store.sessionCount(), 300);
    const onDisk = await readdir(join(dir, 'sessions'));
    assert.ok(onDisk.length >= 300 - 40, `checkpoints kept up: ${onDisk.length} files written`);
  });

  it('keeps replaced session files as spares while it runs, and leaves none after a clean stop or a start', async (t) => {
    const dir = await tempDir(t);
    const spareDir = join(dir, 'spare');
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await sessionsOf(first.store).create({ name: `s${i}` })).id);
    await first.store.writeBehind.checkpoint();
    for (const id of ids) await sessionsOf(first.store).update(id, { data: { v: 2 } });
    await first.store.writeBehind.checkpoint();
    assert.equal((await readdir(spareDir)).length, 5, 'each replaced file kept');
    await first.store.close();
    assert.deepEqual(await readdir(spareDir), []);
    for (const id of ids) {
      assert.deepEqual((await readJson(join(dir, 'sessions', `${id}.json`))).data, { v: 2 });
    }
    // What a kill leaves (a spare, one still linked to a live file): a start removes the names only.
    await writeFile(join(spareDir, 'left-by-a-kill'), 'x');
    await link(join(dir, 'sessions', `${ids[0]}.json`), join(spareDir, 'linked'));
    const { store } = await openStore(t, dir);
    // Removed in the background once the store is open.
    await store.writeBehind.rebuilt();
    // (The start rewrote the replayed sessions' files, so it may hold spares of its own.)
    const left = await readdir(spareDir);
    assert.ok(!left.includes('left-by-a-kill') && !left.includes('linked'), left.join(', '));
    assert.deepEqual((await readJson(join(dir, 'sessions', `${ids[0]}.json`))).data, { v: 2 });
    assert.equal(store.sessionCount(), 5);
  });

  it('tells the file writer which files are of sessions created since the last checkpoint', async (t) => {
    const dir = await tempDir(t);
    const writes: UnsyncedWrite[] = [];
    const fs: WritableFileSystem = {
      ...nodeFileSystem,
      writeUnsynced: (batch, spares) => {
        writes.push(...batch);
        return nodeFileSystem.writeUnsynced(batch, spares);
      },
    };
    const { store } = await FileStore.open(dir, 'aaaaaaaa', fs);
    t.after(() => store.close().catch(() => undefined));
    const sessions = sessionsOf(store);
    const a = await sessions.create({ name: 'a' });
    await store.writeBehind.checkpoint();
    const b = await sessions.create({ name: 'b' });
    await sessions.update(a.id, { data: { v: 2 } });
    await store.writeBehind.checkpoint();
    const fresh = (id: string) =>
      writes.filter((write) => write.target.endsWith(`${id}.json`)).map((write) => write.fresh);
    assert.deepEqual(fresh(a.id), [true, false], 'created, then changed');
    assert.deepEqual(fresh(b.id), [true]);
    assert.deepEqual((await readJson(join(dir, 'sessions', `${a.id}.json`))).data, { v: 2 });
  });

  it('boots from the snapshot and the journal after it, without reading a session file', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const kept = await sessionsOf(first.store).create({ name: 'kept', data: { v: 1 } });
    const gone = await sessionsOf(first.store).create({ name: 'gone' });
    await first.store.writeBehind.snapshot();
    await sessionsOf(first.store).update(kept.id, { data: { v: 2 } });
    await sessionsOf(first.store).delete(gone.id);
    const added = await sessionsOf(first.store).create({ name: 'added' });
    const events = first.store.eventCount();
    await first.store.close();
    // Files the boot must not read: a snapshot boot serves the snapshot and the journal.
    await writeFile(join(dir, 'sessions', `${kept.id}.json`), 'not JSON');
    const { store, recovery } = await openStore(t, dir);
    assert.deepEqual(recovery.quarantined, [], 'no session file was read');
    assert.deepEqual(
      store.table.list().map((session) => [session.name, session.data]),
      [
        ['kept', { v: 2 }],
        ['added', {}],
      ],
    );
    assert.equal(store.getSession(added.id)?.name, 'added');
    assert.equal(store.eventCount(), events);
    assert.equal(store.instance.stats().total_sessions, 3);
    const more = await sessionsOf(store).create({ name: 'after' });
    assert.equal(store.table.list().at(-1)?.id, more.id, 'creation order goes on');
  });

  it('reads every session file instead when another program changed the directory after the snapshot', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    const session = await sessionsOf(first.store).create({ name: 'ours' });
    await first.store.writeBehind.snapshot();
    await first.store.close();
    // What the original does on a PUT: the file rewritten, an event appended.
    const file = join(dir, 'sessions', `${session.id}.json`);
    const changed = { ...(await readJson(file)), name: 'theirs' };
    await writeFile(file, JSON.stringify(changed, null, 2));
    const event = { event: 'session_updated', session_id: session.id, container: 'original' };
    await writeFile(join(dir, 'events.jsonl'), `${JSON.stringify(event)}\n`, { flag: 'a' });
    const { store } = await openStore(t, dir);
    assert.equal(store.getSession(session.id)?.name, 'theirs', 'the files won');
    await store.close();
    const again = await FileStore.open(dir, 'bbbbbbbb');
    assert.equal(again.store.getSession(session.id)?.name, 'theirs', 'and the new snapshot has it');
    await again.store.close();
  });

  it('writes every session file again when the machine restarted since files were written unsynced', async (t) => {
    const dir = await tempDir(t);
    const first = await FileStore.open(dir, 'aaaaaaaa');
    await first.store.startInstance();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++)
      ids.push((await sessionsOf(first.store).create({ name: `s${i}` })).id);
    await first.store.writeBehind.snapshot();
    await first.store.stopInstance(shutdownEvent('aaaaaaaa', { reason: 'test', uptimeSeconds: 1 }));
    await first.store.close();
    const marker = await readJson(join(dir, 'instance.json'));
    assert.equal(typeof marker.view_boot_id, 'string', 'the marker says when files were written');
    // As a power cut can leave them: a file lost, another stale.
    await rm(join(dir, 'sessions', `${ids[0]}.json`));
    await writeFile(join(dir, 'sessions', `${ids[1]}.json`), '{}');
    await writeFile(
      join(dir, 'instance.json'),
      JSON.stringify({ ...marker, view_boot_id: 'an-earlier-boot' }),
    );
    const { store } = await openStore(t, dir);
    await store.startInstance();
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const now = await readJson(join(dir, 'instance.json'));
      if (now.view_boot_id === marker.view_boot_id) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal((await readJson(join(dir, 'instance.json'))).view_boot_id, marker.view_boot_id);
    assert.equal((await readJson(join(dir, 'sessions', `${ids[0]}.json`))).name, 's0');
    assert.equal((await readJson(join(dir, 'sessions', `${ids[1]}.json`))).name, 's1');
  });

  it('reads old events by position after a start restored events a kill cut off (the line index goes on over them)', async (t) => {
    const dir = await tempDir(t);
    const { store } = await openStore(t, dir);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => sessionsOf(store).create({ name: `s${i}` })),
    );
    const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n');
    const copy = await killedCopy(t, dir);
    // The kill cut off the last 200 event lines (positions 101 to 300, across line 257).
    await writeFile(join(copy, 'events.jsonl'), `${lines.slice(0, 100).join('\n')}\n`);
    const reopened = await openStore(t, copy);
    assert.equal(reopened.recovery.journal?.eventsRestored, 200);
    // Enough events after them (memory keeps up to 20,000) that positions 260-280, past the
    // index entry at 257, are read from the file.
    await Promise.all(
      Array.from({ length: 20_500 }, () =>
        reopened.store.events.append(shutdownEvent('filler00', { reason: 'x', uptimeSeconds: 0 })),
      ),
    );
    const { events } = await reopened.store.eventRange(260, 280);
    const restored = (await readFile(join(copy, 'events.jsonl'), 'utf8')).split('\n');
    // Parsed, both: the log writes a whole-second `ts` as `1796232085.0`, as the
    // original did, where JSON.stringify writes `1796232085`.
    assert.deepEqual(
      events,
      restored.slice(259, 280).map((line) => JSON.parse(line)),
    );
    assert.ok(events.every((event) => event.event === 'session_created'));
  });

  it('does not trust a snapshot cut short or damaged: it reads the files and writes a new one', async (t) => {
    for (const damage of [
      (text: string) => text.slice(0, text.lastIndexOf('{"end"')), // no trailer
      (text: string) => text.replace(/\n[^\n]*\t/, '\nnot a session line\t'), // a bad line
      (text: string) => `{"snapshot":99}${text.slice(text.indexOf('\n'))}`, // a format to come
    ]) {
      const dir = await tempDir(t);
      const first = await FileStore.open(dir, 'aaaaaaaa');
      for (let i = 0; i < 5; i++) await sessionsOf(first.store).create({ name: `s${i}` });
      await first.store.writeBehind.snapshot();
      await first.store.close();
      const path = join(dir, 'snapshot.jsonl');
      await writeFile(path, damage(await readFile(path, 'utf8')));
      const { store } = await FileStore.open(dir, 'bbbbbbbb');
      assert.deepEqual(
        store.table.list().map((session) => session.name),
        ['s0', 's1', 's2', 's3', 's4'],
      );
      await store.close();
      const again = await readFile(path, 'utf8');
      assert.match(again, /\{"end":5\}\n$/, 'a new, whole snapshot');
    }
  });

  it('refuses creates and growing updates below MIN_FREE_DISK_MB, changing nothing, and still lets sessions shrink or go', async (t) => {
    const dir = await tempDir(t);
    const roomy = await FileStore.open(dir, 'aaaaaaaa');
    const kept = await sessionsOf(roomy.store).create({
      name: 'kept',
      data: { big: 'x'.repeat(1000) },
    });
    await roomy.store.close();
    // More free space than any disk has: every growing write is below the floor.
    const { store } = await FileStore.open(dir, 'aaaaaaaa', nodeFileSystem, {
      minFreeBytes: Number.MAX_SAFE_INTEGER,
    });
    const journalBefore = readJournal(join(dir, 'journal')).flatMap((segment) => segment.records);
    await assert.rejects(sessionsOf(store).create({ name: 'no room' }), (error: Error) => {
      assert.ok(error instanceof StorageFullError);
      assert.match(error.message, /below MIN_FREE_DISK_MB .*nothing was changed/);
      return true;
    });
    await assert.rejects(
      sessionsOf(store).update(kept.id, { data: { big: 'y'.repeat(2000) } }),
      StorageFullError,
    );
    assert.deepEqual(
      readJournal(join(dir, 'journal')).flatMap((segment) => segment.records),
      journalBefore,
      'nothing reached the journal',
    );
    assert.equal(store.sessionCount(), 1);
    // Shrinking and deleting free space: always allowed.
    await sessionsOf(store).update(kept.id, { data: {} });
    await sessionsOf(store).delete(kept.id);
    assert.equal(store.sessionCount(), 0);
    await store.close();
  });
});
