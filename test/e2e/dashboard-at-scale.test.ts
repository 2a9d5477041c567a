/**
 * The dashboard at 100,000 sessions, in headless Chromium: the data directory
 * is written before the service starts (in the original's format; the start
 * takes it over), once for every test here, the oldest sessions given names
 * and ids a test looks for. A search finds the oldest of them, which a
 * newest-first page reaches last, with no click on Older, saying how far it
 * looked; one that runs out of time says so and Older searches on; a newer
 * search stops an older one. Crash, the counters and the event
 * log stay in view beside the list on a desktop and above it on a phone; the
 * ids are shown; a row being edited keeps the table's width; after a crash the
 * report of what changed is in view in every tab, on a phone too. Screenshots at 1366×900 and 390×844 go
 * to test-artifacts/dashboard-100k-*.png.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { writeDataset } from '../../bench/datasets.js';
import { SEARCH_SCAN_LIMIT } from '../../src/domain/page.js';
import { type RunningProcess, supervise } from '../../tools/service-process.js';
import { ARTIFACTS, boxOf, launch, outOfView } from './browser.js';

const SESSIONS = 100_000;
/** The third oldest session's name: found only once every other session was looked at. */
const OLD_NAME = 'frank-big12345';
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
/** What must stay in view: Crash, the counters, the container's identity, the event log. */
const LIFECYCLE = ['#crash', '#crash_count', '#startup_count', '#live_sessions', '#container_id'];

let browser: Browser | string = 'not launched';
let url = '';
/** The sessions' ids, oldest first. */
let ids: string[] = [];
let supervisor: RunningProcess | null = null;
let dir = '';

/**
 * Where the data directory goes: memory (/dev/shm) when it has room, else the
 * temp dir. On a busy machine's disk the 100,000 files take 20 to 50 s to be
 * written and synced, and 15 s to be removed (in memory, 6 s and 3 s); what
 * this test is about is the page, not the disk.
 */
async function dataParent(): Promise<string> {
  const room = await statfs('/dev/shm').then(
    (space) => space.bavail * space.bsize,
    () => 0,
  );
  return room >= 2 * 1024 ** 3 ? '/dev/shm' : tmpdir();
}

