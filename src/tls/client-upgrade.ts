// The TLS part of accepting a client, in nats-server's order (createClient):
//   - default: INFO in plaintext, then the server-side handshake;
//   - allow_non_tls: INFO, then the first bytes decide: a TLS record (0x16) starts the
//     handshake, anything else (or nothing within the TLS timeout) stays plaintext;
//   - handshake_first: the handshake comes first and INFO is sent over TLS; with a
//     fallback delay, a client that says nothing for that long gets INFO first instead.
// A handshake that fails or does not finish within the TLS timeout closes the connection
// ("TLS Handshake Failure"). On the timeout nats-server 2.9.10 queues
// -ERR 'Secure Connection - TLS Required' but the connection is already closed: the
// client sees INFO and then EOF (checked against the real server), and so it is here.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tls } from '../core/lazy-modules.js';
import { serverHandshakeError, type TlsSettings } from './settings.js';

export interface ClientTlsHooks {
  /** write INFO to `sock` now */
  sendInfo(sock: Socket): void;
  /** the connection is ready: read from and write to `sock`; `pre` was read while deciding */
  ready(sock: Socket, pre: Buffer | null, secure: TLSSocket | null): void;
  /** close with "TLS Handshake Failure"; `log` holds the error lines to print */
  failed(log: string[]): void;
  /** the client went away before saying anything (allow_non_tls / handshake_first fallback wait) */
  gone(): void;
}

function ignoreError(): void {
  // The socket's 'close' follows every error; that is where the connection is ended.
}

/** Run the TLS part of a client's accept on the plaintext socket `raw`. */
export function negotiateClientTls(raw: Socket, s: TlsSettings, allowNonTls: boolean, hooks: ClientTlsHooks): void {
  // No reader is attached yet: a reset must not become an unhandled 'error' event.
  raw.on('error', ignoreError);
  const afterInfo = (): void => {
    hooks.sendInfo(raw);
    if (!allowNonTls) {
      serverHandshake(raw, null, s, hooks, false);
      return;
    }
    firstBytes(raw, s.timeoutMs, hooks, (pre) => {
      if (pre !== null && pre[0] === 0x16) serverHandshake(raw, pre, s, hooks, false);
      else hooks.ready(raw, pre, null);
    });
  };
  if (!s.handshakeFirst) {
    afterInfo();
  } else if (s.handshakeFirstFallbackMs <= 0) {
    serverHandshake(raw, null, s, hooks, true);
  } else {
    firstBytes(raw, s.handshakeFirstFallbackMs, hooks, (pre) => {
      if (pre !== null) serverHandshake(raw, pre, s, hooks, true);
      else afterInfo();
    });
  }
}

/** The first chunk the client sends, or null when nothing came within `waitMs`. */
function firstBytes(raw: Socket, waitMs: number, hooks: ClientTlsHooks, then: (pre: Buffer | null) => void): void {
  let done = false;
  const finish = (pre: Buffer | null): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    raw.off('data', onData);
    raw.off('close', onClose);
    raw.pause();
    then(pre);
  };
  const onData = (b: Buffer): void => finish(b);
  const onClose = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    hooks.gone();
  };
  const timer = setTimeout(() => finish(null), waitMs);
  raw.on('data', onData);
  raw.on('close', onClose);
}

function serverHandshake(raw: Socket, pre: Buffer | null, s: TlsSettings, hooks: ClientTlsHooks, infoAfter: boolean): void {
  // Bytes already read cannot be handed back to the socket's handle: a stream that
  // replays them in front of the socket carries the handshake instead.
  const stream = pre === null ? raw : new ReplayDuplex(raw, pre);
  const sock = new (tls().TLSSocket)(stream, {
    isServer: true, secureContext: s.context, requestCert: s.verify, rejectUnauthorized: s.verify,
  });
  let done = false;
  const fail = (...log: string[]): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    hooks.failed(log);
  };
  const timer = setTimeout(() => {
    const where = `${raw.localAddress ?? ''}:${raw.localPort ?? 0}->${raw.remoteAddress ?? ''}:${raw.remotePort ?? 0}`;
    fail(`TLS handshake error: read tcp ${where.replace(/::ffff:/g, '')}: i/o timeout`, 'TLS handshake timeout');
  }, s.timeoutMs);
  const onError = (e: Error): void => fail(`TLS handshake error: ${tlsErrorText(e)}`);
  const onClose = (): void => fail('TLS handshake error: EOF');
  sock.on('error', onError);
  sock.on('close', onClose);
  sock.once('secure', () => {
    if (done) return;
    const err = serverHandshakeError(s, sock);
    if (err !== undefined) {
      fail(`TLS handshake error: ${err}`);
      return;
    }
    done = true;
    clearTimeout(timer);
    sock.off('error', onError);
    sock.off('close', onClose);
    if (infoAfter) hooks.sendInfo(sock);
    hooks.ready(sock, null, sock);
  });
}

/** OpenSSL's complaints about a first record that is not TLS at all (Go: RecordHeaderError). */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_RECORD_LENGTH_MISMATCH',
]);

/** TLS alerts from the peer, as Go's crypto/tls names them in nats-server's log. */
const PEER_ALERTS: Record<string, string> = {
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'remote error: tls: unknown certificate authority',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'remote error: tls: bad certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'remote error: tls: unknown certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'remote error: tls: expired certificate',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'remote error: tls: handshake failure',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'remote error: tls: protocol version not supported',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: "tls: client didn't provide a certificate",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'remote error: tls: certificate required',
};

/** The handshake error as nats-server would log it, else OpenSSL's reason. */
export function tlsErrorText(e: Error): string {
  const err = e as NodeJS.ErrnoException & { reason?: string };
  if (err.code !== undefined && NOT_TLS.has(err.code)) return 'tls: first record does not look like a TLS handshake';
  if (err.code !== undefined && PEER_ALERTS[err.code] !== undefined) return PEER_ALERTS[err.code]!;
  return err.reason ?? e.message;
}

/** A duplex over a socket that first yields bytes already read from it. */
class ReplayDuplex extends Duplex {
  constructor(private readonly raw: Socket, first: Buffer) {
    super();
    this.push(first);
    raw.on('data', (d: Buffer) => {
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (e) => this.destroy(e));
    raw.on('close', () => this.destroy());
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.raw.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.raw.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.raw.destroy();
    cb(err);
  }
}
