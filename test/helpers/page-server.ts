// A page for headless Chromium that reports a result, and the HTTP server that serves it.
//
// Chromium's --dump-dom returns when its virtual-time budget is spent; virtual time does not
// advance while a fetch is pending. So the page, once it has started its work, holds a request to
// /hold open, and posts its result to /done after writing it into the DOM; the server answers
// /hold only then (or after 15 s, so that a broken page still ends). Holding from the very start
// instead stalled the page's websocket in some runs, so the page calls hold() itself once its
// socket is open.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { dumpDom } from './chromium.js';
import { pollUntil } from './wait.js';

/** Script the page includes first: `hold()` to pin virtual time, `done(text)` to report once. */
export const PAGE_PRELUDE = `
var out = document.getElementById('result');
function hold() { fetch('/hold'); }
function done(text) {
  if (out.textContent !== 'waiting') return;
  out.textContent = text;
  if (typeof onDone === 'function') { try { onDone(); } catch (e) {} }
  fetch('/done', { method: 'POST', body: text });
}
`;

/** A whole page: a result div, the prelude, then `script` (which calls hold() and done()). */
export function resultPage(script: string, headScripts: string[] = []): string {
  return `<!doctype html><html><head>${headScripts.map((s) => `<script src="${s}"></script>`).join('')}</head>` +
    `<body><div id="result">waiting</div><script>${PAGE_PRELUDE}\n${script}</script></body></html>`;
}

export interface PageServer {
  url: string;
  /** Load the page until a run gets past "waiting"; returns the text of #result and what it posted. */
  result(): Promise<{ text: string | undefined; posted: string | undefined }>;
}

/**
 * Serve `html` at / and each of `files` (path → JavaScript source) on 127.0.0.1, closed when
 * the test ends.
 */
export async function servePage(t: TestContext, html: string, files: Record<string, string> = {}): Promise<PageServer> {
  let posted: string | undefined;
  let release: () => void = () => {};
  let released = Promise.resolve();
  const web = http.createServer((req, res) => {
    if (req.url === '/hold') {
      const timer = setTimeout(() => release(), 15_000);
      void released.then(() => { clearTimeout(timer); res.end('ok'); });
    } else if (req.url === '/done') {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => { posted = body; res.end('ok'); release(); });
    } else if (req.url === '/') {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(html);
    } else if (req.url && req.url in files) {
      res.setHeader('content-type', 'text/javascript; charset=utf-8');
      res.end(files[req.url]);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { web.closeAllConnections(); web.close(() => r()); }));
  const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;
  return {
    url,
    async result() {
      // A run whose virtual-time budget ends before the page called hold() leaves "waiting"
      // (nothing held the clock yet): that run proved nothing, so the page is loaded again.
      const dom = await pollUntil(async () => {
        released = new Promise<void>((r) => { release = r; });
        const d = await dumpDom(url, 5000);
        return d.includes('<div id="result">waiting</div>') ? undefined : d;
      }, 'a page run that got past its start', 90_000, 0);
      return { text: /<div id="result">([^<]*)<\/div>/.exec(dom)?.[1], posted };
    },
  };
}
