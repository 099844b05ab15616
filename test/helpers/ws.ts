// Websocket helpers for tests: the official client's websocket transport (wsconnect from
// @nats-io/nats-core) needs a WebSocket constructor, which Node 20 lacks: the `ws` package's
// is installed globally once, as the client's documentation says for Node.
import WebSocket from 'ws';
// transport-node re-exports nats-core's wsconnect (nats-core itself is not a direct dependency).
import { wsconnect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { defaultWebsocketOptions } from '../../src/config/load-websocket.js';
import type { WebsocketOptions } from '../../src/config/options.js';
import type { ServerHandle } from './server.js';

const g = globalThis as { WebSocket?: unknown };
if (g.WebSocket === undefined) g.WebSocket = WebSocket;

export { WebSocket };

/** A websocket block on 127.0.0.1, a random port, no TLS, plus `over`. */
export function wsBlock(over: Partial<WebsocketOptions> = {}): WebsocketOptions {
  return { ...defaultWebsocketOptions(), host: '127.0.0.1', port: 0, noTls: true, ...over };
}

export function wsUrl(h: ServerHandle): string {
  const port = h.server.listeners.port('websocket');
  if (port === undefined) throw new Error('the server has no websocket listener');
  return `ws://127.0.0.1:${port}`;
}

export function wsConnect(url: string, opts: ConnectionOptions = {}): Promise<NatsConnection> {
  return wsconnect({ servers: url, ...opts });
}

export interface RawWs {
  ws: WebSocket;
  /** text of every message received so far */
  received: string[];
  /** response headers of the upgrade (101) */
  upgradeHeaders: Record<string, unknown>;
  /** resolves with the close status and reason */
  closed: Promise<{ code: number; reason: string }>;
}

/** A bare websocket client: the first message (INFO) has arrived when this resolves. */
export function rawWs(url: string, options: WebSocket.ClientOptions = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const received: string[] = [];
    let upgradeHeaders: Record<string, unknown> = {};
    ws.once('upgrade', (res) => { upgradeHeaders = res.headers; });
    const closed = new Promise<{ code: number; reason: string }>((r) => {
      ws.on('close', (code, reason) => r({ code, reason: reason.toString() }));
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      received.push(data.toString());
      if (received.length === 1) resolve({ ws, received, closed, upgradeHeaders });
    });
  });
}

/** The status and body of a refused upgrade. */
export function refusedUpgrade(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('error', () => { /* the unexpected-response handler reports */ });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
  });
}
