/**
 * The worker thread that makes unsynced writes (see unsynced-writes.ts), a
 * batch a message: `{ id, writes, spares }` in, `{ id }` or `{ id, error }` out.
 */
import { parentPort } from 'node:worker_threads';
import { type SparePool, sparePools } from './spare-files.js';
import {
  applyUnsyncedWrites,
  nodeSyncCalls,
  type SetAside,
  type UnsyncedWrite,
} from './unsynced-writes.js';

export interface UnsyncedBatch {
  id: number;
  writes: readonly UnsyncedWrite[];
  /** Where replaced files are kept to be written into again (see spare-files.ts). */
  spares: SparePool | null;
  /** Where what must not be written through is moved (see SetAside); null: it fails the write. */
  quarantineDir: string | null;
}

export interface UnsyncedBatchDone {
  id: number;
  setAside?: SetAside[];
  error?: { message: string; code: string | undefined; path: string | undefined };
}

const poolOf = sparePools();

parentPort?.on('message', ({ id, writes, spares, quarantineDir }: UnsyncedBatch) => {
  let done: UnsyncedBatchDone = { id };
  try {
    const setAside = applyUnsyncedWrites(writes, nodeSyncCalls, poolOf(spares), quarantineDir);
    if (setAside.length > 0) done = { id, setAside };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    done = { id, error: { message: failure.message, code: failure.code, path: failure.path } };
  }
  parentPort?.postMessage(done);
});
