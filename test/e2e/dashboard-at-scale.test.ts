/**
 * The dashboard at 100,000 sessions, in headless Chromium: the data directory
 * is written before the service starts (in the original's format; the start
 * takes it over), once for every test here, the oldest sessions given names
 * and ids a test looks for. A search finds the oldest of them, which a
 * newest-first page reaches last, with no click on Older, saying how far it
 * looked; a newer search stops an older one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { writeDataset } from '../../bench/datasets.js';
import { type RunningProcess, supervise } from '../../tools/service-process.js';
import { launch } from './browser.js';

const SESSIONS = 100_000;
/** The third oldest session's name: found only once every other session was looked at. */
const OLD_NAME = 'frank-big12345';
const DESKTOP = { width: 1366, height: 900 };

let browser: Browser | string = 'not launched';
let url = '';
/** The sessions' ids, oldest first. */
let ids: string[] = [];
let supervisor: RunningProcess | null = null;
let dir = '';

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
  dir = await mkdtemp(join(tmpdir(), 'stateful-e2e-100k-'));
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
});
