/**
 * A fresh temporary directory a test, removed when the test ends. After-hooks
 * run in the order they were registered, so this removal often runs while a
 * service the test started is still alive and writing (a checkpoint, the
 * lazy stats flush): rm retries when a file appears under it (ENOTEMPTY).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export async function tempDir(t: TestContext, prefix = 'stateful-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }));
  return dir;
}
