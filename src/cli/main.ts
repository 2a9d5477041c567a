#!/usr/bin/env node
import { UnreachableError } from '../client/index.js';
/** `stateful`: the one command. Parses the first word and hands over; no logic lives here. */
import { ConfigError } from '../config.js';
import { printable } from '../domain/printable.js';
import { EXIT_CONFIG } from '../lifecycle/exit-codes.js';
import { packageVersion } from '../version.js';
import {
  badDuration,
  CLIENT_COMMANDS,
  CLIENT_FLAGS,
  COMMAND_FLAGS,
  COMMANDS,
  clientCommand,
  SESSION_COMMANDS,
} from './client.js';
import { INSPECT_FLAGS, inspectCommand } from './inspect.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';
import { flagWords } from './shell-words.js';
import { didYouMean } from './suggest.js';
import { superviseCommand } from './supervise.js';
import { UsageError } from './usage-error.js';

const USAGE = `Usage: stateful <command> [options]

The service
  serve                         run the service in the foreground
  supervise                     run it under a restart policy (what \`npm start\` does)
  inspect [--data-dir DIR] [--json] [--events N] [--sessions N|all]
                                read a data directory offline (the first and last
                                10 sessions in text, all in --json, unless asked)
  inspect --database-url URL [--json] [--events N] [--sessions N|all]
                                read a PostgreSQL store's database, no replica needed
  inspect --verify [--repair] [--data-dir DIR] [--json]
                                check it like fsck (exit 1 on problems); --repair
                                fixes what is safe to fix (the service stopped)
  migrate --from-dir DIR --to DATABASE_URL
                                copy a data directory into PostgreSQL (safe to re-run)
  migrate --from DATABASE_URL --to-dir DIR
                                write a PostgreSQL database out as a data directory

The client (--url URL, default http://127.0.0.1:$APP_PORT, APP_PORT=8091; or $HOST:$PORT)
Every client command prints a table (tab-separated into a pipe, nothing cut)
or \`key  value\` lines (colour on a terminal unless NO_COLOR is set); --json
prints the API's JSON instead.
  session create [--name N] [--note TEXT] [--data JSON]
                 [--ttl DURATION] [--idle DURATION]
                                --ttl: gone that long from now; --idle: gone
                                after that long without a write (or a read,
                                with SESSION_TOUCH=reads); DURATION is 90,
                                90s, 15m, 1h, 30d or never (none; unset: the
                                server's SESSION_TTL, SESSION_IDLE_TIMEOUT)
  session list [--all | --limit N [--after CURSOR]] [--newest] [--search TEXT]
                                on a terminal one page of 100 (stderr says how
                                to get the next); into a pipe, with --json (as
                                the original's listing) or with --all every
                                session; --search: names holding TEXT (any
                                case) or ids starting with it, page after page
                                for up to a second on a terminal, to the end
                                into a pipe or with --json; EXPIRES: time left
                                (— never) on a terminal, expires_at in a pipe
  session get ID
  session update ID --name N | --note TEXT | --data JSON
                    | --ttl DURATION | --idle DURATION (one or more)
                                merges (PATCH): data keys it does not name are
                                kept; --data '{"k":null}' removes k; --ttl
                                starts the lifetime again from now; never
                                removes that kind of expiry
  session delete ID [--yes]     on a terminal it asks first, unless --yes
  state                         this instance and the counters on the volume
  health                        whether it is ready, and why not
  events [--limit N] [--before POSITION]
                                the last N events (50), or the N before POSITION
  crash [--wait] [--yes]        ends the service on purpose (ADMIN_TOKEN is sent
                                as its bearer token); --wait for the next instance

Exit status: 0 done, 1 failed (e.g. not found), 2 usage error, 3 the service
did not answer, 78 a bad setting (PORT, HOST, APP_PORT); serve and supervise:
3 to 6 a start that cannot succeed as configured (the line says why: the
address, the data directory), 78 bad configuration.

Configuration comes from the environment: PORT, HOST, DATA_DIR, STORE and
DATABASE_URL, LOG_LEVEL, CRASH_ENDPOINT, ADMIN_TOKEN, timeouts and limits (all
of them: docs/operating.md, Configuration).
`;

/** Exit statuses of the commands (docs/operating.md, Exit statuses; serve and supervise have their own). */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_UNREACHABLE = 3;

/**
 * The usage of `words` (e.g. ["session", "update"]): the lines of USAGE that
 * start with them and the lines that continue each; all of it when none do.
 */
export function usageOf(words: readonly string[]): string {
  const lines = USAGE.split('\n');
  const picked: string[] = [];
  const prefix = `  ${words.join(' ')}`;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (words.length === 0 || !(line === prefix || line.startsWith(`${prefix} `))) continue;
    picked.push(line);
    while ((lines[i + 1] ?? '').startsWith('      ')) picked.push(lines[++i] as string);
  }
  if (picked.length === 0) return USAGE;
  const example = EXAMPLES[words.join(' ')];
  const client = CLIENT_WORDS.has(words[0] ?? '');
  return (
    `Usage: stateful\n${picked.join('\n')}\n` +
    (client ? CLIENT_FLAGS_USAGE : '') +
    (example === undefined ? '' : `\nExample:\n  ${example}\n`)
  );
}

