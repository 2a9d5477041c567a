/**
 * `stateful migrate --from-dir DIR --to URL` copies a data directory into a
 * PostgreSQL database; `stateful migrate --from URL --to-dir DIR` writes a
 * database out as a data directory. See migrate/transfer.ts.
 */
import { parseArgs } from 'node:util';
import { printable } from '../domain/printable.js';
import {
  exportToDataDirectory,
  importDataDirectory,
  type ProgressListener,
  TransferError,
  type TransferReport,
} from '../migrate/transfer.js';
import { DataDirectoryBusyError, UnsafeDataDirectoryError } from '../store/file/index.js';

const USAGE =
  'usage: stateful migrate --from-dir DATA_DIR --to DATABASE_URL\n' +
  '       stateful migrate --from DATABASE_URL --to-dir DATA_DIR\n';

/** Says on stderr how far the copy has got, at most once a second (and each part's end). */
function progressLine(): ProgressListener {
  let last = 0;
  return ({ what, done, total }) => {
    const now = performance.now();
    if (now - last < 1000 && done < total) return;
    last = now;
    const share = total === 0 ? '' : ` (${Math.floor((100 * done) / total)}%)`;
    process.stderr.write(
      `migrate: ${what} ${done.toLocaleString('en')} of ${total.toLocaleString('en')}${share}\n`,
    );
  };
}

export async function migrateCommand(args: string[]): Promise<number> {
  let values: { 'from-dir'?: string; to?: string; from?: string; 'to-dir'?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'from-dir': { type: 'string' },
        to: { type: 'string' },
        from: { type: 'string' },
        'to-dir': { type: 'string' },
      },
    }));
  } catch (error) {
    process.stderr.write(`stateful migrate: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const into = values['from-dir'] !== undefined && values.to !== undefined;
  const out = values.from !== undefined && values['to-dir'] !== undefined;
  if (into === out) {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    const progress = progressLine();
    const report: TransferReport = into
      ? await importDataDirectory(values['from-dir'] as string, values.to as string, progress)
      : await exportToDataDirectory(values.from as string, values['to-dir'] as string, progress);
    process.stdout.write(
      `${JSON.stringify({ direction: into ? 'directory → database' : 'database → directory', ...report })}\n`,
    );
    process.stderr.write(
      `migrated ${report.sessions} sessions and ${report.events} events (${report.eventsAdded} added by this run); counts verified\n`,
    );
    return 0;
  } catch (error) {
    const known =
      error instanceof TransferError ||
      error instanceof DataDirectoryBusyError ||
      error instanceof UnsafeDataDirectoryError;
    // A message can name a session's data keys, or a database's text: shown, never acted on.
    const message = printable((error as Error).message);
    process.stderr.write(`stateful migrate: ${known ? message : `failed: ${message}`}\n`);
    return 1;
  }
}
