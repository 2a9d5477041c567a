/**
 * The event stream under load, against the real process: a backlog of any
 * size arrives whole; hundreds of clients catching up do not block /health;
 * streams are capped below the connection limit (a 503 past it); HEAD and a
 * position beyond the log get documented answers.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { spawnService } from '../../tools/service-process.js';
import { openStream } from '../helpers/event-stream.js';
import { field, postJson, request } from '../helpers/http.js';
import { healthLatencyMs } from '../helpers/process-memory.js';
import { tempDir } from '../helpers/temp-dir.js';

const EVENTS = 10_000;

/** A data directory whose log already holds EVENTS events in the original's format. */
async function dirWithEvents(dir: string): Promise<void> {
  await mkdir(join(dir, 'sessions'), { recursive: true });
  const lines: string[] = [];
  for (let i = 1; i <= EVENTS; i++) {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    lines.push(
      JSON.stringify({
        ts: 1_767_225_600 + i,
        time: '2026-01-01T00:00:00Z',
        event: 'session_updated',
        container: 'a0c008bf',
        session_id: id,
        padding: 'p'.repeat(100),
      }),
    );
  }
  await writeFile(join(dir, 'events.jsonl'), `${lines.join('\n')}\n`);
}

describe('event stream bounds', () => {
  it('delivers a backlog of 10,000 events (well over 1 MiB) whole, to a new client and to one resuming far behind', async (t) => {
    const dir = await tempDir(t);
    await dirWithEvents(dir);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));
    const count = field(await request(`${service.url}/events?limit=1`)).count as number;

    const whole = await openStream(`${service.url}/events/stream?limit=${EVENTS}`);
    t.after(() => whole.close());
    const first = await whole.next();
    assert.equal(first?.id, count - EVENTS + 1);
    let last = first?.id ?? 0;
    for (let i = 1; i < EVENTS; i++) {
      const next = await whole.next();
      assert.equal(next?.id, last + 1, 'in order, none missing');
      last = next?.id ?? 0;
    }
    assert.equal(last, count);

    const behind = await openStream(`${service.url}/events/stream`, {
      'last-event-id': String(count - 5_000),
    });
    t.after(() => behind.close());
    assert.equal((await behind.next())?.id, count - 5_000 + 1);
  });

  it('keeps /health fast while a hundred clients catch up on 10,000 events, and many leave midway', async (t) => {
    const dir = await tempDir(t);
    await dirWithEvents(dir);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));

    const count = field(await request(`${service.url}/events?limit=1`)).count as number;
    await request(`${service.url}/metrics`); // starts a new measure of the event-loop lag
    // Half read their backlog, half open it and go away at once. The readers
    // only look for the last id, so this process stays free to time /health.
    const readers = Array.from({ length: 50 }, async () => {
      const controller = new AbortController();
      const response = await fetch(`${service.url}/events/stream?limit=${EVENTS}`, {
        // A deadline, so a backlog that never completes fails the test instead of hanging it.
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]),
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const lastId = `id: ${count}\n`;
      let tail = '';
      while (!tail.includes(lastId)) {
        const { value, done } = await reader.read();
        assert.equal(done, false, 'the stream ended before its backlog did');
        tail = (tail + Buffer.from(value as Uint8Array).toString('latin1')).slice(-4096);
      }
      controller.abort();
    });
    const leavers = Array.from({ length: 50 }, async () => {
      const stream = await openStream(`${service.url}/events/stream?limit=${EVENTS}`);
      stream.close();
    });
    const latencies: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 10; i++) latencies.push(await healthLatencyMs(service.url));
    })();
    await Promise.all([...readers, ...leavers, probing]);
    const worst = Math.max(...latencies);
    const metrics = (await request(`${service.url}/metrics`)).text;
    const lagMs = 1000 * Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(metrics)?.[1]);
    t.diagnostic(
      `while 100 streams caught up: /health worst ${worst.toFixed(0)} ms, ` +
        `the service's event loop held at most ${lagMs.toFixed(0)} ms`,
    );
    // Generous: the machine is shared. Unsliced, /health took 10-27 s.
    assert.ok(worst < 5_000, `/health took ${worst} ms`);
    assert.ok(lagMs < 1_000, `the event loop was held for ${lagMs} ms at once`);
  });

  it('caps streams at MAX_STREAMS with a JSON 503 and Retry-After, and requests still get through', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir, { MAX_STREAMS: '20', MAX_CONNECTIONS: '40' });
    t.after(() => service.process.kill('SIGKILL'));
    const streams = await Promise.all(
      Array.from({ length: 20 }, () => openStream(`${service.url}/events/stream`)),
    );
    t.after(() => {
      for (const stream of streams) stream.close();
    });
    for (const stream of streams) assert.equal(stream.response.status, 200);

    const refused = await fetch(`${service.url}/events/stream`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    const body = (await refused.json()) as { error: string; message: string };
    assert.equal(body.error, 'too_many_streams');
    assert.match(body.message, /MAX_STREAMS/);
    for (let i = 0; i < 15; i++) {
      assert.equal((await postJson(`${service.url}/sessions`, { name: `s${i}` })).status, 201);
    }
    assert.ok((await healthLatencyMs(service.url)) < 5_000);

    // A closed stream frees its place.
    streams.pop()?.close();
    let reopened = 0;
    for (let i = 0; i < 50 && reopened !== 200; i++) {
      const stream = await openStream(`${service.url}/events/stream`);
      reopened = stream.response.status;
      if (reopened === 200) streams.push(stream);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(reopened, 200);
  });

  it('answers HEAD with the headers alone, and starts a client from the end when its position is beyond the log', async (t) => {
    const dir = await tempDir(t);
    const service = await spawnService(dir);
    t.after(() => service.process.kill('SIGKILL'));

    const head = await fetch(`${service.url}/events/stream`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/);

    const count = field(await request(`${service.url}/events?limit=1`)).count as number;
    const ahead = await openStream(`${service.url}/events/stream`, {
      'last-event-id': String(count + 1000),
    });
    t.after(() => ahead.close());
    await postJson(`${service.url}/sessions`, { name: 'after' });
    const next = await ahead.next();
    assert.equal(next?.id, count + 1, 'the next event is delivered, not held back');
    assert.equal(next?.event.event, 'session_created');
  });
});
