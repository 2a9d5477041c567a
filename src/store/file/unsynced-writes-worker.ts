/**
 * The worker thread that makes unsynced writes (see unsynced-writes.ts), a
 * batch a message: `{ id, writes }` in, `{ id }` or `{ id, error }` out.
 */
import { parentPort } from 'node:worker_threads';
import { applyUnsyncedWrites, nodeSyncCalls, type UnsyncedWrite } from './unsynced-writes.js';

export interface UnsyncedBatch {
  id: number;
  writes: readonly UnsyncedWrite[];
}

export interface UnsyncedBatchDone {
  id: number;
  error?: { message: string; code: string | undefined; path: string | undefined };
}

parentPort?.on('message', ({ id, writes }: UnsyncedBatch) => {
  let done: UnsyncedBatchDone = { id };
  try {
    applyUnsyncedWrites(writes, nodeSyncCalls);
  } catch (error) {
    const failure = error as NodeJS.ErrnoException;
    done = { id, error: { message: failure.message, code: failure.code, path: failure.path } };
  }
  parentPort?.postMessage(done);
});
