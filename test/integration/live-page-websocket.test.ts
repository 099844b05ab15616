// A page in headless Chromium speaks NATS over the browser's own WebSocket to the tsnats
// websocket port: it subscribes, publishes, receives its message back and writes it into the
// DOM, which the test reads. A TCP client on the same subject sees the browser's message too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { pollUntil } from '../helpers/wait.js';
import { wsBlock, wsUrl } from '../helpers/ws.js';
import { chromiumSkip, dumpDom } from '../helpers/chromium.js';

/**
 * The page. Once its socket is open it holds a request to /hold open: Chromium's virtual time
 * does not advance (so --dump-dom does not fire) while a fetch is pending, and the test server
 * answers /hold only once the page has posted /done, after writing its result into the DOM.
 * (Holding from the very start instead stalled the socket in some runs.)
 */
function page(ws: string): string {
  return `<!doctype html><html><body><div id="result">waiting</div><script>
var out = document.getElementById('result');
function done(text) {
  if (out.textContent !== 'waiting') return;
  out.textContent = text;
  try { sock.close(); } catch (e) {}
  fetch('/done', { method: 'POST', body: text });
}
var sock = new WebSocket(${JSON.stringify(ws)});
sock.binaryType = 'arraybuffer';
sock.onopen = function () { fetch('/hold'); };
var buf = '', sent = false;
sock.onerror = function () { done('error: websocket error'); };
sock.onclose = function (e) { done('error: closed ' + e.code); };
sock.onmessage = function (e) {
  buf += typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data);
  if (!sent && buf.indexOf('INFO ') === 0 && buf.indexOf('\\r\\n') > 0) {
    sent = true;
    sock.send('CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true,"no_responders":true,"lang":"browser"}\\r\\n' +
      'SUB page.echo 1\\r\\nPING\\r\\n');
    return;
  }
  if (sent && buf.indexOf('PONG\\r\\n') >= 0 && buf.indexOf('MSG') < 0 && !sock.published) {
    sock.published = true;
    sock.send('PUB page.echo 15\\r\\nhello from page\\r\\n');
  }
  var m = /MSG page\\.echo 1 (\\d+)\\r\\n/.exec(buf);
  if (m) {
    var start = m.index + m[0].length, n = Number(m[1]);
    if (buf.length >= start + n) done('got ' + buf.slice(start, start + n));
  }
};
</script></body></html>`;
}

test('browser WebSocket page: subscribe, publish and receive through the tsnats websocket port', { skip: chromiumSkip(), timeout: 120_000 }, async (t) => {
  const h = await startTestServer({ websocket: wsBlock() }, t);
  const tcp = await connect({ servers: h.clientUrl });
  t.after(() => tcp.close());
  const seenByTcp = tcp.subscribe('page.echo', { max: 1 });
  await tcp.flush();

  let posted: string | undefined;
  let release: (() => void) | undefined;
  let released = new Promise<void>((r) => { release = r; });
  const web = http.createServer((req, res) => {
    if (req.url === '/hold') {
      // Answered when the page has its result, or after 15 s so a broken page still ends.
      const timer = setTimeout(() => release!(), 15_000);
      void released.then(() => { clearTimeout(timer); res.end('ok'); });
    } else if (req.url === '/done') {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { posted = body; res.end('ok'); release!(); });
    } else if (req.url === '/') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page(wsUrl(h)));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { web.closeAllConnections(); web.close(() => r()); }));

  // A run whose virtual-time budget ends before the socket opens leaves "waiting" (no request
  // was pending to hold the clock yet): that run proved nothing, so the page is loaded again.
  const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;
  const dom = await pollUntil(async () => {
    released = new Promise<void>((r) => { release = r; });
    const d = await dumpDom(url, 5000);
    return d.includes('<div id="result">waiting</div>') ? undefined : d;
  }, 'a page run that got past opening its websocket', 90_000, 0);
  const result = /<div id="result">([^<]*)<\/div>/.exec(dom)?.[1];
  assert.equal(result, 'got hello from page', `the page's DOM (posted: ${posted})`);
  for await (const m of seenByTcp) assert.equal(m.string(), 'hello from page');
});
