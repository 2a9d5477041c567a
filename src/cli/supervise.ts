/** `stateful supervise`: the service under a restart policy, for local runs (`npm start`). */
import { fileURLToPath } from 'node:url';
import { loadServiceConfig } from '../config.js';
import { DEFAULT_SUPERVISOR_TIMINGS, Supervisor } from '../lifecycle/supervisor.js';
import { makeLogger, personWatching } from './logger.js';

export async function superviseCommand(): Promise<number> {
  const config = loadServiceConfig(); // fail fast here rather than in a restart loop
  const logger = makeLogger(config, { role: 'supervisor', pid: process.pid });
  const supervisor = new Supervisor(
    {
      command: process.execPath,
      args: [fileURLToPath(new URL('./main.js', import.meta.url)), 'serve'],
      env: process.env,
      ...DEFAULT_SUPERVISOR_TIMINGS,
      stopTimeoutMs: config.shutdownTimeoutMs + 10_000,
      // The service's own line on stderr says why it cannot start.
      logGivingUp: !personWatching(),
    },
    logger,
  );
  process.on('SIGINT', () => supervisor.stop('SIGINT'));
  process.on('SIGTERM', () => supervisor.stop('SIGTERM'));
  process.on('SIGHUP', () => supervisor.restart());
  logger.info(
    { url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${config.port}` },
    'supervising the service (Ctrl-C stops it, SIGHUP restarts it)',
  );
  supervisor.start();
  return supervisor.done;
}
