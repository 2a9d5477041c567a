/**
 * The CLI at 100,000 sessions, as a person and a script see it: into a pipe
 * every session, one tab-separated line each, every name whole; on a
 * terminal (`script`, a pseudo-terminal of a set width) one page that fits
 * the width and says how to get the next; `--search` finding the oldest
 * session newest first, and an id prefix, with no paging by hand, and
 * saying how far it looked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { writeDataset } from '../../bench/datasets.js';
import { CLI, spawnService } from '../../tools/service-process.js';
import { tempDir } from '../helpers/temp-dir.js';

const SESSIONS = 100_000;

/** Runs the CLI with stdout into a pipe; its stdout and stderr. */
function intoPipe(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** Runs the CLI on a terminal `columns` wide (stdout and stderr both); what the terminal got, lines without \r. */
function onTerminal(args: string[], columns: number): Promise<string> {
  const command = [process.execPath, CLI, ...args]
    .map((word) => `'${word.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `stty cols ${columns}; ${command}`, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'dumb' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/\r/g, '')));
  });
}

/** The lines of terminal output with the progress line's erasing taken out. */
function lines(output: string): string[] {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the CLI's own erase-line escape.
  return output.replace(/^.*\u001b\[K/gm, '').split('\n');
}

describe('the CLI at 100,000 sessions', () => {
  it('pipes every session whole, fits a terminal, and finds the oldest by searching', async (t) => {
    const dir = await tempDir(t);
    const ids = await writeDataset(dir, SESSIONS, 1000);
    const service = await spawnService(dir, {}, { bootTimeoutMs: 120_000 });
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--url', service.url];

    // Into a pipe: a header and one line a session, nothing cut.
    const piped = await intoPipe(['session', 'list', ...url]);
    assert.equal(piped.code, 0, piped.stderr);
    const rows = piped.stdout.trimEnd().split('\n');
    assert.equal(rows[0], 'ID\tNAME\tACCESSES\tEXPIRES\tLAST ACTIVE\tDATA');
    assert.equal(rows.length, SESSIONS + 1);
    const names = new Set(rows.slice(1).map((row) => row.split('\t')[1]));
    assert.equal(names.size, SESSIONS, 'every name once');
    for (const n of [1, 12_345, 99_999, SESSIONS]) assert.ok(names.has(`user-${n}`), `user-${n}`);
    assert.ok(!piped.stdout.includes('…'), 'nothing cut');
    assert.equal(piped.stderr, `${SESSIONS} sessions\n`);

    // A search into a pipe looks to the end: every match, whichever page it is on.
    const found = await intoPipe(['session', 'list', '--search', 'USER-9999', ...url]);
    assert.equal(found.code, 0, found.stderr);
    assert.deepEqual(
      found.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((row) => row.split('\t')[1])
        .sort(),
      ['user-9999', ...Array.from({ length: 10 }, (_, i) => `user-9999${i}`)].sort(),
    );

    // On a terminal: one page of 100, no line wider than the terminal, the next page's command.
    const page = lines(await onTerminal(['session', 'list', ...url], 100));
    const table = page.filter((line) => /^[0-9a-f]{8}-/.test(line));
    assert.equal(table.length, 100, page.slice(-5).join('\n'));
    assert.deepEqual(
      page.filter((line) => [...line].length > 100 && !line.startsWith('more: ')),
      [],
      'every line of the table fits 100 columns (the command to paste is whole)',
    );
    assert.ok(
      page.some((line) => /^more: stateful session list --limit 100 --after \S+/.test(line)),
      page.slice(-3).join('\n'),
    );

    // Newest first, the oldest session is the last of 100,000: found with no paging by hand.
    const oldest = lines(
      await onTerminal(['session', 'list', '--newest', '--search', 'user-12345', ...url], 100),
    );
    assert.equal(
      oldest.filter((line) => line.includes('user-12345 ')).length,
      1,
      oldest.join('\n'),
    );
    assert.ok(
      oldest.includes('1 found; searched 100,000 of 100,000 sessions, to the end'),
      oldest.join('\n'),
    );
    const byId = lines(
      await onTerminal(
        ['session', 'list', '--newest', '--search', (ids[0] as string).slice(0, 13), ...url],
        100,
      ),
    );
    assert.ok(
      byId.some((line) => line.startsWith(ids[0] as string) && line.includes('user-1 ')),
      byId.join('\n'),
    );

    // Events in 80 columns: the details keep room for the session's id.
    const events = lines(await onTerminal(['events', '--limit', '20', ...url], 80));
    const updated = events.filter((line) => line.includes('session_updated'));
    assert.ok(updated.length >= 5, events.join('\n'));
    for (const line of updated) {
      assert.ok([...line].length <= 80, line);
      assert.match(line, /session_id=[0-9a-f]{8}-[0-9a-f]{4}/);
    }
  });
});