async function untilServing(base: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const answer = await fetch(`${base}/health`).catch(() => null);
    if (answer?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${base} did not serve within 60 s`);
}

before(async () => {
  browser = await launch();
  if (typeof browser === 'string') return;
  dir = await mkdtemp(join(await dataParent(), 'stateful-e2e-100k-'));
  ids = await writeDataset(dir, SESSIONS, 0, (seq) => (seq === 3 ? OLD_NAME : `user-${seq}`));
  const running = await supervise(dir);
  supervisor = running.supervisor;
  url = running.url;
  await untilServing(url);
});

// Stop the supervisor (and its service) cleanly before the directory goes.
after(async () => {
  if (typeof browser !== 'string') await browser.close();
  if (supervisor !== null) {
    supervisor.kill('SIGTERM');
    await supervisor.exited;
  }
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** A page on the service, its first page of sessions listed; null (and the test skipped) without a browser. */
async function openPage(t: TestContext, viewport = DESKTOP): Promise<Page | null> {
  if (typeof browser === 'string') {
    t.skip(browser);
    return null;
  }
  const page = await browser.newPage({ viewport });
  t.after(() => page.close());
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  t.after(() => assert.deepEqual(problems, [], 'no script error'));
  await page.goto(`${url}/`);
  await page.locator('#connection[data-state="up"]').waitFor();
  await page.locator('#sessions tbody tr').nth(49).waitFor();
  return page;
}

/** Every text #search-status shows from now on, kept in the page. */
async function recordSearchStatus(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(`(() => {
    const status = document.getElementById('search-status');
    window.statusTexts = [];
    new MutationObserver(() => window.statusTexts.push(status.textContent))
      .observe(status, { childList: true, characterData: true, subtree: true });
  })()`);
  return async () => (await page.evaluate('window.statusTexts')) as string[];
}

const rows = (page: Page) => page.locator('#sessions tbody tr');

describe('the dashboard at 100,000 sessions', () => {
  it('finds the oldest sessions by name, id prefix and id with no click on Older, saying how far it searched', async (t) => {
    const page = await openPage(t);
    if (page === null) return;
    const statusTexts = await recordSearchStatus(page);

    // A newest-first page reaches it last: the search looks on by itself.
    await page.fill('#search', OLD_NAME);
    await rows(page).filter({ hasText: OLD_NAME }).waitFor({ timeout: 5000 });
    await page.locator('#search-status[aria-busy="false"]').waitFor();
    assert.equal(await rows(page).count(), 1);
    assert.equal(await page.textContent('#search-status'), 'searched all 100,000');
    const shown = await statusTexts();
    assert.ok(
      shown.some((text) => /^searched [1-9][\d,]* of 100,000…$/.test(text)),
      `progress while it searched: ${JSON.stringify(shown)}`,
    );
    assert.equal(await page.isDisabled('#newer'), true, 'still the first page');

    // An id prefix of the second oldest session.
    const second = ids[1] ?? '';
    await page.fill('#search', second.slice(0, 8));
    await page.locator(`#sessions tbody tr[data-id="${second}"]`).waitFor({ timeout: 5000 });
    await page.locator('#search-status[aria-busy="false"]').waitFor();
    assert.equal(await rows(page).first().locator('.name').textContent(), 'user-2');

    // A whole id, in capitals as someone may paste it: read directly, nothing looked through.
    const oldest = ids[0] ?? '';
    const asked: string[] = [];
    page.on('request', (request) => asked.push(new URL(request.url()).pathname));
    await page.fill('#search', oldest.toUpperCase());
    await page.locator(`#sessions tbody tr[data-id="${oldest}"]`).waitFor({ timeout: 5000 });
    assert.equal(await page.textContent('#search-status'), 'found by its id');
    assert.deepEqual(asked, [`/sessions/${oldest}`]);
  });

  it('stops an older search when a newer one is typed: nothing stale is shown', async (t) => {
    const page = await openPage(t);
    if (page === null) return;
    // The older search's answers are held back until the newer one has been shown.
    await page.route(/\/sessions\?/, async (route) => {
      if (new URL(route.request().url()).searchParams.get('q') === 'user-1') {
        await new Promise((resolve) => setTimeout(resolve, 1500));
      }
      await route.continue().catch(() => undefined); // the page may have dropped it
    });
    await page.fill('#search', 'user-1');
    await page.waitForTimeout(500); // its first request is under way, held
    await page.fill('#search', 'user-99999');
    await rows(page).filter({ hasText: 'user-99999' }).waitFor();
    await page.waitForTimeout(1500); // the held answer came back, or was dropped
    assert.deepEqual(await rows(page).locator('.name').allTextContents(), ['user-99999']);
    assert.match((await page.textContent('#search-status')) ?? '', /^searched all 100,000$/);
  });

  it('says a search the service refused was cut short, never "no match"', async (t) => {
    const page = await openPage(t);
    if (page === null) return;
    // The service answers the search's second request 503, as while it restarts.
    let asked = 0;
    await page.route(/\/sessions\?/, async (route) => {
      asked++;
      if (asked === 2) {
        await route.fulfill({
          status: 503,
          contentType: 'application/json',
          body: '{"error":"starting","message":"starting"}',
        });
      } else await route.continue().catch(() => undefined);
    });
    await page.fill('#search', OLD_NAME);
    await page.locator('#search-status', { hasText: 'then the service did not answer' }).waitFor();
    assert.equal(
      await page.textContent('#search-status'),
      `searched ${SEARCH_SCAN_LIMIT.toLocaleString('en')} of 100,000, then the service did not answer`,
    );
    assert.match((await page.textContent('#no-sessions')) ?? '', /was cut short/);
    assert.doesNotMatch((await page.textContent('#no-sessions')) ?? '', /No session matches/);
  });

  it('stops at its time budget with more to search, says so, and Older searches on from there', async (t) => {
    const page = await openPage(t);
    if (page === null) return;
    // A slow service: one answer (SEARCH_SCAN_LIMIT sessions looked at) uses up the second.
    const slowly = /\/sessions\?/;
    await page.route(slowly, async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await route.continue().catch(() => undefined);
    });
    await page.fill('#search', OLD_NAME);
    await page.locator('#page-info', { hasText: 'Older searches on' }).waitFor();
    assert.equal(
      await page.textContent('#search-status'),
      `searched ${SEARCH_SCAN_LIMIT.toLocaleString('en')} of 100,000`,
    );
    assert.equal(await page.textContent('#no-sessions'), `No match for “${OLD_NAME}” yet.`);
    assert.equal(await rows(page).count(), 0);
    // The service quick again: Older goes on from where the search stopped.
    await page.unroute(slowly);
    await page.click('#older');
    await rows(page).filter({ hasText: OLD_NAME }).waitFor();
    await page.locator('#search-status[aria-busy="false"]').waitFor();
    assert.equal(await page.textContent('#search-status'), 'searched all 100,000');
    assert.equal(await page.textContent('#page-info'), 'page 2');
    assert.equal(await page.isDisabled('#newer'), false);
  });

  it('keeps Crash, the counters and the event log in view beside the list and above it on a phone, shows ids, and edits within the table', async (t) => {
    const page = await openPage(t);
    if (page === null) return;
    for (const selector of [...LIFECYCLE, '#timeline']) {
      assert.equal(await outOfView(page, selector), null);
    }
    // Scrolled down the list, they are still in view (the column is sticky).
    await page.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
    assert.ok(Number(await page.evaluate('window.scrollY')) > 1000, 'a long list, scrolled down');
    for (const selector of LIFECYCLE) assert.equal(await outOfView(page, selector), null);
    await page.evaluate('window.scrollTo(0, 0)');

    // The ids: the first 8 characters drawn; the whole id in the cell (copied whole) and its title.
    const first = rows(page).first();
    const id = (await first.getAttribute('data-id')) ?? '';
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f-]{27}$/);
    assert.equal(await first.locator('.id code').textContent(), id);
    assert.equal(await first.locator('.id code').getAttribute('title'), id);
    const drawn = await page.evaluate(`(() => {
      const code = document.querySelector('#sessions tbody tr .id code');
      const eight = document.createRange();
      eight.setStart(code.firstChild, 0);
      eight.setEnd(code.firstChild, 8);
      const box = code.getBoundingClientRect();
      const text = eight.getBoundingClientRect();
      return { fits: text.right <= box.right + 0.5 && text.width > 0, clipped: code.scrollWidth > code.clientWidth };
    })()`);
    assert.deepEqual(drawn, { fits: true, clipped: true }, 'the first 8 characters of the id show');

    // Editing a row: the table keeps its width, its inputs and buttons lie within it.
    const table = await boxOf(page, '#sessions');
    await first.locator('button.edit').click();
    await page.locator('#sessions tbody tr.editing input[aria-label="new name"]').waitFor();
    const editing = await boxOf(page, '#sessions');
    assert.ok(Math.abs(editing.right - table.right) < 1, 'the table does not grow');
    const outside =
      await page.evaluate(`[...document.querySelectorAll('#sessions tr.editing button, #sessions tr.editing input')]
      .filter((control) => {
        const box = control.getBoundingClientRect();
        const cell = control.closest('td').getBoundingClientRect();
        return box.left < cell.left || box.right > cell.right;
      }).map((control) => control.textContent || control.getAttribute('aria-label'))`);
    assert.deepEqual(outside, [], 'every input and button of the edited row within its cell');
    await page.keyboard.press('Escape');

    // A phone: the lifecycle column above the list, compact, without scrolling.
    await page.setViewportSize(PHONE);
    await page.evaluate('window.scrollTo(0, 0)');
    const list = await boxOf(page, '#sessions');
    for (const selector of LIFECYCLE) {
      assert.equal(await outOfView(page, selector), null);
      assert.ok((await boxOf(page, selector)).bottom <= list.top, `${selector} above the list`);
    }
    const overflow = await page.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    assert.ok(Number(overflow) <= 0, `the page is ${overflow}px wider than a phone screen`);
  });

  it('shows the report of what changed in view after a crash, in every tab, wherever its list was scrolled to', async (t) => {
    const page = await openPage(t);
    const phone = await openPage(t, PHONE);
    if (page === null || phone === null) return;
    // Far down the list in both: on a phone the report appears above the list, off-screen.
    for (const tab of [page, phone]) {
      await tab.evaluate('window.scrollTo(0, document.documentElement.scrollHeight)');
    }
    await page.click('#crash');
    await page.click('#confirm-yes');
    for (const tab of [page, phone]) {
      const report = tab.locator('#change-report');
      await report.waitFor({ state: 'visible', timeout: 60_000 });
      assert.equal(await outOfView(tab, '#change-report'), null);
      assert.equal(await report.locator('li[data-key="sessions"]').getAttribute('class'), 'kept');
    }
    for (const selector of LIFECYCLE) assert.equal(await outOfView(page, selector), null);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-100k-1366x900.png') });

    await phone.evaluate('window.scrollTo(0, 0)');
    await phone.screenshot({ path: join(ARTIFACTS, 'dashboard-100k-390x844.png') });
  });
});
