/**
 * The client for people: `stateful session …`, `state`, `events`, `health`,
 * `crash`, on the package's typed client (src/client). Shows tables and
 * `key  value` lines (colour on a terminal), or with `--json` the API's JSON
 * (its values as they came, indented), for scripts. Bodies are built with JSON.stringify, so quotes,
 * spaces and any Unicode in names and notes just work.
 */
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { ApiError, type Session, StatefulClient, wrongBaseUrl } from '../client/index.js';
import { loadClientConfig } from '../config.js';
import { MAX_EVENT_LIMIT } from '../domain/event.js';
import { parseDuration } from '../domain/expiry.js';
import { printable } from '../domain/printable.js';
import {
  eventTable,
  type Output,
  objectFields,
  sayHidden,
  sessionFields,
  styleFor,
  tableWidth,
  write,
  writeJson,
} from './output.js';
import { listSessions } from './session-list.js';
import { flagWords } from './shell-words.js';
import { didYouMean } from './suggest.js';
import { UsageError, wholeNumber } from './usage-error.js';

/** The commands that talk to a running service. */
export const CLIENT_COMMANDS: readonly string[] = ['session', 'state', 'health', 'events', 'crash'];
/** Every command `stateful` takes, and `session`'s own (for "did you mean"). */
export const COMMANDS: readonly string[] = [
  'serve',
  'supervise',
  'inspect',
  'migrate',
  'help',
  'version',
  ...CLIENT_COMMANDS,
];
export const SESSION_COMMANDS: readonly string[] = ['create', 'list', 'get', 'update', 'delete'];

/** The flags the client commands take, as parseArgs reads them. */
const CLIENT_OPTIONS = {
  url: { type: 'string' },
  name: { type: 'string' },
  note: { type: 'string' },
  data: { type: 'string' },
  ttl: { type: 'string' },
  idle: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  before: { type: 'string' },
  search: { type: 'string' },
  newest: { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  yes: { type: 'boolean', short: 'y', default: false },
  json: { type: 'boolean', default: false },
} as const;

type Flag = keyof typeof CLIENT_OPTIONS;

/** The flags each command takes beyond --url and --json (a flag it does not take is a usage error). */
export const COMMAND_FLAGS: Readonly<Record<string, readonly Flag[]>> = {
  'session create': ['name', 'note', 'data', 'ttl', 'idle'],
  'session list': ['limit', 'after', 'newest', 'all', 'search'],
  'session get': [],
  'session update': ['name', 'note', 'data', 'ttl', 'idle'],
  'session delete': ['yes'],
  state: [],
  health: [],
  events: ['limit', 'before'],
  crash: ['wait', 'yes'],
};

/** Refuses a flag the command does not take: `health --name x` would be ignored silently. */
function refuseForeignFlags(command: string, given: readonly string[]): void {
  const takes = COMMAND_FLAGS[command];
  if (takes === undefined) return; // an unknown command: refused with its own message
  const foreign = given.find(
    (flag) => flag !== 'url' && flag !== 'json' && !takes.includes(flag as Flag),
  );
  if (foreign === undefined) return;
  const its =
    takes.length === 0 ? 'only --url and --json' : takes.map((flag) => `--${flag}`).join(', ');
  throw new UsageError(`${command} takes no --${foreign} (it takes ${its}).`);
}

/** The client commands' flags as typed (`--url`), for "did you mean". */
export const CLIENT_FLAGS: readonly string[] = Object.keys(CLIENT_OPTIONS).map(
  (flag) => `--${flag}`,
);

/** What a create or an update sends: name, data, and the expiry each flag gives. */
type SessionBody = {
  name?: string;
  data?: Record<string, unknown>;
  ttl_seconds?: number | null;
  idle_seconds?: number | null;
};

/**
 * `--ttl` or `--idle` as seconds for the body: `never` is null (no expiry of
 * that kind), anything parseDuration does not read is a usage error naming
 * the flag, before any request.
 */
function durationFlag(flag: 'ttl' | 'idle', value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  const seconds = parseDuration(value);
  // '' reads as never for a setting; a flag given empty is more likely a slip.
  if (seconds === undefined || value.trim() === '') throw new UsageError(badDuration(flag, value));
  return seconds;
}

/** What a duration flag takes, for the usage error of one that is wrong (`--idle -1` too). */
export const badDuration = (flag: string, value: string) =>
  `--${flag} must be a duration such as 90, 90s, 15m, 1h or 30d (at most 100 years), or never; got "${value}".`;

function sessionBody(values: {
  name?: string;
  note?: string;
  data?: string;
  ttl?: string;
  idle?: string;
}): SessionBody {
  const body: SessionBody = {};
  if (values.name !== undefined) body.name = values.name;
  let data: Record<string, unknown> | undefined;
  if (values.data !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(values.data);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UsageError('--data must be a JSON object, e.g. --data \'{"plan":"pro"}\'');
    }
    data = parsed as Record<string, unknown>;
  }
  if (values.note !== undefined) data = { ...(data ?? {}), note: values.note };
  if (data !== undefined) body.data = data;
  const ttl = durationFlag('ttl', values.ttl);
  if (ttl !== undefined) body.ttl_seconds = ttl;
  const idle = durationFlag('idle', values.idle);
  if (idle !== undefined) body.idle_seconds = idle;
  return body;
}

