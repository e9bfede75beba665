// Headless Chromium (the system's /usr/bin/chromium, driven by playwright-core) loads a
// page through an HTTP proxy; the page opens a WebSocket, sends one message and writes
// the echo into the DOM.
//
//   node chromium_ws.mjs PROXY_URL PAGE_URL [USER PASS]
//
// PROXY_URL is http://127.0.0.1:PORT. playwright's `proxy` launch option becomes
// `--proxy-server=PROXY_URL --proxy-bypass-list=<-loopback>` (without `<-loopback>`
// Chromium never proxies 127.0.0.1), and USER/PASS, when given, become the answer to the
// proxy's 407 (playwright answers Chromium's auth challenge over CDP). Launch details:
// chromium.mjs.
//
// The page (served by the test) must fill `#echo` with the echoed text, or `#error`.
// Prints `echo: TEXT` and exits 0; otherwise prints `error: …` (`page status 407` when
// the page load itself was refused) and exits 1.
import { pageOutcome, withChromium } from './chromium.mjs';

const [proxyUrl, pageUrl, username, password] = process.argv.slice(2);
if (!proxyUrl || !pageUrl) {
  console.log('usage: node chromium_ws.mjs PROXY_URL PAGE_URL [USER PASS]');
  process.exit(2);
}
const proxy = { server: proxyUrl };
if (username !== undefined) Object.assign(proxy, { username, password: password ?? '' });

process.exit(await withChromium({ proxy }, (browser) => pageOutcome(browser, pageUrl, 'echo')));
