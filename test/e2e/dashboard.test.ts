/**
 * The dashboard end to end, in headless Chromium (Debian's, driven by
 * playwright-core; never a downloaded browser): a session made through the
 * form, edited (Escape cancels), deleted after a confirmation; a crash from
 * the button (confirmed, not the first Tab stop) and every open tab coming
 * back by itself with the report of what changed; an idle page making no
 * request beyond its event stream; instance colours at 4.5:1 or better; the
 * "no instance running" state; a phone's width; each session's time left
 * counting down, an expired one greyed, then gone on session_expired, and a
 * lifetime and an idle timeout set from the form and the edit row. The
 * service runs supervised, as under Docker's restart policy. Screenshots at
 * 1366×900 and 390×844 go to test-artifacts/. The same page at 100,000 sessions:
 * dashboard-at-scale.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { spawnService, supervise } from '../../tools/service-process.js';
import { ARTIFACTS, launch } from './browser.js';

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

    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
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
    // The first Tab stop is the form, not the crash button.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.getAttribute("name")'), 'name');

    await page.fill('#create input[name="name"]', 'alice');
    await page.fill('#create input[name="note"]', 'made in the browser');
    await page.click('#create button[type="submit"]');
    const row = page.locator('#sessions tbody tr', { hasText: 'alice' });
    await row.waitFor();
    assert.equal(await row.locator('.note').textContent(), 'made in the browser');
    await page.locator('#timeline li[data-event="session_created"]').first().waitFor();

    // Escape cancels an edit: nothing is sent, the row is as it was. A live
    // update while the row is edited (a session made elsewhere) keeps the
    // input focused, so Escape still reaches it.
    await row.locator('button.edit').click();
    const typo = page.locator('#sessions tbody tr.editing input[aria-label="new name"]');
    await typo.fill('typo');
    await fetch(`${url}/sessions`, { method: 'POST', body: JSON.stringify({ name: 'elsewhere' }) });
    await page.locator('#sessions tbody tr', { hasText: 'elsewhere' }).waitFor();
    assert.equal(await typo.inputValue(), 'typo', 'what was typed is kept');
    assert.equal(
      await page.evaluate('document.activeElement?.getAttribute("aria-label")'),
      'new name',
    );
    await page.keyboard.press('Escape');
    await page.locator('#sessions tbody tr.editing').waitFor({ state: 'detached' });
    assert.equal(await row.locator('.name').textContent(), 'alice');
    assert.equal(await row.locator('.count').textContent(), '0', 'no update was sent');

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

    // Delete asks first: Cancel keeps the session, the dialog's Delete removes it.
    const doomed = page.locator('#sessions tbody tr', { hasText: 'structured' });
    await doomed.locator('button.delete').click();
    const dialog = page.locator('#confirm');
    await dialog.waitFor({ state: 'visible' });
    assert.match((await dialog.textContent()) ?? '', /Delete session “structured”\?/);
    await page.click('#confirm-no');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await fetch(`${url}/sessions/${made.id}`)).status, 200, 'Cancel deletes nothing');
    await doomed.locator('button.delete').click();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await fetch(`${url}/sessions/${made.id}`)).status, 200, 'nor does Escape');
    await doomed.locator('button.delete').click();
    await page.click('#confirm-yes');
    await doomed.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${url}/sessions/${made.id}`)).status, 404);

    // An idle page asks nothing: its one event stream brings the state.
    await page.waitForTimeout(500);
    const idleRequests: string[] = [];
    const countIdle = (request: { url(): string }) => idleRequests.push(request.url());
    page.on('request', countIdle);
    const uptimeBefore = await page.textContent('#uptime_seconds');
    await page.waitForTimeout(5000);
    page.off('request', countIdle);
    assert.deepEqual(idleRequests, [], 'no request in 5 idle seconds');
    assert.notEqual(await page.textContent('#uptime_seconds'), uptimeBefore, 'yet the state moves');

    // A second tab, to see that every open tab reports the crash.
    const other = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    other.on('pageerror', (error) => problems.push(error.message));
    await other.goto(`${url}/`);
    await other.locator('#connection[data-state="up"]').waitFor();
    await other.locator('#sessions tbody tr', { hasText: 'alice2' }).waitFor();

    const before = {
      container: await page.textContent('#container_id'),
      crashes: Number(await page.textContent('#crash_count')),
      starts: Number(await page.textContent('#startup_count')),
    };
    assert.match(before.container ?? '', /^[0-9a-f]{8}$/);

    await page.click('#crash');
    await dialog.waitFor({ state: 'visible' });
    assert.match((await dialog.textContent()) ?? '', /Crash instance [0-9a-f]{8}\?/);
    await page.click('#confirm-yes');
    const report = page.locator('#change-report');
    await report.waitFor({ state: 'visible', timeout: 30_000 });
    const otherReport = other.locator('#change-report');
    await otherReport.waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await other.textContent('#change-title'), 'After the crash');
    assert.equal(
      await otherReport.locator('li[data-key="sessions"]').getAttribute('class'),
      'kept',
    );
    assert.equal(
      await other.textContent('#container_id'),
      await page.textContent('#container_id'),
      'both tabs show the new instance',
    );

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
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-1366x900.png') });

    // Usable on a phone: nothing wider than the screen, every Delete fully on it.
    await page.setViewportSize({ width: 390, height: 844 });
    // Evaluated in the page (the test's own compiler has no DOM types).
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.ok(
      typeof overflow === 'number' && overflow <= 0,
      `the page is ${overflow}px wider than a phone screen`,
    );
    const deletes = await page.locator('#sessions button.delete').count();
    assert.ok(deletes >= 1);
    const cut = await page.evaluate(`[...document.querySelectorAll('#sessions button.delete')]
      .filter((button) => {
        const box = button.getBoundingClientRect();
        const wrap = button.closest('.table-wrap').getBoundingClientRect();
        return box.left < Math.max(0, wrap.left) || box.right > Math.min(innerWidth, wrap.right);
      }).length`);
    assert.equal(cut, 0, 'no Delete button cut off or scrolled out of view');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-390x844.png'), fullPage: true });
    await other.close();

    assert.deepEqual(foreign, [], 'no request leaves the service');
    assert.deepEqual(problems, [], 'no script error, no Content-Security-Policy violation');
  });

  it("counts each session's time left down, greys it when its time comes, drops it on session_expired, and sets expiry from the form and the edit row", async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const { url } = await supervisedService(t);
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (entry) => {
      if (entry.type() === 'error') problems.push(entry.text());
    });
    await page.goto(`${url}/`);
    await page.locator('#connection[data-state="up"]').waitFor();

    // Every text the time left of "short-lived" shows, recorded in the page as it changes.
    await page.evaluate(`(() => {
      window.seen = [];
      setInterval(() => {
        const row = [...document.querySelectorAll('#sessions tbody tr')]
          .find((row) => row.querySelector('.name').textContent === 'short-lived');
        const text = row === undefined ? 'absent' : row.querySelector('td.expires').textContent;
        if (window.seen.at(-1) !== text) window.seen.push(text);
      }, 20);
    })()`);
    const never = await fetch(`${url}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ name: 'forever' }),
    });
    assert.equal(never.status, 201);
    const created = await fetch(`${url}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ name: 'short-lived', ttl_seconds: 2 }),
    });
    assert.equal(created.status, 201);
    const short = (await created.json()) as { id: string; expires_at?: string };
    assert.ok(short.expires_at !== undefined, 'a session with a lifetime carries expires_at');
    const row = page.locator(`#sessions tbody tr[data-id="${short.id}"]`);
    await row.waitFor();
    assert.match((await row.locator('td.expires').textContent()) ?? '', /^([12]s|expired)$/);
    assert.equal(
      await page
        .locator('#sessions tbody tr', { hasText: 'forever' })
        .locator('td.expires')
        .textContent(),
      'never',
    );

    // The sweep (each second) removes it: its event is in the log with its
    // reason, and the row leaves the list.
    const expired = page.locator('#timeline li[data-event="session_expired"]', {
      hasText: short.id,
    });
    await expired.waitFor({ timeout: 10_000 });
    assert.match(
      (await expired.textContent()) ?? '',
      /name=short-lived reason=lifetime expired_at=/,
    );
    await row.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${url}/sessions/${short.id}`)).status, 404);
    const seen = (await page.evaluate('window.seen')) as string[];
    t.diagnostic(`time left shown: ${JSON.stringify(seen)}`);
    // Seen counting down (a second or two, then perhaps "expired" for the
    // moment before the sweep), then gone.
    const counted = seen
      .filter((text) => /^\d+s$/.test(text))
      .map((text) => Number.parseInt(text, 10));
    assert.ok(counted.length >= 1, `a time left was shown: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      counted,
      [...counted].sort((a, b) => b - a),
      `counting down: ${JSON.stringify(seen)}`,
    );
    assert.equal(seen.at(-1), 'absent', `then gone: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      seen.filter((text) => text !== 'absent' && text !== 'expired' && !/^\d+s$/.test(text)),
      [],
      `nothing else shown: ${JSON.stringify(seen)}`,
    );

    // A duration the service would refuse is refused by the form.
    const ttl = page.locator('#create input[name="ttl"]');
    await page.fill('#create input[name="name"]', 'from-form');
    await ttl.fill('soon');
    assert.equal(
      await page.evaluate(`document.querySelector('#create input[name="ttl"]').validity.valid`),
      false,
    );
    // A lifetime and an idle timeout from the form, sent as ttl_seconds and idle_seconds.
    await ttl.fill('15m');
    await page.fill('#create input[name="idle"]', '1h');
    await page.click('#create button[type="submit"]');
    const formRow = page.locator('#sessions tbody tr', { hasText: 'from-form' });
    await formRow.waitFor();
    assert.match((await formRow.locator('td.expires').textContent()) ?? '', /^1[45]m$/);
    assert.equal(await ttl.inputValue(), '', 'the form is cleared');
    type Listed = {
      sessions: {
        id: string;
        expires_at?: string;
        ends_at?: string | null;
        idle_seconds?: number | null;
      }[];
    };
    const listed = (await fetch(`${url}/sessions?q=from-form`).then((answer) =>
      answer.json(),
    )) as Listed;
    const fromForm = listed.sessions[0];
    assert.ok(fromForm?.expires_at !== undefined, 'the session made in the form expires');
    assert.equal(fromForm.ends_at, fromForm.expires_at, 'its lifetime ends first');
    assert.equal(fromForm.idle_seconds, 3600);
    const left = (Date.parse(fromForm.expires_at) - Date.now()) / 1000;
    assert.ok(left > 890 && left <= 900, `15 minutes left: ${left} s`);

    // The edit row: a new lifetime, then none.
    await formRow.locator('button.edit').click();
    const editing = page.locator('#sessions tbody tr.editing');
    assert.equal(
      await editing.locator('input[aria-label="new idle timeout"]').getAttribute('placeholder'),
      'idle 1h',
    );
    await editing.locator('input[aria-label="new lifetime"]').fill('2h');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-expiry-editing-1366x900.png') });
    await editing.locator('button.save').click();
    await editing.waitFor({ state: 'detached' });
    const read = async () =>
      (await fetch(`${url}/sessions/${fromForm.id}`).then((answer) =>
        answer.json(),
      )) as Listed['sessions'][number];
    const longer = await read();
    const ends = (Date.parse(longer.ends_at ?? '') - Date.now()) / 1000;
    assert.ok(ends > 7190 && ends <= 7200, `a lifetime of 2 h from now: ${ends} s`);
    assert.ok(longer.expires_at !== undefined);
    const idleLeft = (Date.parse(longer.expires_at) - Date.now()) / 1000;
    assert.ok(
      idleLeft > 3590 && idleLeft <= 3600,
      `the write moved the idle expiry: ${idleLeft} s`,
    );
    await formRow.locator('button.edit').click();
    await editing.locator('input[aria-label="new lifetime"]').fill('never');
    await editing.locator('input[aria-label="new lifetime"]').press('Enter');
    await editing.waitFor({ state: 'detached' });
    assert.equal((await read()).ends_at, null, 'never: no lifetime');
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-expiry-1366x900.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({
      path: join(ARTIFACTS, 'dashboard-expiry-390x844.png'),
      fullPage: true,
    });

    // Its time come, a session shows as expired (greyed, its buttons off)
    // until the sweep removes it: seen on a page whose clock is moved on a
    // minute, while the service's session still has its minute.
    const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    const later = await context.newPage();
    later.on('pageerror', (error) => problems.push(error.message));
    await later.clock.install();
    const minute = (await fetch(`${url}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ name: 'a-minute', ttl_seconds: 60 }),
    }).then((answer) => answer.json())) as { id: string };
    const hours = (await fetch(`${url}/sessions`, {
      method: 'POST',
      body: JSON.stringify({ name: 'some-hours', ttl_seconds: 7500 }),
    }).then((answer) => answer.json())) as { id: string };
    await later.goto(`${url}/`);
    const minuteRow = later.locator(`#sessions tbody tr[data-id="${minute.id}"]`);
    await minuteRow.waitFor();
    assert.match((await minuteRow.locator('td.expires').textContent()) ?? '', /^(1m|5\ds)$/);
    assert.match(
      (await later.locator(`#sessions tbody tr[data-id="${hours.id}"] td.expires`).textContent()) ??
        '',
      /^2h [45]m$/,
    );
    await later.clock.fastForward(61_000);
    await minuteRow.locator('td.expires', { hasText: 'expired' }).waitFor();
    assert.equal(await minuteRow.getAttribute('class'), 'expired');
    assert.equal(await minuteRow.locator('button.delete').isDisabled(), true);
    assert.ok(
      Number(
        await later.evaluate(
          `getComputedStyle(document.querySelector('#sessions tr[data-id="${minute.id}"] td.name')).opacity`,
        ),
      ) < 1,
      'greyed',
    );
    assert.match(
      (await later.locator(`#sessions tbody tr[data-id="${hours.id}"] td.expires`).textContent()) ??
        '',
      /^2h [34]m$/,
    );
    await later.screenshot({ path: join(ARTIFACTS, 'dashboard-expired-1366x900.png') });
    await context.close();
    assert.deepEqual(problems, [], 'no script error');
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
    await page.click('#confirm-yes');
    await page.locator('#token').waitFor({ state: 'visible' });
    assert.match((await page.textContent('#form-error')) ?? '', /token/i);
    assert.equal(await page.textContent('#container_id'), containerId, 'still the same instance');

    await page.fill('#token', token);
    await page.click('#crash');
    await page.click('#confirm-yes');
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

  it('says when no instance runs (greyed, forms off, polling backed off, no script error) and comes back by itself', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const dir = await mkdtemp(join(tmpdir(), 'stateful-e2e-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const running = await supervise(dir);
    const port = new URL(running.url).port;
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (entry) => {
      // The browser itself logs each refused connection; the page's own code logs nothing.
      if (
        entry.type() === 'error' &&
        !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(entry.text())
      ) {
        problems.push(entry.text());
      }
    });
    await page.goto(`${running.url}/`);
    await page.locator('#connection[data-state="up"]').waitFor();

    // Stopped for good: no supervisor to start another. Timed from the
    // SIGTERM: the stream ends when the stop begins, which a busy machine can
    // take a second to finish, and the page counts from the stream's end.
    const gone = Date.now();
    running.supervisor.kill('SIGTERM');
    await running.supervisor.exited;
    await page.locator('#connection[data-state="offline"]').waitFor({ timeout: 15_000 });
    const after = Date.now() - gone;
    assert.ok(after >= 2500, `offline only after a few seconds (${after} ms)`);
    const banner = page.locator('#offline');
    assert.equal(await banner.isVisible(), true);
    assert.match((await banner.textContent()) ?? '', /No instance is running.*npm start/s);
    assert.equal(await page.isDisabled('#create button[type="submit"]'), true);
    assert.equal(await page.isDisabled('#crash'), true);
    assert.equal(await page.isDisabled('#search'), true);
    const opacity = await page.evaluate(
      "getComputedStyle(document.querySelector('.panels')).opacity",
    );
    assert.ok(Number(opacity) < 1, 'the stale figures are greyed');

    const tries: number[] = [];
    page.on('request', () => tries.push(Date.now()));
    await page.waitForTimeout(12_000);
    assert.ok(tries.length >= 1 && tries.length <= 4, `${tries.length} tries in 12 s: backed off`);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-offline-1366x900.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-offline-390x844.png') });

    // Started again by hand on the same port: the page finds it by itself.
    const back = await spawnService(dir, { PORT: port });
    t.after(() => back.process.kill('SIGKILL'));
    await page.locator('#connection[data-state="up"]').waitFor({ timeout: 15_000 });
    assert.equal(await banner.isVisible(), false);
    assert.equal(await page.isDisabled('#create button[type="submit"]'), false);
    assert.equal(await page.textContent('#container_id'), back.containerId);
    assert.equal(await page.textContent('#change-title'), 'Another instance answers');
    assert.deepEqual(problems, [], 'no script error');
  });

  it('draws every instance colour at 4.5:1 or better against what is behind it', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const { url } = await supervisedService(t);
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.locator('#timeline li').first().waitFor();
    // For each hue, the colour the page computes for the instance's id in the
    // panel and in the event log (on a plain, a notable and a crash row),
    // against the first opaque background behind it. WCAG 2 contrast.
    const worst = await page.evaluate(`(() => {
      const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
      const linear = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      const luminance = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
      const behind = (element) => {
        for (let at = element; at; at = at.parentElement) {
          const colour = rgb(getComputedStyle(at).backgroundColor);
          if (colour.length < 4 || colour[3] > 0) return colour;
        }
        return [255, 255, 255];
      };
      const contrast = (element) => {
        const a = luminance(rgb(getComputedStyle(element).color));
        const b = luminance(behind(element));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      };
      const id = document.getElementById('container_id');
      const item = document.querySelector('#timeline li');
      const name = item.querySelector('.container');
      let worst = { ratio: 99, hue: -1, where: '' };
      for (let hue = 0; hue < 360; hue++) {
        id.style.setProperty('--hue', String(hue));
        item.style.setProperty('--hue', String(hue));
        for (const [where, setUp] of [
          ['panel', () => {}],
          ['log', () => { item.className = ''; item.dataset.event = 'session_created'; }],
          ['notable', () => { item.className = 'notable'; item.dataset.event = 'startup'; }],
          ['crash', () => { item.className = 'notable'; item.dataset.event = 'crash_detected'; }],
        ]) {
          setUp();
          const ratio = contrast(where === 'panel' ? id : name);
          if (ratio < worst.ratio) worst = { ratio, hue, where };
        }
      }
      return worst;
    })()`);
    const { ratio, hue, where } = worst as { ratio: number; hue: number; where: string };
    assert.ok(ratio >= 4.5, `hue ${hue} in the ${where}: ${ratio.toFixed(2)}:1`);
  });

  it('starts its stream again from the recent events when retention dropped those after the last it saw', async (t) => {
    const browser = await launch();
    if (typeof browser === 'string') return t.skip(browser);
    t.after(() => browser.close());
    const { url } = await supervisedService(t, {
      EVENTS_RETAIN_COUNT: '100',
      SNAPSHOT_JOURNAL_KB: '16',
    });
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    const streams: string[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/events/stream')) streams.push(`${response.status()}`);
    });
    await page.goto(`${url}/`);
    await page.locator('#connection[data-state="up"]').waitFor();
    // The stream cut off (a crash ends it, reconnects are refused) while
    // others write and the log is compacted past the last event it saw.
    await page.route('**/events/stream**', (route) => route.abort());
    await fetch(`${url}/crash`, { method: 'POST' });
    for (const deadline = Date.now() + 20_000; ; ) {
      const health = await fetch(`${url}/health`).catch(() => null);
      if (health?.status === 200) break;
      if (Date.now() > deadline) assert.fail('the service did not come back');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const post = (name: string) =>
      fetch(`${url}/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
    await post('before-the-cut');
    const seen = ((await (await fetch(`${url}/events?limit=1`)).json()) as { count: number }).count;
    for (let i = 0; i < 500; i++) await post(`while-cut-off-${i}`);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const answer = (await (await fetch(`${url}/events?limit=1`)).json()) as { oldest?: number };
      if ((answer.oldest ?? 1) > seen + 1) break; // what the page would resume from is gone
      if (Date.now() > deadline) assert.fail('the log was not compacted');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await page.unroute('**/events/stream**');
    await post('after-the-cut');
    // A 410 for the stream from where it was, then one from the recent events.
    await page
      .locator('#timeline li[data-event="session_created"]', { hasText: 'after-the-cut' })
      .waitFor();
    await page.locator('#connection[data-state="up"]').waitFor();
    assert.ok(streams.includes('410'), `the streams answered ${streams.join(' ')}`);
  });
});
