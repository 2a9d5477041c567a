/** `stateful inspect`: the offline inspector's command line. */
import { parseArgs } from 'node:util';
import { loadServiceConfig } from '../config.js';
import { NotADataDirectoryError, readDataDirectory } from '../inspector/read-data-dir.js';
import { formatTextReport } from '../inspector/text-report.js';

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      events: { type: 'string', default: '10' },
    },
    strict: true,
  });
  const eventLimit = Number(values.events);
  if (!Number.isSafeInteger(eventLimit) || eventLimit < 0 || eventLimit > 10_000) {
    process.stderr.write('stateful inspect: --events must be an integer from 0 to 10000\n');
    return 2;
  }
  const dataDir = values['data-dir'] ?? loadServiceConfig().dataDir;
  try {
    const report = await readDataDirectory(dataDir, eventLimit);
    process.stdout.write(
      values.json ? `${JSON.stringify(report, null, 2)}\n` : formatTextReport(report, eventLimit),
    );
    return 0;
  } catch (error) {
    if (error instanceof NotADataDirectoryError) {
      process.stderr.write(`stateful inspect: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
