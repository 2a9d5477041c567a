#!/usr/bin/env node
/** `stateful`: the one command. Parses the first word and hands over; no logic lives here. */
import { ConfigError } from '../config.js';
import { EXIT_CONFIG } from '../lifecycle/exit-codes.js';
import { clientCommand, UsageError } from './client.js';
import { inspectCommand } from './inspect.js';
import { migrateCommand } from './migrate.js';
import { serveCommand } from './serve.js';
import { superviseCommand } from './supervise.js';

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

The client (--url URL, default http://127.0.0.1:$APP_PORT, APP_PORT=8091)
  session create [--name N] [--note TEXT] [--data JSON]
  session list [--limit N] [--newest] [--after CURSOR] | --all [--newest]
                                no option: the whole listing at once; --limit: a
                                page (stderr says how to get the next); --all:
                                every session, a page at a time, as one listing
  session get ID
  session update ID [--name N] [--note TEXT] [--data JSON]
                                merges (PATCH): data keys it does not name are
                                kept; --data '{"k":null}' removes k
  session delete ID
  state | health | events [--limit N] [--before POSITION] | crash [--wait]

Configuration comes from the environment: PORT, HOST, DATA_DIR, STORE and
DATABASE_URL, LOG_LEVEL, CRASH_ENDPOINT, ADMIN_TOKEN, timeouts and limits (the
README's configuration table).
`;

async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
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
      return command === undefined ? 2 : 0;
    default:
      return clientCommand(command, rest);
  }
}

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
      process.stderr.write(`stateful: ${(error as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`stateful: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  },
);
