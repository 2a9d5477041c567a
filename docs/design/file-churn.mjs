// What the checkpoint's session files and the journal's syncs cost the
// kernel, beyond file-calls.mjs: the measurements behind "What bounds POST
// and spread PUT" in docs/design/storage.md.
// Run: node docs/design/file-churn.mjs [directory] (default: a temp dir on
// the file system of the working directory, not /tmp, which may differ).
//   1. 20,000 new files, each a temp file renamed to its name (a create);
//   2. 20,000 rewrites of those files at random, each a temp file renamed
//      over the old one (an update), three rounds; then three rounds the way
//      the checkpoint makes them with spare files (src/store/file/
//      spare-files.ts): written into the inode of a file replaced earlier,
//      the replaced file linked into spare/ before the rename;
//   3. the 20,000 files deleted, then 20,000 new ones made at once;
//   4. a journal-sized batch (300 B) written and fdatasynced, by 1, 2 and 4
//      writers at a time on one file, for 2 s each: syncs a second.
// Prints the process's CPU time (user + system) a file. The directory is
// left behind when given (deleting files is part of what is measured).
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  fdatasync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const dir = process.argv[2] ?? mkdtempSync(join(process.cwd(), '.file-churn-'));
mkdirSync(dir, { recursive: true });
const FILES = 20_000;
const content = JSON.stringify(
  { id: randomUUID(), name: 'bench', data: { note: 'created by the benchmark' }, created_at: '2026-12-02T10:00:00Z' },
  null,
  2,
);

/** Writes `target` as the checkpoint does: a temp file, renamed over it. */
function replace(target) {
  writeFileSync(`${target}.tmp`, content, { mode: 0o644 });
  renameSync(`${target}.tmp`, target);
}

const spareDir = join(dir, 'spare');
mkdirSync(spareDir, { recursive: true });
const spares = [];
let spareNames = 0;
/** Writes `target` into a spare when there is one, keeping the file it replaces as the next. */
function replaceWithSpare(target) {
  let source = spares.shift();
  if (source === undefined) {
    source = `${target}.tmp`;
    writeFileSync(source, content, { mode: 0o644 });
  } else {
    const fd = openSync(source, 'r+');
    const bytes = Buffer.from(content);
    writeSync(fd, bytes, 0, bytes.length, 0);
    ftruncateSync(fd, bytes.length);
    closeSync(fd);
  }
  const kept = join(spareDir, String(spareNames++));
  linkSync(target, kept);
  renameSync(source, target);
  spares.push(kept);
}

function timed(name, count, run) {
  const cpu = process.cpuUsage();
  run();
  const used = process.cpuUsage(cpu);
  console.log(
    `${name}: ${((used.user + used.system) / count).toFixed(1)} µs CPU ` +
      `(system ${(used.system / count).toFixed(1)}) a file`,
  );
}

const first = Array.from({ length: FILES }, () => join(dir, `${randomUUID()}.json`));
timed('create (temp file, rename)', FILES, () => first.forEach(replace));
for (let round = 1; round <= 3; round++) {
  timed(`rewrite at random, round ${round} (temp file, rename over)`, FILES, () => {
    for (let i = 0; i < FILES; i++) replace(first[Math.floor(Math.random() * FILES)]);
  });
}
for (let round = 1; round <= 3; round++) {
  timed(`rewrite at random, round ${round} (into a spare, link, rename over)`, FILES, () => {
    for (let i = 0; i < FILES; i++) replaceWithSpare(first[Math.floor(Math.random() * FILES)]);
  });
}
for (const spare of spares.splice(0)) unlinkSync(spare);
timed('delete', FILES, () => first.forEach((path) => unlinkSync(path)));
const second = Array.from({ length: FILES }, () => join(dir, `${randomUUID()}.json`));
timed('create right after deleting as many', FILES, () => second.forEach(replace));

const sync = promisify(fdatasync);
const journal = join(dir, 'journal.jsonl');
const fd = openSync(journal, 'w');
const line = Buffer.from(`${'x'.repeat(299)}\n`);
let position = 0;
for (const writers of [1, 2, 4, 1, 2, 4]) {
  let syncs = 0;
  const started = performance.now();
  const until = started + 2000;
  const writer = async () => {
    while (performance.now() < until) {
      writeSync(fd, line, 0, line.length, position);
      position += line.length;
      await sync(fd);
      syncs++;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const seconds = (performance.now() - started) / 1000;
  console.log(`${writers} fdatasync(s) at a time on one file: ${Math.round(syncs / seconds)} syncs/s`);
}
if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true });
