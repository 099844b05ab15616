// The dialling side of a websocket upgrade, as nats-server's leaf node does it when a remote's
// url is ws:// or wss:// (leafNodeSolicitWSConnection): a GET on `/leafnode` (the path tells
// the hub's websocket listener that a leaf, not a client, is coming), the permessage-deflate
// offer and the Nats-No-Masking ask when configured, then the checks on the 101 answer. The
// socket is already connected (and TLS'd for wss); what follows the answer is returned so
// the frame decoder sees it first.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { WS_MAX_MESSAGE_BYTES, WsStream } from './transport.js';
import { wsAcceptKey } from './handshake.js';

/** nats-server's leafNodeWSPath: the hub's listener creates a leaf connection for it. */
export const LEAF_WS_PATH = '/leafnode';

export interface WsDialOptions {
  /** the Host header: host[:port] of the remote url */
  host: string;
  /** the remote url's path (appended to /leafnode as nats-server does) */
  path: string;
  /** offer permessage-deflate (the remote's ws_compression) */
  compress: boolean;
  /** ask for unmasked frames (the remote's ws_no_masking) */
  noMasking: boolean;
  /** how long the answer may take (nats-server: the leaf INFO wait, 2s) */
  timeoutMs: number;
}

/** The request path: `/leafnode` followed by the url's path without its first slash. */
export function leafWsPath(urlPath: string): string {
  return LEAF_WS_PATH + (urlPath.startsWith('/') ? urlPath.slice(1) : urlPath);
}

/**
 * Send the upgrade request on `socket` and check the answer; resolves with the websocket
 * stream (compression and masking as negotiated), rejects with nats-server's error text.
 */
export function upgradeAsClient(socket: Socket, o: WsDialOptions): Promise<WsStream> {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    Host: o.host, Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13',
  };
  if (o.compress) headers['Sec-WebSocket-Extensions'] = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
  if (o.noMasking) headers['Nats-No-Masking'] = 'true';
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (text: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      socket.destroy();
      reject(new Error(text));
    };
    const req = http.request({ method: 'GET', path: leafWsPath(o.path), headers, createConnection: () => socket });
    const timer = setTimeout(() => fail('i/o timeout'), o.timeoutMs);
    req.on('error', (e) => fail(e.message));
    req.on('response', (res) => {
      res.resume();
      fail('invalid websocket connection');
    });
    req.on('upgrade', (res: http.IncomingMessage, sock: Socket, head: Buffer) => {
      if (settled) return void sock.destroy();
      const h = (name: string): string => {
        const v = res.headers[name];
        return (Array.isArray(v) ? v[0] : v) ?? '';
      };
      if (res.statusCode !== 101 || h('upgrade').toLowerCase() !== 'websocket' || h('connection').toLowerCase() !== 'upgrade'
        || h('sec-websocket-accept') !== wsAcceptKey(key)) {
        return fail('invalid websocket connection');
      }
      let compress = false;
      if (o.compress) {
        const ext = deflateAnswer(res.headers['sec-websocket-extensions']);
        // A hub that does not compress is fine; one that keeps context between messages is not.
        if (ext === 'context') return fail('compression negotiation error');
        compress = ext === 'ok';
      }
      // Without the hub's agreement our frames are masked, as any client's.
      const maskWrite = !(o.noMasking && h('nats-no-masking') === 'true');
      settled = true;
      clearTimeout(timer);
      const stream = new WsStream(sock, sock.remoteAddress, sock.remotePort, {
        requireMask: false, compress, maxMessageBytes: WS_MAX_MESSAGE_BYTES, maskWrite,
      });
      stream.feed(head);
      resolve(stream);
    });
    req.end();
  });
}

/**
 * nats-server wsPMCExtensionSupport on the hub's answer: 'ok' when permessage-deflate comes with
 * both no-context-takeover parameters, 'context' when it comes without them, 'none' when absent.
 */
function deflateAnswer(v: string | string[] | undefined): 'ok' | 'context' | 'none' {
  if (v === undefined) return 'none';
  for (const line of Array.isArray(v) ? v : [v]) {
    for (const ext of line.split(',')) {
      const params = ext.split(';').map((p) => p.trim().toLowerCase());
      const i = params.indexOf('permessage-deflate');
      if (i < 0) continue;
      const rest = params.slice(i + 1);
      return rest.includes('server_no_context_takeover') && rest.includes('client_no_context_takeover') ? 'ok' : 'context';
    }
  }
  return 'none';
}
