/**
 * What a SIGKILL would leave on disk, taken from a live store without killing
 * the test process: a copy of its data directory as the file system holds it
 * now. Every acknowledged write is already in the files (fdatasynced), and no
 * checkpoint or clean stop runs afterwards, so opening the copy is a boot
 * after a kill.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './temp-dir.js';

export async function killedCopy(t: TestContext, dir: string): Promise<string> {
  const copy = join(await tempDir(t, 'stateful-killed-'), 'data');
  await cp(dir, copy, { recursive: true });
  return copy;
}
