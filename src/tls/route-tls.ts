// TLS of route connections (nats-server createRoute): the handshake happens before
// any route protocol, server side on accepted connections and client side on dialed
// ones, within the cluster tls timeout. The dialing side checks the peer's certificate
// against ca_file and the route URL's host (unless `insecure`); the accepting side asks
// for the dialer's certificate when `verify` is set. Pinned certificates apply to both.
import type { Socket } from 'node:net';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tls } from '../core/lazy-modules.js';
import { pinnedError, serverHandshakeError, type TlsSettings } from './settings.js';
import { tlsErrorText } from './client-upgrade.js';

/** Handshake as the server on an accepted route socket; rejects with the error text. */
export function acceptRouteTls(raw: Socket, s: TlsSettings): Promise<TLSSocket> {
  const sock = new (tls().TLSSocket)(raw, {
    isServer: true, secureContext: s.context, requestCert: s.verify, rejectUnauthorized: s.verify,
  });
  return settle(raw, sock, s, 'secure', () => serverHandshakeError(s, sock));
}

/** Handshake as the client on a dialed route socket to `host`; rejects with the error text. */
export function dialRouteTls(raw: Socket, s: TlsSettings, host: string): Promise<TLSSocket> {
  const sock = tls().connect({
    socket: raw,
    secureContext: s.context,
    host,
    // SNI carries host names only, never addresses.
    servername: net.isIP(host) === 0 ? host : undefined,
    rejectUnauthorized: !s.insecure,
  });
  return settle(raw, sock, s, 'secureConnect', () => pinnedError(s, sock));
}

function settle(raw: Socket, sock: TLSSocket, s: TlsSettings, event: string, check: () => string | undefined): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.off('error', onError);
      sock.off('close', onClose);
      if (err === undefined) {
        resolve(sock);
        return;
      }
      sock.destroy();
      raw.destroy();
      reject(new Error(err));
    };
    const onError = (e: Error): void => finish(tlsErrorText(e));
    const onClose = (): void => finish('EOF');
    const timer = setTimeout(() => finish('i/o timeout'), s.timeoutMs);
    sock.on('error', onError);
    sock.on('close', onClose);
    sock.once(event, () => finish(check()));
  });
}
