// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) loads a
// page through an HTTP proxy; the page opens a WebSocket, sends one message and writes
// the echo into the DOM.
//
//   node chromium_ws.mjs PROXY_URL PAGE_URL [USER PASS]
//
// PROXY_URL is http://127.0.0.1:PORT. playwright's `proxy` launch option becomes
// `--proxy-server=PROXY_URL --proxy-bypass-list=<-loopback>` (without `<-loopback>`
// Chromium never proxies 127.0.0.1), and USER/PASS, when given, become the answer to the
// proxy's 407 (playwright answers Chromium's auth challenge over CDP). The host resolver
// is switched off for every name but loopback so Chromium looks up no Google host.
//
// The page (served by the test) must fill `#echo` with the echoed text, or `#error`.
// Prints `echo: TEXT` and exits 0; otherwise prints `error: …` (`page status 407` when
// the page load itself was refused) and exits 1. Never downloads a browser.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from './modules.mjs';

const [proxyUrl, pageUrl, username, password] = process.argv.slice(2);
if (!proxyUrl || !pageUrl) {
  console.log('usage: node chromium_ws.mjs PROXY_URL PAGE_URL [USER PASS]');
  process.exit(2);
}
const executablePath = process.env.WSVIA_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`error: ${executablePath} is missing: apt-get install -y --no-install-recommends chromium`);
  process.exit(1);
}

const playwright = await load('playwright-core'); // CommonJS: its exports are `default`
const { chromium } = playwright.default;

const proxy = { server: proxyUrl };
if (username !== undefined) Object.assign(proxy, { username, password: password ?? '' });

let browser;
let code = 1;
const home = mkdtempSync(join(tmpdir(), 'wsvia-chromium-'));
try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    proxy,
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
    const result = page.locator('#echo:not(:empty), #error:not(:empty)');
    await result.first().waitFor({ timeout: 10_000 });
    const echo = await page.locator('#echo').textContent();
    const error = await page.locator('#error').textContent();
    if (echo) {
      console.log(`echo: ${echo}`);
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
