/** What the bench and its scale run share: the requests they send and what they read of a process. */
import { readFile } from 'node:fs/promises';
import type autocannon from 'autocannon';

/** PUT to one of `ids` at random, each request. */
export function putSpreadOver(
  ids: readonly string[],
  onResponse?: autocannon.Request['onResponse'],
): autocannon.Request {
  return {
    method: 'PUT',
    setupRequest: (request) => ({
      ...request,
      path: `/sessions/${ids[Math.floor(Math.random() * ids.length)]}`,
      headers: { 'content-type': 'application/json' },
      body: '{"data":{"step":1}}',
    }),
    ...(onResponse === undefined ? {} : { onResponse }),
  };
}

/** A process's resident memory, in MiB (/proc/<pid>/status). */
export async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kib / 1024);
}

/** Creates `count` sessions on the server at `url`, 50 at a time; their ids. */
export async function createSessions(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, j) =>
      fetch(`${url}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `seed-${i + j}`, data: { n: i + j } }),
      }).then(async (response) => ((await response.json()) as { id: string }).id),
    );
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}
