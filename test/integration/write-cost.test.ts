/**
 * A write costs what it changes: a request that changes no data of a large
 * session (an empty merge, a PUT that names no new data) writes its access
 * count, last_active and its event, not the session again, so a crowd of
 * such requests cannot make the service write gigabytes. Measured from the
 * storage writes the kernel counts for the process, and checked against a
 * kill: every counted access is still there.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnService } from '../../tools/service-process.js';
import { field, postJson, request } from '../helpers/http.js';
import { bytesWritten } from '../helpers/process-io.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Sends `body` with `method` to `url` again and again on one connection until
 * `until`; counts the bytes sent and the bytes of the answers read.
 */
async function writeLoop(
  url: string,
  method: string,
  body: string,
  until: number,
): Promise<{ acknowledged: number; bytesSent: number; bytesRead: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<Socket>();
  let acknowledged = 0;
  try {
    while (performance.now() < until) {
      const status = await new Promise<number>((resolve, reject) => {
        const sent = httpRequest(
          url,
          { method, agent, headers: { 'content-type': 'application/json' } },
          (answer) => {
            answer.resume(); // the answer holds the whole session: read, not kept
            answer.on('end', () => resolve(answer.statusCode ?? 0));
          },
        );
        sent.on('socket', (socket) => sockets.add(socket));
        sent.on('error', reject);
        sent.end(body);
      });
      assert.equal(status, 200);
      acknowledged++;
    }
  } finally {
    agent.destroy();
  }
  let bytesSent = 0;
  let bytesRead = 0;
  for (const socket of sockets) {
    bytesSent += socket.bytesWritten;
    bytesRead += socket.bytesRead;
  }
  return { acknowledged, bytesSent, bytesRead };
}

/**
 * The bytes of the journal's segment files: a segment grows by 1 MiB of zeros
 * at a time, written ahead of its lines (journal.ts), so what that growth
 * wrote is told apart from what the writes themselves cost.
 */
async function journalFileBytes(dir: string): Promise<number> {
  const journal = join(dir, 'journal');
  let bytes = 0;
  for (const name of await readdir(journal)) bytes += (await stat(join(journal, name))).size;
  return bytes;
}

describe('the cost of a write', () => {
  it('writes a no-op write to a 0.9 MB session in a few hundred bytes, not the session again, and keeps every access through a kill', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const pid = service.process.child.pid as number;
    const data = { blob: 'x'.repeat(900 * 1024), small: 1 };

    const beforeCreate = await bytesWritten(pid);
    const created = field(await postJson(`${service.url}/sessions`, { name: 'big', data }));
    // The create is journaled whole, and answered whole: the count sees both.
    assert.ok(
      (await bytesWritten(pid)) - beforeCreate >= 2 * 900 * 1024,
      'wchar counts what the service writes',
    );

    // Its file written by the first checkpoint (within 5 s), before the count starts.
    const file = join(dir, 'sessions', `${created.id}.json`);
    for (let waited = 0; !(await stat(file).catch(() => null)); waited += 100) {
      assert.ok(waited < 15_000, 'no checkpoint wrote the session file');
      await sleep(100);
    }

    const url = `${service.url}/sessions/${created.id}`;
    const eventsFile = join(dir, 'events.jsonl');
    const eventsBefore = (await stat(eventsFile)).size;
    const written = await bytesWritten(pid);
    const journalBefore = await journalFileBytes(dir);
    // Eight clients: empty merges, and PUTs that name only the name it has.
    const until = performance.now() + 3000;
    const runs = await Promise.all(
      Array.from({ length: 8 }, (_, client) =>
        client % 2 === 0
          ? writeLoop(url, 'PATCH', '{}', until)
          : writeLoop(url, 'PUT', '{"name":"big"}', until),
      ),
    );
    // Nor does the next checkpoint (every 5 s) write the session's file of a
    // megabyte again for accesses counted: that waits for 30 s, or a stop.
    await sleep(5500);
    const answers = runs.reduce((sum, run) => sum + run.bytesRead, 0);
    // Less the zeros a segment was extended by (whenever its lines pass a MiB).
    const zeros = (await journalFileBytes(dir)) - journalBefore;
    const wrote = (await bytesWritten(pid)) - written - answers - zeros;
    const events = (await stat(eventsFile)).size - eventsBefore;
    const acknowledged = runs.reduce((sum, run) => sum + run.acknowledged, 0);
    const received = runs.reduce((sum, run) => sum + run.bytesSent, 0);
    t.diagnostic(
      `${acknowledged} no-op writes, ${received} bytes received, ${wrote} bytes written ` +
        `besides the answers and ${zeros} bytes of zeros written ahead in the journal ` +
        `(${(wrote / received).toFixed(1)}× received), events ${events} bytes`,
    );
    assert.ok(acknowledged > 100, `only ${acknowledged} writes in 3 s`);
    assert.ok(
      wrote < 10 * received + events,
      `${wrote} bytes written for ${received} bytes received and ${events} bytes of events`,
    );

    const after = field(await request(url));
    assert.equal(after.access_count, acknowledged, 'every write counted its access');
    service.process.kill('SIGKILL');
    await service.process.exited;
    const restarted = await spawnService(dir);
    t.after(() => restarted.process.kill('SIGKILL'));
    const replayed = field(await request(`${restarted.url}/sessions/${created.id}`));
    assert.deepEqual(replayed, after, 'the journal kept every access, and the data whole');
  });
});
