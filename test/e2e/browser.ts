/**
 * What the dashboard's end-to-end tests share: Debian's headless Chromium,
 * driven by playwright-core (never a downloaded browser), and the folder the
 * screenshots go to.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** The browser, or why there is none (the test skips, except in CI). */
export async function launch(): Promise<Browser | string> {
  if (!existsSync(CHROMIUM)) {
    const why = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
    // CI installs it: there a missing browser is a failure, never a skip.
    if (process.env.CI !== undefined) throw new Error(why);
    return why;
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

export interface Box {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Where the first element matching `selector` is drawn, relative to the viewport. */
export async function boxOf(page: Page, selector: string): Promise<Box> {
  // Evaluated in the page (the test's own compiler has no DOM types).
  const box = await page.evaluate(`(() => {
    const { top, bottom, left, right } = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
    return { top, bottom, left, right };
  })()`);
  return box as Box;
}

/** Why the element is not wholly inside the viewport, or null when it is. */
export async function outOfView(page: Page, selector: string): Promise<string | null> {
  const box = await boxOf(page, selector);
  const viewport = page.viewportSize() ?? { width: 0, height: 0 };
  const inside =
    box.top >= 0 &&
    box.left >= 0 &&
    box.bottom <= viewport.height &&
    box.right <= viewport.width &&
    box.bottom > box.top;
  return inside
    ? null
    : `${selector} is drawn at ${JSON.stringify(box)}, outside ${viewport.width}×${viewport.height}`;
}
