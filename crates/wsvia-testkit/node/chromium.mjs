// Headless Chromium for the tests: the system's /usr/bin/chromium (or $WSVIA_CHROMIUM),
// driven by playwright-core, with its own throwaway HOME. The host resolver is switched
// off for every name but loopback, so Chromium looks up no Google host in the background.
// Never downloads a browser.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './modules.mjs';

/**
 * Launch Chromium with `options` added to the common launch options (e.g. `proxy`), run
 * `body(browser)` and return the exit code it returns. A thrown error prints
 * `error: FIRST LINE` and gives 1; the browser is closed and HOME removed either way.
 * Exits 1 at once when Chromium is not installed.
 */
export async function withChromium(options, body) {
  const executablePath = process.env.WSVIA_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    console.log(`error: ${executablePath} is missing: apt-get install -y --no-install-recommends chromium`);
    process.exit(1);
  }
  const { chromium } = (await load('playwright-core')).default; // CommonJS: exports are `default`
  const home = mkdtempSync(join(tmpdir(), 'wsvia-chromium-'));
  let browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      timeout: 30_000,
      env: { ...process.env, HOME: home },
      args: [
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
      ],
      ...options,
    });
    return await body(browser);
  } catch (error) {
    console.log(`error: ${error.message.split('\n')[0]}`);
    return 1;
  } finally {
    await browser?.close().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * Open `pageUrl` in a new page of `browser` and wait (10 s at most) until the page's own
 * script fills `#ID` or `#error`. Prints `ID: TEXT` and returns 0; otherwise prints
 * `error: page status N` (the page load was refused) or `error: the page says: …` and
 * returns 1.
 */
export async function pageOutcome(browser, pageUrl, id) {
  const page = await browser.newPage();
  const response = await page.goto(pageUrl, { timeout: 15_000 });
  const status = response?.status();
  if (status !== 200) {
    console.log(`error: page status ${status}`);
    return 1;
  }
  await page.locator(`#${id}:not(:empty), #error:not(:empty)`).first().waitFor({ timeout: 10_000 });
  const text = await page.locator(`#${id}`).textContent();
  const error = await page.locator('#error').textContent();
  if (!text) {
    console.log(`error: the page says: ${error}`);
    return 1;
  }
  console.log(`${id}: ${text}`);
  return 0;
}
