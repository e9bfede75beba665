// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) loads a
// page directly (no proxy) and waits until the page's own script reports a result.
//
//   node chromium_page.mjs PAGE_URL
//
// The page must fill `#result` when it is done, or `#error`. Prints `result: TEXT` and
// exits 0; otherwise prints `error: …` and exits 1. (Launch details: chromium.mjs.)
import { pageOutcome, withChromium } from './chromium.mjs';

const [pageUrl] = process.argv.slice(2);
if (!pageUrl) {
  console.log('usage: node chromium_page.mjs PAGE_URL');
  process.exit(2);
}

process.exit(await withChromium({}, (browser) => pageOutcome(browser, pageUrl, 'result')));
