/**
 * A start that can never succeed as configured, told apart from a crash: the
 * address cannot be listened on, the data directory is held, unsafe or
 * closed to this user. Each has its own exit status (exit-codes.ts), which a
 * supervisor does not restart, and one message for a person: the cause and
 * what to change. All of them happen before the service counts its start
 * (the port is bound first, the directory checked before anything is
 * written), so a refused start leaves the directory as it found it.
 */
import { readFileSync } from 'node:fs';
import type { ServiceConfig } from '../config.js';
import {
  DataDirectoryBusyError,
  DataDirectoryUnusableError,
  dataLayout,
  isLockHeld,
  UnsafeDataDirectoryError,
} from '../store/file/index.js';
import {
  EXIT_CANNOT_LISTEN,
  EXIT_DATA_DIR_BUSY,
  EXIT_DATA_DIR_UNSAFE,
  EXIT_DATA_DIR_UNUSABLE,
} from './exit-codes.js';

/** Binding HOST:PORT failed: a name that does not resolve, an address not here, a port taken or closed. */
export class CannotListenError extends Error {
  readonly code: string;
  constructor(
    readonly host: string,
    readonly port: number,
    error: NodeJS.ErrnoException,
  ) {
    super(`cannot listen on ${host}:${port}: ${error.message}`, { cause: error });
    this.name = 'CannotListenError';
    this.code = error.code ?? 'EIO';
  }
}

export interface StartRefusal {
  status: number;
  /** For a person: the cause and what to do, one line. */
  message: string;
  /** For the log: what a machine may want to match on. */
  fields: Record<string, unknown>;
}

/** The lowest port this machine lets any user take (net.ipv4.ip_unprivileged_port_start). */
function lowestUnprivilegedPort(): number {
  try {
    const value = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    return Number.isInteger(value) ? value : 1024;
  } catch {
    return 1024;
  }
}

/** Whether a live instance holds `dataDir` (the lock is tried shared, read-only, and let go). */
function instanceRunsOn(dataDir: string): boolean {
  try {
    return isLockHeld(dataLayout(dataDir).lockFile);
  } catch {
    return false;
  }
}

/** Why the address cannot be listened on, and what to change; null for a passing failure. */
function cannotListen(error: CannotListenError, config: ServiceConfig): StartRefusal | null {
  const where = `cannot listen on ${error.host}:${error.port}`;
  const fields = { code: error.code, host: error.host, port: error.port };
  const refused = (message: string, status = EXIT_CANNOT_LISTEN): StartRefusal => ({
    status,
    message: `${where}: ${message}`,
    fields,
  });
  switch (error.code) {
    case 'EADDRINUSE':
      // `npm start` twice: the program on the port is most likely this service.
      if (config.store.kind === 'file' && instanceRunsOn(config.dataDir)) {
        return refused(
          `the port is in use, and another live instance owns the data directory ${config.dataDir}: the service is running already. Stop it first, or set PORT and DATA_DIR for a second one.`,
          EXIT_DATA_DIR_BUSY,
        );
      }
      return refused('the port is in use by another program. Stop that program, or set PORT.');
    case 'EACCES': {
      const lowest = lowestUnprivilegedPort();
      return refused(
        error.port < lowest
          ? `this user may not listen on a port below ${lowest}. Set PORT to ${lowest} or above.`
          : 'this user may not listen on that port. Set PORT to another.',
      );
    }
    case 'EADDRNOTAVAIL':
      return refused(
        'HOST is not an address of this machine. Set HOST to one of its addresses (127.0.0.1, or 0.0.0.0 for all).',
      );
    case 'ENOTFOUND':
      return refused(
        'HOST is no name this machine can resolve. Set HOST to an address of this machine (127.0.0.1, or 0.0.0.0 for all).',
      );
    default:
      // EAI_AGAIN (no resolver to ask yet) and the like pass: a restart may listen.
      return null;
  }
}

/** The refusal `error` is, or null when it is a failure a restart may get past. */
export function startRefusal(error: unknown, config: ServiceConfig): StartRefusal | null {
  if (error instanceof CannotListenError) return cannotListen(error, config);
  if (error instanceof DataDirectoryBusyError) {
    return {
      status: EXIT_DATA_DIR_BUSY,
      message: error.message,
      fields: { data_dir: config.dataDir },
    };
  }
  if (error instanceof UnsafeDataDirectoryError) {
    return {
      status: EXIT_DATA_DIR_UNSAFE,
      message: error.message,
      fields: {
        data_dir: config.dataDir,
        unsafe: error.hazards.map(({ path, problem }) => ({ path, problem: problem.kind })),
      },
    };
  }
  if (error instanceof DataDirectoryUnusableError) {
    return {
      status: EXIT_DATA_DIR_UNUSABLE,
      message: error.message,
      fields: { data_dir: config.dataDir, path: error.path },
    };
  }
  return null;
}
