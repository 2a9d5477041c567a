/**
 * A describe block whose tests share one throwaway PostgreSQL server,
 * started before them and stopped after (skipped where PostgreSQL cannot
 * run; CI installs it, so there it never is).
 */
import { after, before, describe } from 'node:test';
import { type Postgres, postgresSkipReason, startPostgres } from '../../tools/postgres.js';

export function describeOnPostgres(name: string, body: (server: () => Postgres) => void): void {
  describe(name, { skip: postgresSkipReason() }, () => {
    let server: Postgres | undefined;
    before(async () => {
      server = await startPostgres();
    });
    after(() => server?.stop());
    body(() => {
      if (server === undefined) throw new Error('PostgreSQL has not started');
      return server;
    });
  });
}
