// The checks nats-server makes on a websocket upgrade request before it answers 101
// (RFC 6455 4.2.1 and the origin policy), with its status codes and log texts.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';

export interface HandshakeError {
  status: number;
  /** logged as "<addr> - websocket handshake error: <reason>" */
  reason: string;
}

interface AllowedOrigin {
  scheme: string;
  port: string;
}

/** same_origin / allowed_origins as nats-server keeps them: one entry per host (the last one wins). */
export class OriginPolicy {
  private readonly allowed = new Map<string, AllowedOrigin>();

  /** `onBadOrigin` hears about list entries that are no URL (skipped, as nats-server does). */
  constructor(readonly sameOrigin: boolean, origins: string[], onBadOrigin: (text: string) => void) {
    for (const ao of origins) {
      let u: URL;
      try {
        u = new URL(ao);
      } catch {
        onBadOrigin(`error parsing allowed origin: parse ${JSON.stringify(ao)}: invalid URI for request`);
        continue;
      }
      const scheme = u.protocol.slice(0, -1);
      this.allowed.set(u.hostname.replace(/^\[|\]$/g, '').toLowerCase(), { scheme, port: u.port || defaultPort(scheme === 'https') });
    }
  }

  /** undefined when the request's origin may connect, else why not. */
  check(req: IncomingMessage, tls: boolean): string | undefined {
    if (!this.sameOrigin && this.allowed.size === 0) return undefined;
    const origin = header(req, 'origin') || header(req, 'sec-websocket-origin');
    // No Origin: not a browser, and any non-browser client could send any origin anyway.
    if (!origin) return undefined;
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return `parse ${JSON.stringify(origin)}: invalid URI for request`;
    }
    const scheme = u.protocol.slice(0, -1);
    const oh = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const op = u.port || defaultPort(scheme === 'https');
    if (this.sameOrigin) {
      const host = splitHostPort(header(req, 'host'), tls);
      if (host === undefined) return 'missing port in address';
      if (oh !== host.host || op !== host.port) return 'not same origin';
    }
    if (this.allowed.size > 0) {
      const ao = this.allowed.get(oh);
      if (ao === undefined || ao.scheme !== scheme || ao.port !== op) return 'not in the allowed list';
    }
    return undefined;
  }
}

/** RFC 6455 4.2.1 points 1-7, in nats-server's order. */
export function checkUpgrade(req: IncomingMessage, origins: OriginPolicy, tls: boolean): HandshakeError | undefined {
  if (req.method !== 'GET') return { status: 405, reason: 'request method must be GET' };
  if (!header(req, 'host')) return { status: 400, reason: "'Host' missing in request" };
  if (!headerHasToken(req, 'upgrade', 'websocket')) return { status: 400, reason: "invalid value for header 'Upgrade'" };
  if (!headerHasToken(req, 'connection', 'upgrade')) return { status: 400, reason: "invalid value for header 'Connection'" };
  if (!header(req, 'sec-websocket-key')) return { status: 400, reason: 'key missing' };
  if (!headerHasToken(req, 'sec-websocket-version', '13')) return { status: 400, reason: 'invalid version' };
  const bad = origins.check(req, tls);
  if (bad !== undefined) return { status: 403, reason: `origin not allowed: ${bad}` };
  return undefined;
}

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** The Sec-WebSocket-Accept value for a request's key (RFC 6455 4.2.2). */
export function wsAcceptKey(key: string): string {
  return createHash('sha1').update(key + ACCEPT_GUID).digest('base64');
}

/** nats-server's 101 answer (RFC 6455 4.2.2) with its extension and no-masking lines. */
export function acceptResponse(req: IncomingMessage, compress: boolean, noMasking: boolean): string {
  const accept = wsAcceptKey(header(req, 'sec-websocket-key'));
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${accept}\r\n`
    + (compress ? 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n' : '')
    + (noMasking ? 'Nats-No-Masking: true\r\n' : '')
    + '\r\n';
}

/** The client offers permessage-deflate (any parameters: nats-server answers with its own). */
export function offersDeflate(req: IncomingMessage): boolean {
  const v = req.headers['sec-websocket-extensions'];
  if (v === undefined) return false;
  for (const line of Array.isArray(v) ? v : [v]) {
    for (const ext of line.split(',')) {
      for (const p of ext.split(';')) if (p.trim().toLowerCase() === 'permessage-deflate') return true;
    }
  }
  return false;
}

/** nats-server's extension for trusted clients (Go client, leaf nodes): unmasked client frames. */
export function wantsNoMasking(req: IncomingMessage): boolean {
  return header(req, 'nats-no-masking') === 'true';
}

/** The response Go's http.Error writes (plus nats-server's Sec-Websocket-Version), then close. */
export function httpErrorResponse(status: number): string {
  const body = `${STATUS_CODES[status] ?? ''}\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`
    + 'Content-Type: text/plain; charset=utf-8\r\n'
    + 'Sec-Websocket-Version: 13\r\n'
    + 'X-Content-Type-Options: nosniff\r\n'
    + `Date: ${new Date().toUTCString()}\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\n`
    + 'Connection: close\r\n\r\n'
    + body;
}

export function rejectUpgrade(socket: Socket, status: number): void {
  if (socket.destroyed) return;
  socket.end(httpErrorResponse(status));
  // A peer that does not read must not hold the socket open.
  setTimeout(() => socket.destroy(), 1000).unref();
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] ?? '' : v ?? '';
}

/** nats-server wsHeaderContains: a comma-separated token list holds `value` (case-insensitive). */
function headerHasToken(req: IncomingMessage, name: string, value: string): boolean {
  const v = req.headers[name];
  if (v === undefined) return false;
  const want = value.toLowerCase();
  for (const line of Array.isArray(v) ? v : [v]) {
    for (const t of line.split(',')) if (t.trim().toLowerCase() === want) return true;
  }
  return false;
}

function defaultPort(tls: boolean): string {
  return tls ? '443' : '80';
}

/** Host header split as nats-server's wsGetHostAndPort (a missing port is the scheme's default). */
function splitHostPort(hp: string, tls: boolean): { host: string; port: string } | undefined {
  let host = hp;
  let port = '';
  if (hp.startsWith('[')) {
    const end = hp.indexOf(']');
    if (end < 0) return undefined;
    host = hp.slice(1, end);
    const rest = hp.slice(end + 1);
    if (rest.startsWith(':')) port = rest.slice(1);
    else if (rest !== '') return undefined;
  } else {
    const i = hp.lastIndexOf(':');
    if (i >= 0) {
      if (hp.indexOf(':') !== i) return undefined;
      host = hp.slice(0, i);
      port = hp.slice(i + 1);
    }
  }
  return { host: host.toLowerCase(), port: port || defaultPort(tls) };
}

/**
 * The value of cookie `name` in the request's Cookie header(s), as Go's Request.Cookie finds it
 * (first match; surrounding double quotes removed), or undefined.
 */
export function requestCookie(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers.cookie;
  if (v === undefined) return undefined;
  for (const line of Array.isArray(v) ? v : [v]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      const value = part.slice(eq + 1).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
  }
  return undefined;
}