async function waitForNewInstance(
  client: StatefulClient,
  oldId: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      if ((await client.health()).container_id !== oldId) return true;
    } catch {
      // still down
    }
  }
  return false;
}

/**
 * Asks on a terminal, where a person can answer; anywhere else (a script, a
 * pipe) the command goes ahead, as `--yes` makes it on a terminal.
 */
async function confirm(question: string): Promise<boolean> {
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) return true;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (/^y(es)?$/i.test(answer.trim())) return true;
    process.stderr.write('Nothing done.\n');
    return false;
  } finally {
    prompt.close();
  }
}

export async function clientCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: CLIENT_OPTIONS,
    allowPositionals: true,
    strict: true,
    tokens: true,
  });
  refuseForeignFlags(
    command === 'session' ? `session ${positionals[0]}` : command,
    tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : [])),
  );
  if (command !== 'session' && CLIENT_COMMANDS.includes(command) && positionals[0] !== undefined) {
    throw new UsageError(`${command} takes no "${positionals[0]}".`);
  }
  const url = values.url ?? loadClientConfig().url;
  const wrong = wrongBaseUrl(url);
  if (wrong !== null) {
    throw new UsageError(
      `--url must be the service's http:// or https:// URL, such as http://127.0.0.1:8091; "${printable(url)}": ${wrong}.`,
    );
  }
  const token = process.env.ADMIN_TOKEN;
  const client = new StatefulClient({ url, ...(token ? { token } : {}) });
  const out: Output = {
    json: values.json,
    style: styleFor(process.stdout),
    width: tableWidth(process.stdout),
    again: `${values.url === undefined ? '' : ` ${flagWords('url', values.url)}`}${values.json ? ' --json' : ''}`,
  };
  try {
    return await run(client, out, command, values, positionals);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (out.json) {
      // A body that is not JSON is the server's text: shown, never acted on.
      const body =
        typeof error.body === 'string'
          ? printable(error.body)
          : JSON.stringify(error.body, null, 2);
      process.stderr.write(`HTTP ${error.status}\n${body}\n`);
    } else {
      const red = styleFor(process.stderr).red;
      process.stderr.write(
        `${red('stateful:')} ${printable(error.message)} (HTTP ${error.status} ${printable(error.code)})\n`,
      );
    }
    return 1;
  }
}

type Values = {
  name?: string;
  note?: string;
  data?: string;
  ttl?: string;
  idle?: string;
  limit?: string;
  after?: string;
  before?: string;
  search?: string;
  newest: boolean;
  all: boolean;
  wait: boolean;
  yes: boolean;
};

async function run(
  client: StatefulClient,
  out: Output,
  command: string,
  values: Values,
  positionals: string[],
): Promise<number> {
  switch (command) {
    case 'health': {
      // For people, once each: `container` and `uptime` are the original's names of the same.
      const answer = await client.health();
      const { container: _container, uptime: _uptime, ...health } = answer;
      await showObject(out, out.json ? answer : health);
      return 0;
    }
    case 'state':
      await showObject(out, await client.state());
      return 0;
    case 'events':
      return runEvents(client, out, values);
    case 'crash':
      return runCrash(client, out, values);
    case 'session':
      return runSession(client, out, values, positionals);
    default:
      throw new UsageError(`Unknown command "${command}".${didYouMean(command, COMMANDS)}`);
  }
}

