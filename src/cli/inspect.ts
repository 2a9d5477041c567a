/** `stateful inspect`: the offline inspector's command line, and its checker. */

import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { loadServiceConfig } from '../config.js';
import { printable } from '../domain/printable.js';
import {
  NotADataDirectoryError,
  readDataDirectory,
  type StoreReport,
} from '../inspector/read-data-dir.js';
import { NotAStoreDatabaseError, readDatabase } from '../inspector/read-database.js';
import { repairDataDirectory } from '../inspector/repair.js';
import { jsonReportPieces, textReportLines } from '../inspector/text-report.js';
import { type VerifyReport, verifyDataDirectory } from '../inspector/verify.js';
import {
  DataDirectoryBusyError,
  UnsafeDataDirectoryError,
  UnsafeFileError,
} from '../store/file/index.js';

function printVerifyReport(report: VerifyReport, json: boolean): void {
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ ...report, ok: report.findings.length === 0 }, null, 2)}\n`,
    );
    return;
  }
  const { sessionFiles, eventLines } = report.checked;
  // File names and contents are anyone's: shown, never acted on by the terminal.
  process.stdout.write(
    `checked ${printable(report.dataDir)}: ${sessionFiles} session files, ${eventLines} event lines\n`,
  );
  for (const finding of report.findings) {
    const fix = finding.repair === undefined ? '' : ` [--repair: ${printable(finding.repair)}]`;
    process.stdout.write(`  ! ${printable(finding.problem)}${fix}\n`);
  }
  process.stdout.write(
    report.findings.length === 0 ? 'clean\n' : `${report.findings.length} problems found\n`,
  );
}

/** Writes a report in pieces of about 64 KiB, waiting whenever stdout is behind. */
async function printReport(
  report: StoreReport,
  eventLimit: number,
  sessionLimit: number | null,
  json: boolean,
): Promise<void> {
  const pieces = json
    ? jsonReportPieces(report, sessionLimit)
    : textReportLines(report, eventLimit, sessionLimit);
  let buffered = '';
  for (const piece of pieces) {
    buffered += json ? piece : `${piece}\n`;
    if (buffered.length < 64 * 1024) continue;
    if (!process.stdout.write(buffered)) await once(process.stdout, 'drain');
    buffered = '';
  }
  process.stdout.write(buffered);
}

async function verifyCommand(dataDir: string, repair: boolean, json: boolean): Promise<number> {
  if (repair) {
    const done = await repairDataDirectory(dataDir);
    for (const line of done) process.stderr.write(`repaired: ${printable(line)}\n`);
    if (done.length === 0) process.stderr.write('repaired: nothing needed repair\n');
  }
  const report = await verifyDataDirectory(dataDir);
  printVerifyReport(report, json);
  if (!repair) return report.findings.length === 0 ? 0 : 1;
  // After a repair, what it quarantined is for a person to review, and what
  // another program changed is for the next start to adopt: not failures.
  const remaining = report.findings.filter(
    (finding) => finding.forReview !== true && finding.adoptedByStart !== true,
  );
  return remaining.length === 0 ? 0 : 1;
}

const INSPECT_OPTIONS = {
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  events: { type: 'string', default: '10' },
  sessions: { type: 'string' },
  verify: { type: 'boolean', default: false },
  repair: { type: 'boolean', default: false },
} as const;

/** `stateful inspect`'s flags, as typed (for "did you mean"). */
export const INSPECT_FLAGS: readonly string[] = Object.keys(INSPECT_OPTIONS).map(
  (flag) => `--${flag}`,
);

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: INSPECT_OPTIONS, strict: true });
  const eventLimit = Number(values.events);
  if (!Number.isSafeInteger(eventLimit) || eventLimit < 0 || eventLimit > 10_000) {
    process.stderr.write('stateful inspect: --events must be an integer from 0 to 10000\n');
    return 2;
  }
  // The first and last N sessions: 10 in the text report, all in --json, unless asked.
  const sessionsFlag = values.sessions ?? (values.json ? 'all' : '10');
  const sessionLimit = sessionsFlag === 'all' ? null : Number(sessionsFlag);
  if (sessionLimit !== null && (!Number.isSafeInteger(sessionLimit) || sessionLimit < 0)) {
    process.stderr.write('stateful inspect: --sessions must be "all" or a non-negative integer\n');
    return 2;
  }
  const databaseUrl = values['database-url'];
  if (databaseUrl !== undefined) {
    if (values.verify || values.repair || values['data-dir'] !== undefined) {
      process.stderr.write(
        'stateful inspect: --database-url reads a database; --data-dir, --verify and --repair are for directories\n',
      );
      return 2;
    }
    if (!/^postgres(ql)?:\/\/[^/\s]+/.test(databaseUrl)) {
      process.stderr.write(
        `stateful inspect: --database-url must be a PostgreSQL URL like postgres://user:password@host:5432/database; got "${databaseUrl}"\n`,
      );
      return 2;
    }
    try {
      const report = await readDatabase(databaseUrl, eventLimit, sessionLimit);
      await printReport(report, eventLimit, sessionLimit, values.json);
      return 0;
    } catch (error) {
      if (!(error instanceof NotAStoreDatabaseError)) throw error;
      process.stderr.write(`stateful inspect: ${printable(error.message)}\n`);
      return 1;
    }
  }
  const dataDir = values['data-dir'] ?? loadServiceConfig().dataDir;
  try {
    if (values.verify || values.repair)
      return await verifyCommand(dataDir, values.repair, values.json);
    const report = await readDataDirectory(dataDir, eventLimit, sessionLimit);
    await printReport(report, eventLimit, sessionLimit, values.json);
    return 0;
  } catch (error) {
    if (
      error instanceof NotADataDirectoryError ||
      error instanceof DataDirectoryBusyError ||
      error instanceof UnsafeDataDirectoryError ||
      error instanceof UnsafeFileError
    ) {
      process.stderr.write(`stateful inspect: ${printable(error.message)}\n`);
      return 1;
    }
    throw error;
  }
}
