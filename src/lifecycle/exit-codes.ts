/**
 * Exit statuses the service uses, so a supervisor can tell a crash (restart
 * it) from a start that can never succeed (do not restart in a loop).
 */
export const EXIT_CLEAN = 0;
/** /crash, an uncaught exception, a failed start: restart it. */
export const EXIT_CRASH = 1;
/** Another live instance owns the data directory. */
export const EXIT_DATA_DIR_BUSY = 3;
/** The address cannot be listened on: the port is taken or not allowed, HOST is none of this machine's or no name. */
export const EXIT_CANNOT_LISTEN = 4;
/** A name in the data directory is a symlink, a FIFO...: never used (see data-dir-safety.ts). */
export const EXIT_DATA_DIR_UNSAFE = 5;
/** This user may not make, read or write the data directory, or it is a file (data-dir-access.ts). */
export const EXIT_DATA_DIR_UNUSABLE = 6;
/** The configuration is invalid (EX_CONFIG). */
export const EXIT_CONFIG = 78;

export const PERMANENT_FAILURES: ReadonlySet<number> = new Set([
  EXIT_DATA_DIR_BUSY,
  EXIT_CANNOT_LISTEN,
  EXIT_DATA_DIR_UNSAFE,
  EXIT_DATA_DIR_UNUSABLE,
  EXIT_CONFIG,
]);
