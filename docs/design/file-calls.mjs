// What a small unsynced file write costs through the threadpool and made
// synchronously: the measurement behind src/store/file/unsynced-writes.ts.
// Run: node docs/design/file-calls.mjs [directory] (default: a temp dir).
// Each way writes 20,000 files of a session's size (temp file, rename), four
// at a time through fs/promises, or one after another with synchronous calls,
// and prints the wall time and the process's CPU time (user + system) a file.
// Then it times 3,000 commits of a journal-sized batch (1.8 KiB): appended to
// a file, or written over zeros written ahead (the file's size unchanged),
// each followed by an fdatasync.
import { closeSync, mkdtempSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'file-calls-'));
const FILES = 20_000;
const ids = Array.from({ length: FILES }, () => randomUUID());
const content = JSON.stringify(
  { id: ids[0], name: 'bench', data: { note: 'created by the benchmark' }, created_at: '2026-12-02T10:00:00Z' },
  null,
  2,
);

async function threadpool() {
  let next = 0;
  const worker = async () => {
    while (next < FILES) {
      const target = join(dir, `${ids[next++]}.json`);
      const handle = await open(`${target}.tmp`, 'w', 0o644);
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      await rename(`${target}.tmp`, target);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function synchronous() {
  for (const id of ids) {
    const target = join(dir, `${id}.json`);
    const fd = openSync(`${target}.tmp`, 'w', 0o644);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    renameSync(`${target}.tmp`, target);
  }
}

for (const [name, run] of [
  ['fs/promises', threadpool],
  ['synchronous', synchronous],
  ['fs/promises', threadpool],
  ['synchronous', synchronous],
]) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wall = ((performance.now() - started) / FILES) * 1000;
  const used = process.cpuUsage(cpu);
  console.log(
    `${name}: ${wall.toFixed(1)} µs wall, ${((used.user + used.system) / FILES).toFixed(1)} µs CPU ` +
      `(system ${(used.system / FILES).toFixed(1)}) a file`,
  );
}
const batch = Buffer.from(`${'x'.repeat(1800)}\n`);
const COMMITS = 3000;
for (const preallocated of [false, true, false, true]) {
  const handle = await open(join(dir, `journal-${preallocated}.jsonl`), 'w');
  if (preallocated) {
    await handle.write(Buffer.alloc(batch.length * COMMITS), 0, batch.length * COMMITS, 0);
    await handle.sync();
  }
  const started = performance.now();
  for (let i = 0; i < COMMITS; i++) {
    writeSync(handle.fd, batch, 0, batch.length, preallocated ? i * batch.length : null);
    await handle.datasync();
  }
  const each = ((performance.now() - started) / COMMITS) * 1000;
  console.log(`${preallocated ? 'over zeros' : 'appended'}: ${each.toFixed(0)} µs a write and fdatasync`);
  await handle.close();
}
if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true });
