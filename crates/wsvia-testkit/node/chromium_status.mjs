// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) opens a
// page directly (no proxy), waits until its text shows EXPECTED, and saves a screenshot.
//
//   node chromium_status.mjs URL EXPECTED SCREENSHOT.png [USER PASS]
//
// USER/PASS answer an HTTP Basic challenge (playwright's httpCredentials). Prints
// `found` and exits 0, or `error: …` and exits 1. Never downloads a browser; the host
// resolver is switched off for every name but loopback.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './modules.mjs';

const [url, expected, screenshot, username, password] = process.argv.slice(2);
if (!url || !expected || !screenshot) {
  console.log('usage: node chromium_status.mjs URL EXPECTED SCREENSHOT.png [USER PASS]');
  process.exit(2);
}
const executablePath = process.env.WSVIA_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`error: ${executablePath} is missing: apt-get install -y --no-install-recommends chromium`);
  process.exit(1);
}
const { chromium } = (await load('playwright-core')).default;
const home = mkdtempSync(join(tmpdir(), 'wsvia-chromium-'));
let browser;
let code = 1;
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
  });
  const context = await browser.newContext(
    username === undefined ? {} : { httpCredentials: { username, password: password ?? '' } },
  );
  const page = await context.newPage();
  const response = await page.goto(url, { timeout: 15_000 });
  if (response?.status() !== 200) {
    console.log(`error: page status ${response?.status()}`);
  } else {
    await page.waitForFunction((t) => document.body.innerText.includes(t), expected, { timeout: 10_000 });
    // Let the live refresh draw the chart at least twice.
    await page.waitForTimeout(2_500);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log('found');
    code = 0;
  }
} catch (e) {
  console.log(`error: ${e.message.split('\n')[0]}`);
} finally {
  if (browser) await browser.close();
  rmSync(home, { recursive: true, force: true });
}
process.exit(code);
