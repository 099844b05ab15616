// Pages in headless Chromium speak NATS over the browser's own WebSocket to the tsnats websocket
// port and write what they saw into the DOM, which the tests read: one with the raw protocol
// (subscribe, publish, receive its message back; a TCP client sees it too), one with the
// official client using a KV bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startTestServer } from '../helpers/server.js';
import { wsBlock, wsUrl } from '../helpers/ws.js';
import { chromiumSkip } from '../helpers/chromium.js';
import { resultPage, servePage } from '../helpers/page-server.js';
import { browserBundle } from '../helpers/browser-bundle.js';
import { startTsnatsJs } from '../helpers/js-conn.js';

/** The page: raw NATS protocol over the browser's WebSocket. */
function page(ws: string): string {
  return resultPage(`
function onDone() { try { sock.close(); } catch (e) {} }
var sock = new WebSocket(${JSON.stringify(ws)});
sock.binaryType = 'arraybuffer';
sock.onopen = function () { hold(); };
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
`);
}

test('browser WebSocket page: subscribe, publish and receive through the tsnats websocket port', { skip: chromiumSkip(), timeout: 120_000 }, async (t) => {
  const h = await startTestServer({ websocket: wsBlock() }, t);
  const tcp = await connect({ servers: h.clientUrl });
  t.after(() => tcp.close());
  const seenByTcp = tcp.subscribe('page.echo', { max: 1 });
  await tcp.flush();

  const web = await servePage(t, page(wsUrl(h)));
  const { text, posted } = await web.result();
  assert.equal(text, 'got hello from page', `the page's DOM (posted: ${posted})`);
  for await (const m of seenByTcp) assert.equal(m.string(), 'hello from page');
});

/**
 * The page: the official client (@nats-io/nats-core's wsconnect and @nats-io/kv, loaded from the
 * test's own node_modules as one script) against a bucket the test made over TCP.
 */
function kvPage(ws: string): string {
  return resultPage(`
hold();
(async function () {
  var nc;
  try {
    nc = await nats.core.wsconnect({ servers: ${JSON.stringify(ws)} });
    var kv = await new nats.kv.Kvm(nc).open('page');
    var fromTcp = await kv.get('tcp');
    var rev = await kv.put('browser', 'one');
    await kv.put('browser', 'two');
    var casRefused = false;
    try { await kv.update('browser', 'three', rev); } catch (e) { casRefused = true; }
    var history = [];
    for await (var h of await kv.history({ key: 'browser' })) history.push(h.string());
    var watch = await kv.watch({ key: 'watched' });
    await kv.put('watched', 'seen');
    var watched = '';
    for await (var w of watch) { watched = w.key + '=' + w.string(); break; }
    done('tcp=' + (fromTcp ? fromTcp.string() : 'none') + ' cas-refused=' + casRefused +
      ' history=' + history.join(',') + ' watch=' + watched);
  } catch (e) {
    done('error: ' + (e && e.message));
  } finally {
    if (nc) nc.close();
  }
})();
`, ['/nats.js']);
}

test('browser page with the official client: KV get, put, CAS, history and watch over the tsnats websocket port', { skip: chromiumSkip(), timeout: 120_000 }, async (t) => {
  const { server: h, nc: tcp } = await startTsnatsJs(t, 'tsnats-page-kv-', { websocket: wsBlock() });
  const kv = await new Kvm(tcp).create('page', { history: 5 });
  await kv.put('tcp', 'written over tcp');

  const bundle = browserBundle({ core: '@nats-io/nats-core', kv: '@nats-io/kv' });
  const web = await servePage(t, kvPage(wsUrl(h)), { '/nats.js': bundle });
  const { text, posted } = await web.result();
  assert.equal(text, 'tcp=written over tcp cas-refused=true history=one,two watch=watched=seen', `the page's DOM (posted: ${posted})`);
  // What the browser wrote is in the bucket for every other client.
  assert.equal((await kv.get('browser'))?.string(), 'two');
  assert.equal((await kv.get('watched'))?.string(), 'seen');
});
