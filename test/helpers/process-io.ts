/** What a process wrote, read from /proc (Linux), for tests that bound it. */
import { readFile } from 'node:fs/promises';

/**
 * `wchar` of /proc/<pid>/io: the bytes the process (all its threads) handed
 * to write calls, to files and sockets alike. (Not `write_bytes`: a kernel
 * with large folios counts a whole folio each time a small append dirties
 * it again, megabytes for a line, whatever reaches the disk.)
 */
export async function bytesWritten(pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  const bytes = /^wchar:\s+(\d+)$/m.exec(io)?.[1];
  if (bytes === undefined) throw new Error(`no wchar for process ${pid}`);
  return Number(bytes);
}