const showObject = (out: Output, value: object) =>
  out.json ? writeJson(value) : write(objectFields(value as Record<string, unknown>, out.style));

const showSession = (out: Output, session: Session) =>
  out.json ? writeJson(session) : write(sessionFields(session, out.style));

/** `stateful events`: a page of the log, and the command for the page before it. */
async function runEvents(client: StatefulClient, out: Output, values: Values): Promise<number> {
  const limit = wholeNumber('limit', values.limit, 1, MAX_EVENT_LIMIT);
  const before = wholeNumber('before', values.before, 1);
  const page = await client.events({
    ...(limit === undefined ? {} : { limit }),
    ...(before === undefined ? {} : { before }),
  });
  if (out.json) await writeJson(page);
  else if (page.events.length === 0) {
    process.stderr.write(before === undefined ? 'No events.\n' : `No events before ${before}.\n`);
  } else {
    const rows = eventTable(out.style, out.width);
    await write(rows.rows(page.events));
    sayHidden(rows.hidden(), out);
  }
  const older = page.next ?? (before === undefined ? page.count - page.events.length + 1 : 1);
  if (older > 1) {
    process.stderr.write(
      `older: stateful events --limit ${limit ?? 50} --before ${older}${out.again}\n`,
    );
  }
  return 0;
}

/** `stateful crash`: once confirmed, and with --wait until another instance answers. */
async function runCrash(client: StatefulClient, out: Output, values: Values): Promise<number> {
  if (!values.yes && !(await confirm(`Crash the service at ${client.url}?`))) return 1;
  const before = await client.health();
  const crashed = await client.crash();
  if (out.json) await writeJson(crashed);
  else
    await write(
      `The service is crashing (crash_count ${printable(String(crashed.crash_count))}).\n`,
    );
  if (!values.wait) return 0;
  process.stderr.write('waiting for the service to come back…\n');
  if (!(await waitForNewInstance(client, before.container_id, 60_000))) {
    process.stderr.write('the service did not come back within 60 s\n');
    return 1;
  }
  await showObject(out, await client.state());
  return 0;
}

/** `stateful session create|list|get|update|delete`. */
async function runSession(
  client: StatefulClient,
  out: Output,
  values: Values,
  positionals: string[],
): Promise<number> {
  const id = () => {
    const value = positionals[1];
    if (value === undefined) throw new UsageError('This command needs a session id.');
    return value;
  };
  // `session create alice` would make a session named "unnamed": say so instead.
  const words = positionals[0] === 'create' || positionals[0] === 'list' ? 1 : 2;
  const extra = positionals[words];
  if (extra !== undefined && SESSION_COMMANDS.includes(positionals[0] ?? '')) {
    const hint = positionals[0] === 'create' ? ' (a name is given as --name NAME)' : '';
    throw new UsageError(`session ${positionals[0]} takes no "${extra}"${hint}.`);
  }
  switch (positionals[0]) {
    case 'create':
      await showSession(out, await client.createSession(sessionBody(values)));
      return 0;
    case 'list':
      await listSessions(client, out, values);
      return 0;
    case 'get':
      await showSession(out, await client.getSession(id()));
      return 0;
    case 'update': {
      // A merge patch: keys of data it does not name are kept (null removes one);
      // --ttl starts the lifetime again from now, --idle sets the idle timeout.
      const body = sessionBody(values);
      if (Object.keys(body).length === 0) {
        throw new UsageError('Nothing to update: give --name, --note, --data, --ttl or --idle.');
      }
      await showSession(out, await client.patchSession(id(), body));
      return 0;
    }
    case 'delete': {
      const target = id();
      if (!values.yes && !(await confirm(`Delete session ${printable(target)}?`))) return 1;
      const deleted = await client.deleteSession(target);
      if (out.json) await writeJson(deleted);
      else await write(`Deleted session ${printable(deleted.id)}.\n`);
      return 0;
    }
    default:
      throw new UsageError(
        positionals[0] === undefined
          ? 'Usage: stateful session create|list|get|update|delete …'
          : `Unknown session command "${positionals[0]}".${didYouMean(positionals[0], SESSION_COMMANDS)}`,
      );
  }
}
