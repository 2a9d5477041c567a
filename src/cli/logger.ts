/**
 * The logger of `serve` and `supervise`: pino's JSON lines for machines (a
 * pipe, a file, a container's log), one readable line an entry on a terminal
 * (pino-pretty, in-process and synchronous, so nothing is lost at exit).
 * LOG_FORMAT=json or pretty decides instead of the terminal.
 */
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import type { ServiceConfig } from '../config.js';

export function makeLogger(
  config: Pick<ServiceConfig, 'logLevel' | 'logFormat'>,
  base: Record<string, unknown>,
): Logger {
  const readable =
    config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  if (!readable) return pino({ level: config.logLevel, base });
  return pino(
    { level: config.logLevel, base },
    pretty({ sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss', ignore: 'hostname' }),
  );
}

/**
 * Whether a person reads stdout and stderr on a terminal: a line written to
 * stderr for them need not be logged too (they would read it twice).
 */
export function personWatching(): boolean {
  return process.stdout.isTTY === true && process.stderr.isTTY === true;
}
