import { describe } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../../src/store/postgres/postgres-store.js';
import type { Store } from '../../../src/store/store.js';
import { describeOnPostgres } from '../../helpers/postgres.js';
import { type StoreFactory, storeContract } from '../contract.js';
import { expiryContract } from '../expiry-contract.js';
import { retentionContract } from '../retention-contract.js';

describeOnPostgres('the Store contract: PostgreSQL store', (server) => {
  // Short leases, so a death is visible soon after it.
  const leaseMs = 500;
  const factory: StoreFactory = {
    deathVisibleAfterMs: 2 * leaseMs,
    async open(t, background, clock, retention) {
      // A fresh database a test, on the one throwaway server.
      const url = await server().createDatabase();
      const options = {
        leaseMs,
        ...(background === undefined ? {} : { background }),
        ...(clock === undefined ? {} : { clock }),
        ...(retention === undefined ? {} : { retention }),
      };
      let current: Store = await PostgresStore.open(url, 'c0ffee00', options);
      t.after(() => current.close().catch(() => undefined));
      return {
        store: current,
        async reopen() {
          await current.close();
          current = await PostgresStore.open(url, 'c0ffee01', options);
          return current;
        },
        async breakStorage() {
          // The counters table gone for a while: every statement on it fails.
          const rename = async (from: string, to: string) => {
            const admin = new pg.Client(url);
            await admin.connect();
            try {
              await admin.query(`ALTER TABLE ${from} RENAME TO ${to}`);
            } finally {
              await admin.end();
            }
          };
          await rename('counters', 'counters_away');
          return () => rename('counters_away', 'counters');
        },
      };
    },
  };
  storeContract(factory);
  describe('sessions that expire', () => expiryContract(factory));
  describe('the event log kept within a retention policy', () => retentionContract(factory));
});
