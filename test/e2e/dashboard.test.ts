/**
 * The dashboard end to end, in headless Chromium (Debian's, driven by
 * playwright-core; never a downloaded browser): a session made through the
 * form, a crash from the button, and the page coming back by itself with a
 * new container_id, crash_count + 1 and the session still listed. The
 * service runs supervised, as under Docker's restart policy. Screenshots go
 * to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { supervise } from '../../tools/service-process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

async function launch(): Promise<Browser | string> {
  if (!existsSync(CHROMIUM)) {
    const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
    // CI installs it: there a missing browser is a failure, never a skip.
    if (process.env.CI !== undefined) throw new Error(why);
    return why;
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A supervised service on a fresh directory. One cleanup, in this order: stop
 * the supervisor (and its service) cleanly, then remove the directory, so no
 * restarted service ever finds its directory gone.
 */
async function supervisedService(t: TestContext, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'stateful-e2e-'));
  const running = await supervise(dir, env);
  t.after(async () => {
    running.supervisor.kill('SIGTERM');
    await running.supervisor.exited;
    await rm(dir, { recursive: true, force: true });
  });
  return running;
}

describe('the dashboard in a browser', () => {
  it('creates a session, crashes the service, reconnects by itself and shows what changed', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const { url } = await supervisedService(t);

    const page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    const foreign: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(url) && !request.url().startsWith('data:')) {
        foreign.push(request.url());
      }
    });
    page.on('console', (entry) => {
      // A refused connection while the service is down is expected; a CSP violation is not.
      if (entry.type() === 'error' && /Content Security Policy|^Refused to /.test(entry.text())) {
        problems.push(entry.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));

    const opened = await page.goto(`${url}/`);
    assert.equal(opened?.status(), 200);
    assert.match(opened?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
    await page.locator('#connection[data-state="up"]').waitFor();

    await page.fill('#create input[name="name"]', 'alice');
    await page.fill('#create input[name="note"]', 'made in the browser');
    await page.click('#create button[type="submit"]');
    const row = page.locator('#sessions tbody tr', { hasText: 'alice' });
    await row.waitFor();
    assert.equal(await row.locator('.note').textContent(), 'made in the browser');
    await page.locator('#timeline li[data-event="session_created"]').first().waitFor();

    // Edit it in place: the name changes and the access is counted.
    await row.locator('button.edit').click();
    const editing = page.locator('#sessions tbody tr.editing');
    await editing.locator('input[aria-label="new name"]').fill('alice2');
    await editing.locator('button.save').click();
    const edited = page.locator('#sessions tbody tr', { hasText: 'alice2' });
    await edited.locator('.count', { hasText: '1' }).waitFor();

    // Edit and Save with the note untouched: a note that is not a string stays what it was.
    const structured = { note: { kind: 'object', items: [1, 2] }, cart: ['x'] };
    const made = await fetch(`${url}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ name: 'structured', data: structured }),
    }).then((answer) => answer.json() as Promise<{ id: string }>);
    await page.reload();
    const structuredRow = page.locator('#sessions tbody tr', { hasText: 'structured' });
    await structuredRow.locator('button.edit').click();
    // Changed elsewhere while the row is being edited: Save sends only what was edited.
    await fetch(`${url}/sessions/${made.id}`, {
      method: 'PATCH',
      body: JSON.stringify({ data: { elsewhere: true } }),
    });
    await page.locator('#sessions tbody tr.editing button.save').click();
    await structuredRow.locator('.count', { hasText: '2' }).waitFor();
    const saved = await fetch(`${url}/sessions/${made.id}`).then(
      (answer) => answer.json() as Promise<{ data: unknown }>,
    );
    assert.deepEqual(saved.data, { ...structured, elsewhere: true });

    const before = {
      container: await page.textContent('#container_id'),
      crashes: Number(await page.textContent('#crash_count')),
      starts: Number(await page.textContent('#startup_count')),
    };
    assert.match(before.container ?? '', /^[0-9a-f]{8}$/);

    await page.click('#crash');
    const report = page.locator('#change-report');
    await report.waitFor({ state: 'visible', timeout: 30_000 });

    const after = {
      container: await page.textContent('#container_id'),
      crashes: Number(await page.textContent('#crash_count')),
      starts: Number(await page.textContent('#startup_count')),
    };
    assert.notEqual(after.container, before.container, 'a new process');
    assert.equal(after.crashes, before.crashes + 1, 'the crash is counted on the volume');
    assert.equal(after.starts, before.starts + 1);
    const survivor = page.locator('#sessions tbody tr', { hasText: 'alice2' });
    assert.equal(await survivor.count(), 1, 'the session survived');
    assert.equal(await survivor.locator('.note').textContent(), 'made in the browser');
    assert.equal(await survivor.locator('.count').textContent(), '1');
    assert.equal(await report.locator('li[data-key="sessions"]').getAttribute('class'), 'kept');
    assert.match((await page.textContent('#connection')) ?? '', /^up/);
    // The timeline, following the stream across the restart, shows the new instance's start.
    await page
      .locator(`#timeline li[data-event="startup"]`, { hasText: after.container ?? '' })
      .waitFor();
    await page.locator('#timeline li[data-event="crash_triggered"]').waitFor();

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // Usable on a phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    // Evaluated in the page (the test's own compiler has no DOM types).
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.ok(
      typeof overflow === 'number' && overflow <= 0,
      `the page is ${overflow}px wider than a phone screen`,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });

    assert.deepEqual(foreign, [], 'no request leaves the service');
    assert.deepEqual(problems, [], 'no script error, no Content-Security-Policy violation');
  });

  it('asks for the admin token when /crash needs one, and crashes with it', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const token = 'a-long-secret-token-for-the-test';
    const { url, containerId } = await supervisedService(t, { ADMIN_TOKEN: token });
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.locator('#connection[data-state="up"]').waitFor();

    await page.click('#crash');
    await page.locator('#token').waitFor({ state: 'visible' });
    assert.match((await page.textContent('#form-error')) ?? '', /token/i);
    assert.equal(await page.textContent('#container_id'), containerId, 'still the same instance');

    await page.fill('#token', token);
    await page.click('#crash');
    await page.locator('#change-report').waitFor({ state: 'visible', timeout: 30_000 });
    assert.notEqual(await page.textContent('#container_id'), containerId);
    assert.equal(await page.textContent('#crash_count'), '1');
  });

  it('shows the sessions newest first, 50 a page, and pages older and back', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const { url } = await supervisedService(t);
    for (let i = 0; i < 55; i++) {
      const answer = await fetch(`${url}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `paged-${i}` }),
      });
      assert.equal(answer.status, 201);
    }
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    const rows = page.locator('#sessions tbody tr');
    await page.locator('#sessions tbody tr', { hasText: 'paged-54' }).waitFor();
    assert.equal(await rows.count(), 50);
    assert.equal(await rows.first().locator('.name').textContent(), 'paged-54', 'newest first');
    assert.equal(await page.isDisabled('#newer'), true);

    await page.click('#older');
    await page.locator('#sessions tbody tr', { hasText: 'paged-0' }).waitFor();
    assert.deepEqual(await rows.locator('.name').allTextContents(), [
      'paged-4',
      'paged-3',
      'paged-2',
      'paged-1',
      'paged-0',
    ]);
    assert.equal(await page.textContent('#page-info'), 'page 2');
    assert.equal(await page.isDisabled('#older'), true, 'the oldest page is the last');

    await page.click('#newer');
    await page.locator('#sessions tbody tr', { hasText: 'paged-54' }).waitFor();
    assert.equal(await rows.count(), 50);

    await page.fill('#search', 'PAGED-1');
    await page
      .locator('#sessions tbody tr', { hasText: 'paged-54' })
      .waitFor({ state: 'detached' });
    assert.deepEqual(await rows.locator('.name').allTextContents(), [
      'paged-19',
      'paged-18',
      'paged-17',
      'paged-16',
      'paged-15',
      'paged-14',
      'paged-13',
      'paged-12',
      'paged-11',
      'paged-10',
      'paged-1',
    ]);
    await page.fill('#search', 'nobody');
    await page.locator('#no-sessions:not([hidden])').waitFor();
    assert.match((await page.textContent('#no-sessions')) ?? '', /matches “nobody”/);
    await page.fill('#search', '');
    await page.locator('#sessions tbody tr', { hasText: 'paged-54' }).waitFor();
    assert.equal(await rows.count(), 50);
  });
});
