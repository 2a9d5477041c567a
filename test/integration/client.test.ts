import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { COMMAND_FLAGS } from '../../src/cli/client.js';
import { CLI, freePort, runToEnd, spawnService } from '../../tools/service-process.js';
import { postJson } from '../helpers/http.js';
import { storedSessions } from '../helpers/stored-sessions.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The escape that starts every colour code. */
const ESC = '\u001b';

/**
 * What `stateful <args>` prints on a terminal of `columns` (script(1) gives
 * it one; COLUMNS where the terminal does not say), without colour and
 * without the terminal's carriage returns.
 */
function onTerminalOf(url: string, args: string, columns?: number): string {
  const width = columns === undefined ? '' : ` COLUMNS=${columns}`;
  return spawnSync(
    'script',
    [
      '-qec',
      `env -u NO_COLOR TERM=dumb${width} "${process.execPath}" "${CLI}" ${args} --url ${url}`,
      '/dev/null',
    ],
    { encoding: 'utf8' },
  ).stdout.replace(/\r/g, '');
}
describe('the stateful CLI client', () => {
  it('creates, lists, updates and deletes sessions with quotes, spaces and non-ASCII text', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--json', '--url', service.url];
    const name = `O'Brien "the" Ünïcødé 名前`;
    const note = `it's a "note" with spaces; $HOME \`echo\``;

    const created = await runToEnd(
      ['session', 'create', '--name', name, '--note', note, ...url],
      {},
    );
    assert.equal(created.code, 0, created.stderr);
    const session = JSON.parse(created.stdout);
    assert.equal(session.name, name);
    assert.deepEqual(session.data, { note });
    assert.equal((await storedSessions(dir)).get(session.id)?.name, name);

    const list = JSON.parse((await runToEnd(['session', 'list', ...url], {})).stdout);
    assert.equal(list.count, 1);
    const updated = await runToEnd(['session', 'update', session.id, '--name', 'bob', ...url], {});
    assert.equal(JSON.parse(updated.stdout).access_count, 1);
    const got = JSON.parse((await runToEnd(['session', 'get', session.id, ...url], {})).stdout);
    assert.equal(got.name, 'bob');
    assert.deepEqual(got.data, { note }, 'a rename keeps the data');
    // update merges (PATCH): keys it does not name are kept, null removes one.
    const update = async (...args: string[]) =>
      JSON.parse((await runToEnd(['session', 'update', session.id, ...args, ...url], {})).stdout);
    assert.deepEqual((await update('--data', '{"cart":[1,2],"x":{"y":true}}')).data, {
      note,
      cart: [1, 2],
      x: { y: true },
    });
    assert.deepEqual((await update('--note', 'x')).data, {
      note: 'x',
      cart: [1, 2],
      x: { y: true },
    });
    assert.deepEqual((await update('--data', '{"cart":null}')).data, { note: 'x', x: { y: true } });
    const state = JSON.parse((await runToEnd(['state', ...url], {})).stdout);
    assert.equal(state.live_sessions, 1);
    const events = JSON.parse((await runToEnd(['events', '--limit', '2', ...url], {})).stdout);
    assert.equal(events.events.length, 2);
    const deleted = await runToEnd(['session', 'delete', session.id, ...url], {});
    assert.match(deleted.stdout, /"status": "deleted"/);
    assert.equal((await storedSessions(dir)).size, 0);

    const missing = await runToEnd(['session', 'get', session.id, ...url], {});
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /HTTP 404/);
    assert.equal(JSON.parse(missing.stderr.slice(missing.stderr.indexOf('{'))).error, 'not_found');
  });

  it('shows people tables and key/value lines, in colour only on a terminal without NO_COLOR', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--url', service.url];
    const made = await runToEnd(
      ['session', 'create', '--name', 'alice', '--data', '{"plan":"pro"}', ...url],
      {},
    );
    assert.equal(made.code, 0, made.stderr);
    const id = /^id +(\S+)$/m.exec(made.stdout)?.[1] as string;
    assert.match(made.stdout, /^name +alice$/m);
    assert.match(made.stdout, /^access_count +0$/m);
    assert.match(made.stdout, /^data +\{"plan":"pro"\}$/m);
    await runToEnd(['session', 'create', '--name', 'bob', ...url], {});

    // Into a pipe: tab-separated values under a header line.
    const list = await runToEnd(['session', 'list', ...url], {});
    const lines = list.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'ID\tNAME\tACCESSES\tEXPIRES\tLAST ACTIVE\tDATA');
    assert.equal(lines.length, 3, 'a header and a row a session');
    assert.deepEqual(lines[1]?.split('\t').slice(0, 4), [id, 'alice', '0', ''], 'never: empty');
    assert.equal(lines[1]?.split('\t')[5], '{"plan":"pro"}');
    assert.equal(list.stderr, '2 sessions\n');
    assert.ok(!list.stdout.includes(ESC), 'no colour into a pipe');
    // On a terminal: aligned, every column starting where its title does.
    const listed = onTerminalOf(service.url, 'session list', 120);
    const rows = listed.trimEnd().split('\n');
    assert.match(rows[0] as string, /^ID +NAME +ACCESSES +EXPIRES +LAST ACTIVE +DATA$/);
    assert.ok(rows[1]?.startsWith(`${id}  alice`), rows[1]);
    const at = (rows[0] as string).indexOf('LAST ACTIVE');
    assert.match((rows[2] as string).slice(at), /^\d{4}-\d\d-\d\dT/);

    const state = await runToEnd(['state', ...url], {});
    assert.match(state.stdout, /^live_sessions +2$/m);
    assert.match(state.stdout, /^status +ok$/m);
    const events = await runToEnd(['events', ...url], {});
    assert.match(events.stdout, /^TIME\tINSTANCE\tEVENT\tDETAILS$/m);
    assert.match(events.stdout, new RegExp(`\tsession_created\tsession_id=${id} name=alice$`, 'm'));
    const missing = await runToEnd(['session', 'get', 'nope', ...url], {});
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'stateful: No session with id nope. (HTTP 404 not_found)\n');

    // script(1) gives the command a terminal: colour there, unless NO_COLOR.
    const onTerminal = (env: string) =>
      spawnSync(
        'script',
        ['-qec', `${env} "${process.execPath}" "${CLI}" state --url ${service.url}`, '/dev/null'],
        { encoding: 'utf8' },
      ).stdout;
    assert.ok(onTerminal('env -u NO_COLOR TERM=xterm').includes(`${ESC}[32mok${ESC}[39m`));
    assert.ok(!onTerminal('NO_COLOR=1 TERM=xterm').includes(ESC), 'NO_COLOR');
  });

  it('pipes every listed value whole, past the first page and past any width; a terminal gets one page, cut with …', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    // The first page (1,000) sets no width: names after it are longer than any on it.
    const names = [
      ...Array.from({ length: 1000 }, (_, i) => `s${i}`),
      ...Array.from({ length: 20 }, (_, i) => `late-and-long-${i}-${'x'.repeat(40 + i)}`),
      'tab\there',
    ];
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((name) => postJson(`${service.url}/sessions`, { name, data: { n: name.length } })),
      );
    }
    const listed = await runToEnd(['session', 'list', '--url', service.url], {});
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.trimEnd().split('\n');
    assert.equal(lines.length, names.length + 1, 'a header and a line a session');
    const cells = lines.slice(1).map((line) => line.split('\t'));
    assert.ok(
      cells.every((row) => row.length === 6),
      'six values on every line: no raw tab inside one',
    );
    assert.deepEqual(
      cells.map((row) => row[1]),
      names.map((name) => name.replace('\t', '\\u0009')),
      'every name whole, in creation order',
    );
    assert.ok(!listed.stdout.includes('…'), 'nothing cut');

    // On a terminal: the long names cut to the name column's 30 characters, with …
    const listedOn = (columns: number) =>
      spawnSync(
        'script',
        [
          '-qec',
          `stty cols ${columns}; env -u NO_COLOR TERM=dumb "${process.execPath}" "${CLI}" session list --all --url ${service.url}`,
          '/dev/null',
        ],
        { encoding: 'utf8' },
      ).stdout.replace(/\r/g, '');
    // 130: room for every column at its width (ID 36, NAME 30, ACCESSES, EXPIRES, LAST ACTIVE, DATA).
    const onTerminal = listedOn(130);
    const long = onTerminal.split('\n').find((line) => line.includes('late-and-long-19'));
    assert.ok(long !== undefined, onTerminal.slice(-500));
    assert.match(
      long,
      /late-and-long-19-x{12}… /,
      'cut at the column of 30, not at the first page',
    );
    // In 80 columns: no line wider; EXPIRES and LAST ACTIVE give way, and stderr says so.
    const narrow = listedOn(80);
    const wide = narrow
      .split('\n')
      .filter((line) => [...line].length > 80 && !line.startsWith('more: '));
    assert.deepEqual(wide, [], 'every line of the table fits 80 columns');
    assert.match(narrow, /^ID +NAME +ACCESSES +DATA$/m);
    assert.match(
      narrow,
      /\(not shown, to fit 80 columns: EXPIRES, LAST ACTIVE; --json shows every field\)/,
    );

    // On a terminal without --all: one page, and how to get the next.
    const onePage = onTerminalOf(service.url, 'session list');
    const shown = onePage.split('\n').filter((line) => /^[0-9a-f]{8}-/.test(line));
    assert.equal(shown.length, 100, onePage.slice(-300));
    assert.match(
      onePage,
      /more: stateful session list --limit 100 --after \S+ --url http:\/\/127\.0\.0\.1:\d+ \(--all: every session\)/,
    );
    const contradicting = await runToEnd(
      ['session', 'list', '--all', '--limit', '2', '--url', service.url],
      {},
    );
    assert.equal(contradicting.code, 2);
    assert.match(contradicting.stderr, /--all lists every session: it takes no --limit or --after/);
  });

  it('sets expiry with --ttl and --idle (never removes one), shows time left on a terminal and expires_at in a pipe', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--url', service.url];
    const json = async (...args: string[]) => {
      const run = await runToEnd([...args, '--json', ...url], {});
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout);
    };
    const before = Date.now();
    const both = await json('session', 'create', '--name', 'both', '--ttl', '1h', '--idle', '15m');
    assert.equal(both.idle_seconds, 900);
    const ends = Date.parse(both.ends_at) - before;
    assert.ok(ends >= 3599_000 && ends <= 3602_000, both.ends_at);
    assert.equal(Date.parse(both.expires_at) - Date.parse(both.last_active), 900_000, 'idle first');
    const never = await json('session', 'create', '--name', 'never');
    assert.equal(never.expires_at, undefined, 'no flag, no default: none of the three keys');
    assert.equal('ends_at' in never || 'idle_seconds' in never, false);

    // `session get` for people prints the three keys when there, none when not.
    const got = await runToEnd(['session', 'get', both.id, ...url], {});
    assert.match(got.stdout, new RegExp(`^expires_at +${both.expires_at}$`, 'm'));
    assert.match(got.stdout, new RegExp(`^ends_at +${both.ends_at}$`, 'm'));
    assert.match(got.stdout, /^idle_seconds +900$/m);
    const gotNever = await runToEnd(['session', 'get', never.id, ...url], {});
    assert.doesNotMatch(gotNever.stdout, /expires_at|ends_at|idle_seconds/);

    // update: --ttl never keeps only the idle timeout; --idle 3d alone adds one.
    const idleOnly = await json('session', 'update', both.id, '--ttl', 'never', '--idle', '90');
    assert.equal(idleOnly.ends_at, null);
    assert.equal(idleOnly.idle_seconds, 90);
    const gotIdle = await json('session', 'update', never.id, '--idle', '3d');
    assert.equal(gotIdle.idle_seconds, 259_200);
    assert.equal(gotIdle.name, 'never', 'an update of the expiry alone keeps the rest');
    const gone = await json('session', 'update', never.id, '--idle', 'never');
    assert.equal(gone.expires_at, undefined, 'no expiry left: none of the three keys');

    // Into a pipe: expires_at as is, empty for never.
    const piped = (await runToEnd(['session', 'list', ...url], {})).stdout.trimEnd().split('\n');
    assert.equal(piped[0], 'ID\tNAME\tACCESSES\tEXPIRES\tLAST ACTIVE\tDATA');
    assert.deepEqual(
      piped.slice(1).map((line) => line.split('\t').slice(0, 4)),
      [
        [both.id, 'both', '1', idleOnly.expires_at],
        [never.id, 'never', '2', ''],
      ],
    );
    // On a terminal: the time left, short; — for never.
    const listed = onTerminalOf(service.url, 'session list', 150);
    assert.match(listed, new RegExp(`^${both.id}  both +1 +(1m|\\d\\ds)  \\d{4}-`, 'm'));
    assert.match(listed, new RegExp(`^${never.id}  never +2 +—  \\d{4}-`, 'm'));

    // A duration it cannot read: a usage error naming the flag, before any request.
    for (const [flag, value] of [
      ['--ttl', '5x'],
      ['--idle', '-1'],
      ['--ttl', '0'],
      ['--idle', ''],
      ['--ttl', '101000d'],
    ] as const) {
      const bad = await runToEnd(['session', 'create', flag, value, ...url], {});
      assert.equal(bad.code, 2, `${flag} ${value}: ${bad.stderr}`);
      assert.match(
        bad.stderr,
        new RegExp(
          `^stateful: ${flag} (must be a duration such as 90, 90s, 15m, 1h or 30d|-1: a value)`,
        ),
      );
    }
    const badUpdate = await runToEnd(['session', 'update', both.id, '--ttl', '1w', ...url], {});
    assert.equal(badUpdate.code, 2);
    assert.match(badUpdate.stderr, /--ttl must be a duration .*got "1w"/);
    assert.equal((await json('state')).live_sessions, 2, 'no bad flag made a session');
  });

  it('lists a page at a time, newest first, and every page as one listing', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--json', '--url', service.url];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await runToEnd(['session', 'create', '--name', `c${i}`, ...url], {});
      ids.push(JSON.parse(created.stdout).id);
    }
    const whole = await runToEnd(['session', 'list', ...url], {});
    const all = await runToEnd(['session', 'list', '--all', ...url], {});
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout), JSON.parse(whole.stdout), 'the same listing');
    const newest = JSON.parse(
      (await runToEnd(['session', 'list', '--all', '--newest', ...url], {})).stdout,
    );
    assert.deepEqual(
      newest.sessions.map((session: { id: string }) => session.id),
      [...ids].reverse(),
    );

    const first = await runToEnd(['session', 'list', '--limit', '2', '--newest', ...url], {});
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      JSON.parse(first.stdout).sessions.map((session: { id: string }) => session.id),
      [ids[4], ids[3]],
    );
    const more = /more: stateful session list --limit 2 --newest --after (\S+)/.exec(first.stderr);
    assert.ok(more !== null, first.stderr);
    const second = await runToEnd(
      ['session', 'list', '--limit', '2', '--newest', '--after', more[1] as string, ...url],
      {},
    );
    assert.deepEqual(
      JSON.parse(second.stdout).sessions.map((session: { id: string }) => session.id),
      [ids[2], ids[1]],
    );
    const older = await runToEnd(['events', '--limit', '2', '--before', '3', ...url], {});
    assert.equal(JSON.parse(older.stdout).events.length, 2);
    assert.doesNotMatch(older.stderr, /older:/, 'nothing before position 1');
  });

  it('says plainly when the service is not running', async () => {
    const port = await freePort();
    const run = await runToEnd(['state'], { APP_PORT: String(port) });
    assert.equal(run.code, 3, 'exit status 3: the service did not answer');
    assert.match(run.stderr, new RegExp(`Cannot reach the service at http://127.0.0.1:${port}`));
    assert.match(run.stderr, /Is it running\?/);
  });

  it('finds the service where npm start listens (PORT, HOST) when APP_PORT is not set, and says a bad --url is a usage error', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const port = new URL(service.url).port;
    const byPort = await runToEnd(['health'], { PORT: port, HOST: '127.0.0.1' });
    assert.equal(byPort.code, 0, byPort.stderr);
    assert.match(byPort.stdout, /^container_id +[0-9a-f]{8}$/m);
    assert.doesNotMatch(
      byPort.stdout,
      /^(container|uptime) /m,
      'the original names, not shown twice',
    );
    const wildcard = await runToEnd(['health'], { PORT: port, HOST: '0.0.0.0' });
    assert.equal(wildcard.code, 0, 'a wildcard HOST is reached on loopback');
    const published = await runToEnd(['health'], {
      PORT: port,
      APP_PORT: String(await freePort()),
    });
    assert.equal(published.code, 3, 'APP_PORT, where Compose publishes it, comes first');

    for (const [url, why] of [
      ['notaurl', 'the URL cannot be parsed'],
      ['ftp://127.0.0.1:1', 'it is not http:// or https://'],
      ['http://', 'the URL cannot be parsed'],
      // The client adds paths to it: /health would become a query; fetch refuses credentials.
      [`http://127.0.0.1:${port}?x=1`, 'it has a query (?…)'],
      [`http://127.0.0.1:${port}/#top`, 'it has a fragment (#…)'],
      [`http://u:p@127.0.0.1:${port}`, 'it holds a user name or password'],
    ]) {
      const bad = await runToEnd(['state', '--url', url as string], {});
      assert.equal(bad.code, 2, `--url ${url}: ${bad.stderr}`);
      assert.ok(
        bad.stderr.startsWith(
          `stateful: --url must be the service's http:// or https:// URL, such as http://127.0.0.1:8091; "${url}": ${why}.\n`,
        ),
        bad.stderr,
      );
    }
  });

  it('refuses an update that names nothing to change, and changes nothing', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const url = ['--url', service.url, '--json'];
    const made = JSON.parse(
      (await runToEnd(['session', 'create', '--name', 'a', ...url], {})).stdout,
    );
    const nothing = await runToEnd(['session', 'update', made.id, ...url], {});
    assert.equal(nothing.code, 2, nothing.stderr);
    assert.match(nothing.stderr, /Nothing to update: give --name, --note, --data, --ttl or --idle/);
    const after = JSON.parse((await runToEnd(['session', 'get', made.id, ...url], {})).stdout);
    assert.equal(after.access_count, made.access_count, 'no request was sent');
  });

  it('rejects bad configuration at start with a message naming the variable', async () => {
    const run = await runToEnd(['serve'], { PORT: 'eighty' });
    assert.equal(run.code, 78);
    assert.match(run.stderr, /PORT must be an integer from 0 to 65535; got "eighty"/);
    const noDatabase = await runToEnd(['serve'], { STORE: 'postgres' });
    assert.equal(noDatabase.code, 78);
    assert.match(noDatabase.stderr, /STORE=postgres needs DATABASE_URL/);
    const unknown = await runToEnd(['serve'], { STORE: 'redis' });
    assert.equal(unknown.code, 78);
    assert.match(unknown.stderr, /STORE must be file or postgres; got "redis"/);
  });

  it('has the manners of a command line tool: --version, --help, short usage errors, exit statuses, quiet on a closed pipe', async (t) => {
    const version = await runToEnd(['--version'], {});
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^stateful \d+\.\d+\.\d+\n$/);
    const help = await runToEnd(['session', 'update', '--help'], {});
    assert.equal(help.code, 0, 'help is not an error');
    assert.match(help.stdout, /session update ID/);
    assert.doesNotMatch(help.stdout, /session create/, 'the usage of that command only');
    assert.match(help.stdout, /--url URL +the service/, 'the flags every client command takes');
    assert.match(help.stdout, /--json +the API's JSON/);
    assert.match(help.stdout, /Example:\n {2}stateful session update \S+ --note/);
    // A typo gets the nearest word, a command or a flag.
    const typo = await runToEnd(['sesion', 'list'], {});
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Unknown command "sesion"\. Did you mean "session"\?/);
    const subTypo = await runToEnd(['session', 'lsit', '--url', 'http://127.0.0.1:1'], {});
    assert.equal(subTypo.code, 2);
    assert.match(subTypo.stderr, /Unknown session command "lsit"\. Did you mean "list"\?/);
    const flagTypo = await runToEnd(['session', 'create', '--nmae', 'x'], {});
    assert.equal(flagTypo.code, 2);
    assert.match(flagTypo.stderr, /Unknown option '--nmae'\. Did you mean "--name"\?/);
    const inspectTypo = await runToEnd(['inspect', '--verfy'], {});
    assert.equal(inspectTypo.code, 2);
    assert.match(inspectTypo.stderr, /Unknown option '--verfy'\. Did you mean "--verify"\?/);
    // Each command's help names every flag it takes; a flag it does not take is refused.
    for (const [command, flags] of Object.entries(COMMAND_FLAGS)) {
      const usage = await runToEnd([...command.split(' '), '--help'], {});
      for (const flag of flags)
        assert.match(usage.stdout, new RegExp(`--${flag}\\b`), `${command} --${flag}`);
    }
    // Words, data and ranges the command cannot take: refused before any request.
    for (const [args, line] of [
      [
        ['session', 'create', 'alice'],
        'session create takes no "alice" (a name is given as --name NAME).',
      ],
      [['session', 'get', 'a', 'b'], 'session get takes no "b".'],
      [['health', 'now'], 'health takes no "now".'],
      [
        ['session', 'create', '--data', '"str"', '--note', 'x'],
        '--data must be a JSON object, e.g. --data \'{"plan":"pro"}\'',
      ],
      [['session', 'list', '--limit', '0'], '--limit must be a whole number from 1 to 1000.'],
      [['events', '--limit', '10001'], '--limit must be a whole number from 1 to 10000.'],
      [['session', 'list', '--search', 'x'.repeat(201)], '--search takes at most 200 characters.'],
      [
        ['--url', 'http://127.0.0.1:1', 'health'],
        'Flags go after the command, as in `stateful health --url …`.',
      ],
      [
        ['session', 'create', '--name', "-dash it's"],
        `--name -dash it's: a value starting with "-" reads as a flag; write --name='-dash it'\\''s' to mean it.`,
      ],
      [['\u001b]0;T\u0007'], 'Unknown command "\\u001b]0;T\\u0007".'],
    ] as const) {
      const refused = await runToEnd([...args, '--url', 'http://127.0.0.1:1'], {});
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.equal(refused.stderr.split('\n')[0], `stateful: ${line}`, args.join(' '));
    }
    const typoHelp = await runToEnd(['sesion', 'list'], {});
    assert.match(
      typoHelp.stderr,
      /\nRun `stateful --help` for its usage\.\n$/,
      "not the typo's help",
    );
    const foreign = await runToEnd(['health', '--name', 'x'], {});
    assert.equal(foreign.code, 2);
    assert.match(
      foreign.stderr,
      /^stateful: health takes no --name \(it takes only --url and --json\)\.\n/,
    );
    const negative = await runToEnd(['events', '--before', '-1'], {});
    assert.equal(negative.code, 2);
    assert.deepEqual(negative.stderr.trim().split('\n'), [
      'stateful: --before must be a whole number; got -1.',
      'Run `stateful events --help` for its usage.',
    ]);
    const meant = await runToEnd(['events', '--before=-1'], {});
    assert.match(meant.stderr, /^stateful: --before must be a whole number, 1 or more\.\n/);
    const bad = await runToEnd(['session', 'create', '--bogus'], {});
    assert.equal(bad.code, 2);
    assert.deepEqual(bad.stderr.trim().split('\n'), [
      "stateful: Unknown option '--bogus'.",
      'Run `stateful session create --help` for its usage.',
    ]);
    const badJson = await runToEnd(
      ['session', 'create', '--data', '{nope', '--url', 'http://127.0.0.1:1'],
      {},
    );
    assert.equal(badJson.code, 2);
    assert.equal(badJson.stderr.trim().split('\n').length, 2, 'one line and a pointer');

    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const missing = await runToEnd(
      ['session', 'get', '00000000-0000-4000-8000-000000000000', '--url', service.url],
      {},
    );
    assert.equal(missing.code, 1, 'not found');
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        postJson(`${service.url}/sessions`, { name: `s${i}`, data: { text: 'x'.repeat(200) } }),
      ),
    );
    // `stateful session list | head -c 1`: the reader goes away after one byte.
    const piped = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI}" session list --url ${service.url} | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(piped.stdout.trim(), '0', piped.stderr);
    assert.equal(piped.stderr, '', 'no stack trace');
  });

  it('asks before a delete on a terminal (no unless y), and not with --yes or off a terminal', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const made = async () =>
      (await postJson(`${service.url}/sessions`, { name: 'kept?' })).json as { id: string };
    // script(1) gives the command a terminal; the answer comes on its stdin.
    const onTerminal = (args: string, answer: string) =>
      spawnSync(
        'script',
        ['-qec', `"${process.execPath}" "${CLI}" ${args} --url ${service.url}`, '/dev/null'],
        { input: answer, encoding: 'utf8' },
      );
    const first = await made();
    const declined = onTerminal(`session delete ${first.id}`, 'n\n');
    assert.equal(declined.status, 1, declined.stdout);
    assert.match(declined.stdout, /Delete session .*\? \[y\/N\]/);
    assert.match(declined.stdout, /Nothing done/);
    assert.equal((await storedSessions(dir)).has(first.id), true, 'not deleted');
    const accepted = onTerminal(`session delete ${first.id}`, 'y\n');
    assert.equal(accepted.status, 0, accepted.stdout);
    assert.equal((await storedSessions(dir)).has(first.id), false);
    const second = await made();
    const forced = onTerminal(`session delete ${second.id} --yes`, '');
    assert.equal(forced.status, 0, forced.stdout);
    assert.doesNotMatch(forced.stdout, /\[y\/N\]/);
    const third = await made();
    const scripted = await runToEnd(['session', 'delete', third.id, '--url', service.url], {});
    assert.equal(scripted.code, 0, 'off a terminal it does not ask');
  });
});
