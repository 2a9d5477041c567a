import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shutdownEvent } from '../../src/domain/event.js';
import { readDataDirectory } from '../../src/inspector/read-data-dir.js';
import { repairDataDirectory } from '../../src/inspector/repair.js';
import { verifyDataDirectory } from '../../src/inspector/verify.js';
import { FileStore } from '../../src/store/file/file-store.js';
import { DataDirectoryBusyError } from '../../src/store/file/instance-lock.js';
import { writeAtRecordsEnd } from '../helpers/journal-segment.js';
import { killedCopy } from '../helpers/killed-copy.js';
import { writeOriginalDataDir } from '../helpers/original-data-dir.js';
import { sessionsOf } from '../helpers/sessions.js';
import { tempDir } from '../helpers/temp-dir.js';

const event = (kind: string, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ ts: 1, time: '2026-02-21T10:00:00Z', event: kind, container: 'a9f09b61', ...extra })}\n`;

describe('verifying a data directory', () => {
  it('finds nothing wrong with a directory the service wrote and closed', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    const session = await sessionsOf(store).create({ name: 'a' });
    await sessionsOf(store).update(session.id, { data: { x: 1 } });
    await sessionsOf(store).create({ name: 'b' });
    await store.close();
    const report = await verifyDataDirectory(dir);
    assert.deepEqual(report.findings, []);
    assert.equal(report.checked.sessionFiles, 2);
    assert.equal(report.checked.eventLines, 3);
  });

  it('says no journal change is pending after a clean stop, and those a start replays otherwise', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    await store.startInstance();
    await sessionsOf(store).create({ name: 'a' });
    await sessionsOf(store).create({ name: 'b' });
    await store.stopInstance(shutdownEvent('aaaaaaaa', { reason: 'test', uptimeSeconds: 0 }));
    await store.close();
    const stopped = await readDataDirectory(dir, 10);
    assert.equal(stopped.journalChanges, 0, 'the sealed files hold every change');
    assert.equal(stopped.sessionCount, 2);

    const { store: next } = await FileStore.open(dir, 'bbbbbbbb');
    await next.startInstance();
    await sessionsOf(next).create({ name: 'c' });
    await next.close(); // no clean stop: no seal
    assert.ok((await readDataDirectory(dir, 10)).journalChanges > 0);
  });

  it("finds nothing wrong with the original implementation's directory but its temp file", async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const report = await verifyDataDirectory(dir);
    assert.deepEqual(
      report.findings.map((finding) => finding.problem),
      ['stats.json.tmp is the temp file of an unfinished write'],
    );
  });

  it('leaves temp files out while a live service holds the directory (they are its writes in progress)', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    t.after(() => store.close().catch(() => undefined));
    await store.startInstance();
    await writeFile(join(dir, 'snapshot.jsonl.tmp'), '{"snapshot":1');
    assert.deepEqual((await verifyDataDirectory(dir)).findings, [], 'a snapshot being written');
    await store.close();
    assert.deepEqual(
      (await verifyDataDirectory(dir)).findings.map((finding) => finding.problem),
      ['snapshot.jsonl.tmp is the temp file of an unfinished write'],
      'left over once nobody writes',
    );
  });

  it('reports each kind of damage, telling a torn tail from corruption in the middle', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'sessions'));
    await mkdir(join(dir, 'quarantine'));
    await writeFile(join(dir, 'quarantine', 'old-thing'), 'x');
    await writeFile(
      join(dir, 'stats.json'),
      JSON.stringify({ startup_count: 1, crash_count: 0, total_sessions: 0, total_requests: 0 }),
    );
    await writeFile(
      join(dir, 'events.jsonl'),
      `${event('startup')}garbage line\n${event('crash_triggered')}${event('startup')}{"ts": 1, "tim`,
    );
    await writeFile(
      join(dir, 'sessions', '00000000-0000-4000-8000-000000000000.json'),
      '{"id": 1}',
    );
    await writeFile(join(dir, 'sessions', 'x.json.abc.tmp'), '');
    const report = await verifyDataDirectory(dir);
    const problems = report.findings.map((finding) => finding.problem).join('\n');
    assert.match(
      problems,
      /sessions\/00000000-0000-4000-8000-000000000000\.json: missing or malformed "id"/,
    );
    assert.match(problems, /sessions\/x\.json\.abc\.tmp is the temp file/);
    assert.match(problems, /ends with a torn last line \(14 bytes, an interrupted append\)/);
    assert.match(problems, /1 corrupt lines in the middle \(line 2\)/);
    assert.match(problems, /crash_count is 0 but the log has 1 crash_triggered events/);
    assert.match(problems, /1 files in quarantine\//);
    assert.equal(report.findings.filter((finding) => finding.repair !== undefined).length, 3);
  });

  it('repairs what is safe to repair, keeping what it cut, and leaves the rest to a person', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    await writeFile(join(dir, 'events.jsonl'), '{"ts": 1, "tim', { flag: 'a' });
    await writeFile(join(dir, 'sessions', '00000000-0000-4000-8000-000000000000.json'), 'oops');
    const done = await repairDataDirectory(dir);
    assert.equal(done.length, 3);
    assert.match(done.join('\n'), /dropped a torn last line \(14 bytes, never acknowledged\)/);
    const report = await verifyDataDirectory(dir);
    assert.deepEqual(
      report.findings.map((finding) => finding.forReview),
      [true],
      'only the quarantined session remains, for review',
    );
    // A torn last line was never acknowledged: dropped, not kept for review.
    const quarantined = await readdir(join(dir, 'quarantine'));
    assert.equal(quarantined.length, 1);
    assert.match(quarantined[0] ?? '', /-session-00000000-0000-4000-8000-000000000000\.json$/);
  });

  it('keeps complete lines at the end of the log that are not events in quarantine', async (t) => {
    const dir = await tempDir(t);
    await writeOriginalDataDir(dir);
    const damage = 'not an event\n\u0000\u0000\u0000\n{"ts": 1';
    await writeFile(join(dir, 'events.jsonl'), damage, { flag: 'a' });
    const before = await verifyDataDirectory(dir);
    assert.match(
      before.findings.map((finding) => finding.problem).join('\n'),
      /events\.jsonl ends with 25 damaged bytes/,
    );
    const done = await repairDataDirectory(dir);
    assert.match(done.join('\n'), /cut 25 damaged bytes off events\.jsonl into quarantine\//);
    const [tail] = await readdir(join(dir, 'quarantine'));
    assert.equal(await readFile(join(dir, 'quarantine', tail ?? ''), 'utf8'), damage);
  });

  it('after a kill, accepts the pending journal, flags a torn journal append, and rolls it forward on repair', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    let copy: string;
    try {
      await store.instance.flush(); // as the service does at start
      const session = await sessionsOf(store).create({ name: 'a' });
      await sessionsOf(store).update(session.id, { name: 'renamed' });
      copy = await killedCopy(t, dir);
    } finally {
      await store.close();
    }
    const pending = await verifyDataDirectory(copy);
    assert.deepEqual(pending.findings, [], 'changes waiting in the journal are not damage');

    const [segment] = await readdir(join(copy, 'journal'));
    // A kill can cut a large append at a page boundary: never acknowledged, simply dropped.
    await writeAtRecordsEnd(join(copy, 'journal', segment ?? ''), '{"op":"put","sess');
    assert.deepEqual((await verifyDataDirectory(copy)).findings, []);
    // A complete line that is not a change is corruption: for a person to look at.
    await writeAtRecordsEnd(join(copy, 'journal', segment ?? ''), 'garbage\n{"op":"put","sess');
    const torn = await verifyDataDirectory(copy);
    assert.equal(torn.findings.length, 1);
    assert.match(torn.findings[0]?.problem ?? '', /has 42 bytes that are not changes/);

    const done = await repairDataDirectory(copy);
    assert.ok(
      done.some((line) => /rolled 2 journal changes forward into 1 session files/.test(line)),
    );
    assert.deepEqual(await readdir(join(copy, 'journal')), []);
    const [file] = await readdir(join(copy, 'sessions'));
    assert.equal(
      JSON.parse(await readFile(join(copy, 'sessions', file ?? ''), 'utf8')).name,
      'renamed',
    );
    // The torn segment waits in quarantine for a person; the session's file,
    // now past the journal the repair dropped, is what the next start adopts
    // (the log names its changes); nothing else is wrong.
    assert.deepEqual(
      (await verifyDataDirectory(copy)).findings.map((finding) =>
        finding.adoptedByStart ? 'adopted' : finding.forReview,
      ),
      ['adopted', true],
    );
  });

  it('counts the sessions served as the snapshot and the journal after it make them', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    let copy: string;
    try {
      await store.instance.flush(); // as the service does at start
      const sessions = sessionsOf(store);
      const a = await sessions.create({ name: 'a' });
      await sessions.create({ name: 'b' });
      await sessions.create({ name: 'c' });
      await store.writeBehind.snapshot(); // holds a, b and c; the journal after it:
      await sessions.create({ name: 'd' }); // one more
      await sessions.delete(a.id); // one fewer of the snapshot's
      const e = await sessions.create({ name: 'e' });
      await sessions.delete(e.id); // a session neither holds
      copy = await killedCopy(t, dir);
    } finally {
      await store.close();
    }
    assert.deepEqual((await verifyDataDirectory(copy)).findings, []);
    // Served: b, c and d. Take the creations of a, b and c out of the count
    // (events of the same length, so the log's offsets hold) and stats.json's.
    const log = join(copy, 'events.jsonl');
    const lines = (await readFile(log, 'utf8')).split('\n');
    let renamed = 0;
    for (const [i, line] of lines.entries()) {
      if (renamed < 3 && line.includes('"session_created"')) {
        lines[i] = line.replace('"session_created"', '"session_renamed"');
        renamed++;
      }
    }
    await writeFile(log, lines.join('\n'));
    const stats = JSON.parse(await readFile(join(copy, 'stats.json'), 'utf8'));
    await writeFile(join(copy, 'stats.json'), JSON.stringify({ ...stats, total_sessions: 0 }));
    assert.deepEqual(
      (await verifyDataDirectory(copy)).findings.map((finding) => finding.problem),
      ['total_sessions is 2 (stats.json, the log and the journal) but 3 sessions are served'],
    );
  });

  it('refuses to repair a directory a live instance owns', async (t) => {
    const dir = await tempDir(t);
    const { store } = await FileStore.open(dir, 'aaaaaaaa');
    try {
      await assert.rejects(repairDataDirectory(dir), DataDirectoryBusyError);
    } finally {
      await store.close();
    }
  });
});
