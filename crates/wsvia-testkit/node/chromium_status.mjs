// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) opens a
// page directly (no proxy), waits until its text shows EXPECTED, and saves a screenshot.
//
//   node chromium_status.mjs URL EXPECTED SCREENSHOT.png [USER PASS]
//
// USER/PASS answer an HTTP Basic challenge (playwright's httpCredentials). Prints
// `found` and exits 0, or `error: …` and exits 1. Launch details: chromium.mjs.
import { withChromium } from './chromium.mjs';

const [url, expected, screenshot, username, password] = process.argv.slice(2);
if (!url || !expected || !screenshot) {
  console.log('usage: node chromium_status.mjs URL EXPECTED SCREENSHOT.png [USER PASS]');
  process.exit(2);
}

const code = await withChromium({}, async (browser) => {
  const context = await browser.newContext(
    username === undefined ? {} : { httpCredentials: { username, password: password ?? '' } },
  );
  const page = await context.newPage();
  const response = await page.goto(url, { timeout: 15_000 });
  if (response?.status() !== 200) {
    console.log(`error: page status ${response?.status()}`);
    return 1;
  }
  await page.waitForFunction((t) => document.body.innerText.includes(t), expected, { timeout: 10_000 });
  // Let the live refresh draw the chart at least twice.
  await page.waitForTimeout(2_500);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log('found');
  return 0;
});
process.exit(code);
