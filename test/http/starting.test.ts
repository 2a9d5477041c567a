import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { answerWhileStarting } from '../../src/http/starting.js';

describe('the port while the service starts', () => {
  it('answers /health 503 "starting" with the progress, every other request 503 with a JSON error, and / with a page that reloads', async (t) => {
    const starting = await answerWhileStarting('127.0.0.1', 0, () => ({
      phase: 'replaying the journal',
      journal_records_replayed: 4000,
    }));
    t.after(() => starting.close());
    const base = `http://127.0.0.1:${starting.port}`;

    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 503);
    assert.equal(health.headers.get('retry-after'), '1');
    const healthBody = (await health.json()) as Record<string, unknown>;
    assert.equal(healthBody.status, 'starting');
    assert.equal(healthBody.phase, 'replaying the journal');
    assert.equal(healthBody.journal_records_replayed, 4000);
    assert.equal(typeof healthBody.seconds, 'number');

    const write = await fetch(`${base}/sessions`, { method: 'POST', body: '{"name":"x"}' });
    assert.equal(write.status, 503);
    const writeBody = (await write.json()) as { error: string; message: string };
    assert.equal(writeBody.error, 'starting');
    assert.match(writeBody.message, /starting \(.* s: replaying the journal\); retry/);

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 503);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await page.text(), /http-equiv="refresh"/);
  });

  it('frees its port when closed, for the app to listen on', async () => {
    const starting = await answerWhileStarting('127.0.0.1', 0, () => ({}));
    await starting.close();
    const again = await answerWhileStarting('127.0.0.1', starting.port, () => ({}));
    assert.equal(again.port, starting.port);
    await again.close();
  });

  it('hands its socket to the app, so the port is never free, and stops answering without closing it', async (t) => {
    const starting = await answerWhileStarting('127.0.0.1', 0, () => ({}));
    const app = createServer((_request, response) => response.end('the app'));
    await new Promise<void>((resolve) => app.listen({ handle: starting.handle() }, resolve));
    t.after(() => app.close());
    await starting.release();
    assert.equal((app.address() as AddressInfo).port, starting.port);
    const answer = await fetch(`http://127.0.0.1:${starting.port}/health`);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), 'the app');
    // Nothing else may bind it meanwhile.
    await assert.rejects(
      answerWhileStarting('127.0.0.1', starting.port, () => ({})),
      {
        code: 'EADDRINUSE',
      },
    );
  });
});
