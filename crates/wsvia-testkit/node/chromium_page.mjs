// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) loads a
// page directly (no proxy) and waits until the page's own script reports a result.
//
//   node chromium_page.mjs PAGE_URL
//
// The page must fill `#result` when it is done, or `#error`. Prints `result: TEXT` and
// exits 0; otherwise prints `error: …` and exits 1. (Launch details: chromium.mjs.)
import { withChromium } from './chromium.mjs';

const [pageUrl] = process.argv.slice(2);
if (!pageUrl) {
  console.log('usage: node chromium_page.mjs PAGE_URL');
  process.exit(2);
}

const code = await withChromium({}, async (browser) => {
  const page = await browser.newPage();
  const response = await page.goto(pageUrl, { timeout: 15_000 });
  const status = response?.status();
  if (status !== 200) {
    console.log(`error: page status ${status}`);
    return 1;
  }
  await page.locator('#result:not(:empty), #error:not(:empty)').first().waitFor({ timeout: 10_000 });
  const result = await page.locator('#result').textContent();
  const error = await page.locator('#error').textContent();
  if (!result) {
    console.log(`error: the page says: ${error}`);
    return 1;
  }
  console.log(`result: ${result}`);
  return 0;
});
process.exit(code);
