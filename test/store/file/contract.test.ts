import { describe } from 'node:test';
import { FileStore } from '../../../src/store/file/file-store.js';
import type { Store } from '../../../src/store/store.js';
import { FaultyFileSystem } from '../../helpers/faulty-file-system.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { type StoreFactory, storeContract } from '../contract.js';
import { expiryContract } from '../expiry-contract.js';
import { retentionContract } from '../retention-contract.js';

describe('the Store contract: file store', () => {
  const factory: StoreFactory = {
    deathVisibleAfterMs: 0, // the instance marker still says running
    async open(t, background, clock, retention) {
      const dir = await tempDir(t);
      const fs = new FaultyFileSystem();
      const options = {
        ...(background === undefined ? {} : { background }),
        ...(clock === undefined ? {} : { clock }),
        ...(retention === undefined ? {} : { retention }),
      };
      let current: Store = (await FileStore.open(dir, 'c0ffee00', fs, options)).store;
      // Closed explicitly: the temp directory's cleanup is registered first and runs first.
      t.after(() => current.close().catch(() => undefined));
      return {
        store: current,
        async reopen() {
          await current.close();
          current = (await FileStore.open(dir, 'c0ffee01', fs, options)).store;
          return current;
        },
        async breakStorage() {
          fs.fail('sync', 'EIO', { pathIncludes: 'stats.json' });
          return async () => fs.heal();
        },
      };
    },
  };
  storeContract(factory);
  describe('sessions that expire', () => expiryContract(factory));
  describe('the event log kept within a retention policy', () => retentionContract(factory));
});
