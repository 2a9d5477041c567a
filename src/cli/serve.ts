/**
 * `stateful serve`: runs the service in the foreground until SIGTERM/SIGINT
 * (a clean stop), a /crash (exit 1), or an uncaught error (exit 1, counted as
 * a crash at the next start).
 */

import type { Logger } from 'pino';
import { isSupervised, loadServiceConfig, type ServiceConfig, tuneRuntime } from '../config.js';
import {
  EXIT_CANNOT_LISTEN,
  EXIT_CLEAN,
  EXIT_CRASH,
  EXIT_DATA_DIR_BUSY,
  EXIT_DATA_DIR_UNSAFE,
} from '../lifecycle/exit-codes.js';
import type { SupervisedMessage } from '../lifecycle/supervisor.js';
import { startService } from '../lifecycle/wiring.js';
import { DataDirectoryBusyError, UnsafeDataDirectoryError } from '../store/file/index.js';
import { makeLogger } from './logger.js';

/** A message to the supervisor over its IPC channel, when there is one (see SupervisedMessage). */
function tellSupervisor(message: SupervisedMessage): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

export async function serveCommand(): Promise<number | undefined> {
  tuneRuntime();
  const config = loadServiceConfig();
  const logger = makeLogger(config, { pid: process.pid });

  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception: exiting');
    process.exit(EXIT_CRASH);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection: exiting');
    process.exit(EXIT_CRASH);
  });

  // Handled from the first moment: a stop asked for while the service
  // starts (the supervisor forwards one as soon as the service says it
  // listens) waits for the start, then stops it cleanly.
  let service: Awaited<ReturnType<typeof startService>> | null = null;
  let stopAsked: string | null = null;
  const stop = (reason: string) => {
    if (service === null) {
      stopAsked ??= reason;
      return;
    }
    service.stop(reason).then(
      () => process.exit(EXIT_CLEAN),
      (error: unknown) => {
        logger.fatal({ err: error }, 'clean stop failed');
        process.exit(EXIT_CRASH);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  try {
    // Under the supervisor, what the boot is doing goes to it too (supervisor.ts).
    service = await startService(
      config,
      logger,
      { exitAfterCrash: () => process.exit(EXIT_CRASH) },
      (message, detail) => {
        if (message === 'starting') tellSupervisor({ kind: 'starting', detail });
      },
    );
  } catch (error) {
    return startFailure(error, config, logger);
  }

  tellSupervisor({ kind: 'listening', url: service.url });
  if (stopAsked !== null) stop(stopAsked);
  // Under the supervisor: if it goes away, stop rather than run unsupervised,
  // including when it went away while this process was still starting (the
  // 'disconnect' event has passed by then).
  if (isSupervised()) {
    if (process.connected) process.on('disconnect', () => stop('supervisor_gone'));
    else stop('supervisor_gone');
  }
  return undefined;
}

/** Why an address cannot be listened on, and what to change; a restart would meet the same. */
const CANNOT_LISTEN: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the port is already in use by another program. Stop that program, or set PORT.',
  EACCES: 'this user may not listen on that port. Set PORT to one above 1023.',
  EADDRNOTAVAIL:
    'HOST is not an address of this machine. Set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for all).',
  ENOTFOUND:
    'HOST is no name this machine can resolve. Set HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for all).',
};

/**
 * Says why the start failed, once, and returns the exit status: a restart
 * would meet the same busy or unsafe directory, or the same address.
 */
function startFailure(error: unknown, config: ServiceConfig, logger: Logger): number {
  if (error instanceof DataDirectoryBusyError) {
    logger.fatal({ data_dir: config.dataDir }, error.message);
    process.stderr.write(`stateful: ${error.message}\n`);
    return EXIT_DATA_DIR_BUSY;
  }
  if (error instanceof UnsafeDataDirectoryError) {
    // A restart would meet the same: say which path, and what to do, once.
    logger.fatal(
      {
        data_dir: config.dataDir,
        unsafe: error.hazards.map(({ path, problem }) => ({ path, problem: problem.kind })),
      },
      error.message,
    );
    process.stderr.write(`stateful: ${error.message}\n`);
    return EXIT_DATA_DIR_UNSAFE;
  }
  const code = (error as NodeJS.ErrnoException).code;
  const cannotListen = code === undefined ? undefined : CANNOT_LISTEN[code];
  if (cannotListen !== undefined) {
    // A restart would meet the same: say what to change, once.
    const message = `cannot listen on ${config.host}:${config.port}: ${cannotListen}`;
    logger.fatal({ code }, message);
    process.stderr.write(`stateful: ${message}\n`);
    return EXIT_CANNOT_LISTEN;
  }
  logger.fatal({ err: error }, 'cannot start');
  process.stderr.write(`stateful: cannot start: ${(error as Error).message}\n`);
  return EXIT_CRASH;
}
