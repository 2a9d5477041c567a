/**
 * Nothing a client stored reaches a person's terminal as an escape sequence:
 * the CLI and the inspector run under a real pseudo-terminal (`script`), on
 * sessions whose names and data hold window-title, screen-clearing,
 * clipboard and link sequences, C1 controls and bidirectional overrides.
 * The only escapes printed are the CLI's own colours; the hostile text is
 * shown visibly (`\u001b]0;…`).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { CLI, spawnService } from '../../tools/service-process.js';
import { field, postJson } from '../helpers/http.js';
import { tempDir } from '../helpers/temp-dir.js';

const HOSTILE_NAMES = [
  '\u001b]0;PWNED\u0007\u001b[2J',
  '\u001b]52;c;ZXZpbA==\u0007clipboard',
  '\u001b]8;;http://evil.example\u001b\\link',
  'c1 \u009b31m red',
  'bidi \u202egnp.exe',
  'bell \u0007 del \u007f',
];

/** Runs the CLI under a pseudo-terminal, as a person would; its output as the terminal got it. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const command = [process.execPath, CLI, ...args]
    .map((word) => `'${word.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, ...env, TERM: 'xterm-256color', COLUMNS: '200' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** What is left of the output once the CLI's own colours (SGR: ESC [ digits m) are taken out. */
function withoutOwnColours(output: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escapes are what is looked at.
  return output.replace(/\u001b\[[0-9;]*m/g, '');
}

function assertNothingActedOn(output: string, what: string): void {
  const rest = withoutOwnColours(output);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escapes are what is looked for.
  const raw = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e]/.exec(rest);
  assert.equal(
    raw,
    null,
    `${what}: a raw control character U+${raw?.[0].charCodeAt(0).toString(16)} in ${JSON.stringify(rest)}`,
  );
}

describe('what a terminal shows of hostile text', () => {
  it('the CLI and the inspector show escape sequences visibly, never send them raw', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const ids: string[] = [];
    for (const name of HOSTILE_NAMES) {
      const created = await postJson(`${service.url}/sessions`, { name, data: { [name]: name } });
      assert.equal(created.status, 201, created.text);
      ids.push(field(created).id);
    }
    const env = { NO_COLOR: '' };
    const url = ['--url', service.url];
    const list = await onTerminal(['session', 'list', ...url], env);
    assertNothingActedOn(list, 'session list');
    assert.ok(list.includes('\\u001b]0;PWNED\\u0007'), `shown visibly: ${list}`);
    assert.ok(list.includes('\\u202egnp.exe'), list);
    const get = await onTerminal(['session', 'get', ids[0] as string, ...url], env);
    assertNothingActedOn(get, 'session get');
    assert.ok(get.includes('\\u001b[2J'), get);
    assertNothingActedOn(await onTerminal(['events', ...url], env), 'events');

    await service.process.stop();
    const report = await onTerminal(['inspect', '--data-dir', dir], {});
    assertNothingActedOn(report, 'inspect');
    assert.ok(report.includes('\\u001b]0;PWNED'), report);
    // The events' extras are printed as the original's Python repr did, escapes and all.
    assert.ok(report.includes("'name': '\\x1b]0;PWNED\\x07\\x1b[2J'"), report);
  });
});
