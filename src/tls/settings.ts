// TLS settings built once from a `tls {}` block (client port, cluster, monitoring),
// as nats-server's GenTLSConfig: one SecureContext shared by every connection, the
// handshake timeout, peer verification, pinned certificates. Go cipher-suite and
// curve names are translated to OpenSSL's, so configs written for nats-server load.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { TlsConfig } from '../config/options.js';

/** nats-server's default TLS timeout (seconds). */
export const DEFAULT_TLS_TIMEOUT_SEC = 2;

/** Go cipher-suite name -> OpenSSL name. TLS 1.3 suites are not configurable in Go (always on). */
const CIPHERS: Record<string, string | null> = {
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
};

/** nats-server's defaultCipherSuites (TLS 1.2). */
const DEFAULT_CIPHERS = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
];
/** Go's TLS 1.3 suites, in the order Go prefers them on machines with AES hardware. */
const TLS13_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

const CURVES: Record<string, string> = { X25519: 'X25519', CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521' };
const DEFAULT_CURVES = ['X25519', 'CurveP256', 'CurveP384', 'CurveP521'];

/** nats-server's parseCipher / parseCurvePreferences errors, or undefined when the names are known. */
export function tlsNamesError(t: TlsConfig): string | undefined {
  for (const c of t.cipherSuites ?? []) if (!(c in CIPHERS)) return `unrecognized cipher ${c}`;
  for (const c of t.curvePreferences ?? []) if (!(c in CURVES)) return `unrecognized curve preference ${c}`;
  return undefined;
}

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
  const ciphers = (t.cipherSuites ?? DEFAULT_CIPHERS).map((c) => CIPHERS[c]).filter((c): c is string => !!c);
  return {
    cert: pair ? readFileSync(pair.certFile) : undefined,
    key: pair ? readFileSync(pair.keyFile) : undefined,
    ca: t.caFile ? readFileSync(t.caFile) : undefined,
    ciphers: [TLS13_CIPHERS, ...ciphers].join(':'),
    ecdhCurve: (t.curvePreferences ?? DEFAULT_CURVES).map((c) => CURVES[c]).join(':'),
    minVersion: t.minVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    honorCipherOrder: true,
  };
}

/** Build the settings of one tls block (files were checked when the config was read). */
export function buildTlsSettings(t: TlsConfig): TlsSettings {
  const context = createSecureContext(secureContextOptions(t));
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
