// TLS settings built once from a `tls {}` block (client port, cluster, monitoring),
// as nats-server's GenTLSConfig: one SecureContext shared by every connection, the
// handshake timeout, peer verification, pinned certificates. Go cipher-suite and
// curve names are translated to OpenSSL's by config/tls-names.ts.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import type { TlsConfig } from '../config/options.js';
import { opensslCiphers, opensslCurves } from '../config/tls-names.js';
import { tls } from '../core/lazy-modules.js';

/** nats-server's default TLS timeout (seconds). */
export const DEFAULT_TLS_TIMEOUT_SEC = 2;

export interface TlsSettings {
  readonly context: SecureContext;
  /** ask the peer for a certificate and refuse the handshake without a valid one */
  readonly verify: boolean;
  /** map the client certificate to a user (verify_and_map) */
  readonly verifyAndMap: boolean;
  /** skip verification of the server certificate when dialing (routes' `insecure`) */
  readonly insecure: boolean;
  readonly timeoutMs: number;
  /** hex sha256 of allowed peer SubjectPublicKeyInfo; null = any */
  readonly pinned: ReadonlySet<string> | null;
  readonly handshakeFirst: boolean;
  /** handshake_first with a fallback: INFO goes first when the client says nothing for this long */
  readonly handshakeFirstFallbackMs: number;
}

/** node:tls context options of a tls block: certificate, CA, ciphers, curves, minimum version. */
export function secureContextOptions(t: TlsConfig): SecureContextOptions {
  const pair = t.certFile && t.keyFile ? { certFile: t.certFile, keyFile: t.keyFile } : t.certificates?.[0];
  return {
    cert: pair ? readFileSync(pair.certFile) : undefined,
    key: pair ? readFileSync(pair.keyFile) : undefined,
    ca: t.caFile ? readFileSync(t.caFile) : undefined,
    ciphers: opensslCiphers(t),
    ecdhCurve: opensslCurves(t),
    minVersion: t.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    honorCipherOrder: true,
  };
}

/** Build the settings of one tls block (files were checked when the config was read). */
export function buildTlsSettings(t: TlsConfig): TlsSettings {
  const context = tls().createSecureContext(secureContextOptions(t));
  const timeoutSec = t.timeoutSec !== undefined && t.timeoutSec > 0 ? t.timeoutSec : DEFAULT_TLS_TIMEOUT_SEC;
  return {
    context,
    verify: t.verify === true || t.verifyAndMap === true,
    verifyAndMap: t.verifyAndMap === true,
    insecure: t.insecure === true,
    timeoutMs: Math.round(timeoutSec * 1000),
    pinned: t.pinnedCerts && t.pinnedCerts.length > 0 ? new Set(t.pinnedCerts.map((p) => p.toLowerCase())) : null,
    handshakeFirst: t.handshakeFirst === true,
    handshakeFirstFallbackMs: t.handshakeFirst === true ? (t.handshakeFirstFallbackMs ?? 0) : 0,
  };
}

/**
 * Why a finished server-side handshake must be refused, or undefined when it is accepted.
 * A TLSSocket made by hand (the NATS upgrade happens after a plaintext INFO, so there is
 * no tls.Server to do it) only reports the chain check, as node's tls.Server itself reads
 * it after the handshake; without that check any certificate would pass.
 */
export function serverHandshakeError(s: TlsSettings, sock: TLSSocket): string | undefined {
  if (s.verify) {
    const handle = (sock as unknown as { _handle?: { verifyError?: () => Error | null } })._handle;
    if (typeof handle?.verifyError !== 'function') return 'unable to verify the peer certificate';
    const err = handle.verifyError();
    if (err) return `tls: failed to verify client certificate: ${err.message}`;
  }
  return pinnedError(s, sock);
}

/** nats-server matchesPinnedCert: the peer's public key must be one of `pinned_certs`. */
export function pinnedError(s: TlsSettings, sock: TLSSocket): string | undefined {
  if (s.pinned === null) return undefined;
  const cert = sock.getPeerX509Certificate();
  if (cert === undefined || !s.pinned.has(spkiSha256(cert))) return 'certificate not pinned';
  return undefined;
}

/** Hex sha256 of a certificate's DER SubjectPublicKeyInfo (the `pinned_certs` key). */
export function spkiSha256(cert: X509Certificate): string {
  const der = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** Go's tls version names for logs and /connz. */
export function tlsVersionName(sock: TLSSocket): string {
  const p = sock.getProtocol() ?? '';
  return p.startsWith('TLSv') ? p.slice(4) : p;
}
