import { after, before, describe } from 'node:test';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import type { Store } from '../../../src/store/store.js';
import { type Postgres, postgresSkipReason, startPostgres } from '../../../tools/postgres.js';
import { storeContract } from '../contract.js';

describe('the Store contract: PostgreSQL store', { skip: postgresSkipReason() }, () => {
  let server: Postgres;
  before(async () => {
    server = await startPostgres();
  });
  after(() => server.stop());

  // Short leases, so a death is visible soon after it.
  const leaseMs = 500;
  storeContract({
    deathVisibleAfterMs: 2 * leaseMs,
    async open(t) {
      // A fresh database a test, on the one throwaway server.
      const url = await server.createDatabase();
      let current: Store = await PostgresStore.open(url, 'c0ffee00', { leaseMs });
      t.after(() => current.close().catch(() => undefined));
      return {
        store: current,
        async reopen() {
          await current.close();
          current = await PostgresStore.open(url, 'c0ffee01', { leaseMs });
          return current;
        },
      };
    },
  });
});
