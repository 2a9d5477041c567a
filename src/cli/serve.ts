/**
 * `stateful serve`: runs the service in the foreground until SIGTERM/SIGINT
 * (a clean stop), a /crash (exit 1), or an uncaught error (exit 1, counted as
 * a crash at the next start).
 */

import type { Logger } from 'pino';
import { isSupervised, loadServiceConfig, type ServiceConfig, tuneRuntime } from '../config.js';
import { AppError } from '../domain/errors.js';
import { EXIT_CLEAN, EXIT_CRASH } from '../lifecycle/exit-codes.js';
import { startRefusal } from '../lifecycle/start-refusal.js';
import type { SupervisedMessage } from '../lifecycle/supervisor.js';
import { startService } from '../lifecycle/wiring.js';
import { makeLogger, personWatching } from './logger.js';

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

/**
 * Says why the start failed, once, and returns the exit status. A refusal
 * (startRefusal: a restart would meet the same) is one line on stderr with
 * the cause and what to do, and a fatal log line for machines, left out when
 * a person watches both on one terminal (it would say the same again). Any
 * other failure is restarted by a supervisor: one the application explains
 * (a full disk: space may come back) in its words, anything else with its stack.
 */
function startFailure(error: unknown, config: ServiceConfig, logger: Logger): number {
  const refusal = startRefusal(error, config);
  if (refusal === null) {
    const message = `cannot start: ${(error as Error).message}`;
    // An error the application explains (a full disk) needs no stack; anything else may be a bug.
    if (!(error instanceof AppError)) logger.fatal({ err: error }, 'cannot start');
    else if (!personWatching()) logger.fatal({ code: error.code }, message);
    process.stderr.write(`stateful: ${message}\n`);
    return EXIT_CRASH;
  }
  if (!personWatching()) logger.fatal(refusal.fields, refusal.message);
  process.stderr.write(`stateful: ${refusal.message}\n`);
  return refusal.status;
}
