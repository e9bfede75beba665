// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) loads a
// page directly (no proxy) and waits until the page's own script reports a result.
//
//   node chromium_page.mjs PAGE_URL
//
// The page must fill `#result` when it is done, or `#error`. Prints `result: TEXT` and
// exits 0; otherwise prints `error: …` and exits 1. The host resolver is switched off for
// every name but loopback, so Chromium looks up no Google host in the background. Never
// downloads a browser.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './modules.mjs';

const [pageUrl] = process.argv.slice(2);
if (!pageUrl) {
  console.log('usage: node chromium_page.mjs PAGE_URL');
  process.exit(2);
}
const executablePath = process.env.WSVIA_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`error: ${executablePath} is missing: apt-get install -y --no-install-recommends chromium`);
  process.exit(1);
}

const playwright = await load('playwright-core'); // CommonJS: its exports are `default`
const { chromium } = playwright.default;

let browser;
let code = 1;
const home = mkdtempSync(join(tmpdir(), 'wsvia-chromium-'));
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
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ],
  });
  const page = await browser.newPage();
  const response = await page.goto(pageUrl, { timeout: 15_000 });
  const status = response?.status();
  if (status !== 200) {
    console.log(`error: page status ${status}`);
  } else {
    await page.locator('#result:not(:empty), #error:not(:empty)').first().waitFor({ timeout: 10_000 });
    const result = await page.locator('#result').textContent();
    const error = await page.locator('#error').textContent();
    if (result) {
      console.log(`result: ${result}`);
      code = 0;
    } else {
      console.log(`error: the page says: ${error}`);
    }
  }
} catch (error) {
  console.log(`error: ${error.message.split('\n')[0]}`);
} finally {
  await browser?.close().catch(() => {});
  rmSync(home, { recursive: true, force: true });
}
process.exit(code);