const CLIENT_WORDS = new Set(CLIENT_COMMANDS);
/** The flags that take a duration (`--idle -1` is a wrong duration, not a flag). */
const DURATION_FLAGS = new Set(['ttl', 'idle']);

const CLIENT_FLAGS_USAGE = `
Every client command also takes
  --url URL                     the service (default http://127.0.0.1:$APP_PORT,
                                APP_PORT=8091; or $HOST:$PORT)
  --json                        the API's JSON instead of a table or key/value lines
`;

const EXAMPLES: Readonly<Record<string, string>> = {
  'session create': 'stateful session create --name alice --data \'{"plan":"pro"}\' --idle 15m',
  'session list': 'stateful session list --newest --search alice',
  'session get': 'stateful session get 3f2c9a4e-0b1d-4c8e-9f00-6a7b8c9d0e1f',
  'session update':
    'stateful session update 3f2c9a4e-0b1d-4c8e-9f00-6a7b8c9d0e1f --note "called back"',
  'session delete': 'stateful session delete 3f2c9a4e-0b1d-4c8e-9f00-6a7b8c9d0e1f --yes',
  state: 'stateful state --json',
  health: 'stateful health',
  events: 'stateful events --limit 20',
  crash: 'stateful crash --wait',
  inspect: 'stateful inspect --data-dir ./data --verify',
  migrate: 'stateful migrate --from-dir ./data --to postgres://localhost/stateful',
};

/**
 * A usage error as one line (what the person typed shown, never acted on)
 * and the help to run: the command's, or the whole usage when the command
 * itself is unknown.
 */
function usageMessage(error: Error, argv: readonly string[]): string {
  // Node's parser adds advice on positionals that only confuses here.
  let message = (error.message.split('\n')[0] ?? '').replace(/\. To specify .*$/, '.');
  // `--before -1`: the parser takes -1 for a flag; the value is what is wrong.
  const ambiguous = /^Option '--([\w-]+)' argument is ambiguous/.exec(message)?.[1];
  if (ambiguous !== undefined) {
    const value = argv[argv.indexOf(`--${ambiguous}`) + 1] ?? '';
    message = /^-\d/.test(value)
      ? DURATION_FLAGS.has(ambiguous)
        ? badDuration(ambiguous, value)
        : `--${ambiguous} must be a whole number; got ${value}.`
      : `--${ambiguous} ${value}: a value starting with "-" reads as a flag; write ${flagWords(ambiguous, value)} to mean it.`;
  }
  const words = commandWords(argv);
  const command = words.join(' ');
  const unknown = /^Unknown option '(--[^']+)'/.exec(message)?.[1];
  if (unknown !== undefined && !message.endsWith('.')) message += '.';
  if (unknown !== undefined && CLIENT_WORDS.has(words[0] ?? '')) {
    const takes = COMMAND_FLAGS[command];
    const flags =
      takes === undefined ? CLIENT_FLAGS : ['--url', '--json', ...takes.map((flag) => `--${flag}`)];
    message += didYouMean(unknown, flags);
  } else if (unknown !== undefined && words[0] === 'inspect') {
    message += didYouMean(unknown, INSPECT_FLAGS);
  }
  let help = `stateful ${command} --help`;
  if (!COMMANDS.includes(words[0] ?? '')) help = 'stateful --help';
  else if (words[0] === 'session' && !SESSION_COMMANDS.includes(words[1] ?? '')) {
    help = 'stateful session --help';
  }
  return `stateful: ${printable(message)}\nRun \`${printable(help)}\` for its usage.\n`;
}

/** The command's words, for its usage: `session update ID --x` is ["session", "update"]. */
function commandWords(argv: readonly string[]): string[] {
  const words = argv.filter((word) => !word.startsWith('-'));
  return words[0] === 'session' ? words.slice(0, 2) : words.slice(0, 1);
}

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V' || command === 'version') {
    process.stdout.write(`stateful ${packageVersion()}\n`);
    return 0;
  }
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(usageOf(commandWords(argv)));
    return 0;
  }
  switch (command) {
    case 'serve':
      return serveCommand();
    case 'supervise':
      return superviseCommand();
    case 'inspect':
      return inspectCommand(rest);
    case 'migrate':
      return migrateCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? EXIT_USAGE : 0;
    default:
      if (command.startsWith('-')) {
        throw new UsageError(`Flags go after the command, as in \`stateful health ${command} …\`.`);
      }
      return clientCommand(command, rest);
  }
}

// A reader that goes away (\`stateful session list | head\`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`stateful: configuration error: ${error.message}\n`);
      process.exitCode = EXIT_CONFIG;
    } else if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(usageMessage(error as Error, process.argv.slice(2)));
      process.exitCode = EXIT_USAGE;
    } else {
      const hint =
        error instanceof UnreachableError
          ? ' Is it running? Start it with `npm start`, or pass --url.'
          : '';
      process.stderr.write(`stateful: ${(error as Error).message}${hint}\n`);
      process.exitCode = error instanceof UnreachableError ? EXIT_UNREACHABLE : EXIT_FAILED;
    }
  },
);
