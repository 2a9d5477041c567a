/**
 * What the dashboard's end-to-end tests share: Debian's headless Chromium,
 * driven by playwright-core (never a downloaded browser), and the folder the
 * screenshots go to.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

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
