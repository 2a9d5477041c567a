/** A process's resident memory, read from /proc (Linux), for tests that bound it. */
import { readFile } from 'node:fs/promises';

export async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kib) / 1024;
}

/** Resolves with how long `/health` took to answer 200, or throws. */
export async function healthLatencyMs(url: string, timeoutMs = 10_000): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`/health answered ${response.status}`);
  return performance.now() - started;
}
