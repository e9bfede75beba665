// A WebSocket client through an HTTP proxy with Node's `ws` and `https-proxy-agent`
// (which always opens a CONNECT tunnel, for ws:// too).
//
//   node proxy_client.mjs PROXY_URL WS_URL MESSAGE...
//
// PROXY_URL is http://[user:pass@]127.0.0.1:PORT. Sends each MESSAGE as text, prints each
// echo on its own line, closes and exits 0. On failure prints `error: …` (with the HTTP
// status, e.g. `status 407`, when the proxy or server refused) and exits 1.
import { load } from './modules.mjs';

const [proxyUrl, wsUrl, ...messages] = process.argv.slice(2);
if (!proxyUrl || !wsUrl) {
  console.log('usage: node proxy_client.mjs PROXY_URL WS_URL MESSAGE...');
  process.exit(2);
}

const { default: WebSocket } = await load('ws');
const { HttpsProxyAgent } = await load('https-proxy-agent');

function fail(message) {
  console.log(`error: ${message}`);
  process.exit(1);
}

setTimeout(() => fail('timed out after 15 s'), 15_000).unref();

const ws = new WebSocket(wsUrl, { agent: new HttpsProxyAgent(proxyUrl), handshakeTimeout: 10_000 });
ws.on('unexpected-response', (_request, response) =>
  fail(`unexpected response: status ${response.statusCode} ${response.statusMessage}`),
);
ws.on('error', (error) => fail(`${error.name}: ${error.message}`));
ws.on('open', () => {
  const pending = [...messages];
  if (pending.length === 0) {
    ws.close(1000);
    return;
  }
  ws.on('message', (data) => {
    console.log(data.toString('utf8'));
    pending.shift();
    if (pending.length === 0) ws.close(1000);
  });
  for (const message of messages) ws.send(message);
});
ws.on('close', (code) => {
  if (code !== 1000) fail(`closed with code ${code}`);
  process.exit(0);
});
