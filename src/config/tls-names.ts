// Go's TLS cipher-suite and curve names as nats-server's config takes them
// (ciphersuites.go), checked while the config is read and translated to OpenSSL's
// names for node:tls (src/tls/settings.ts).
import type { TlsConfig } from './options.js';

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

/** The OpenSSL cipher list of a tls block: Go's TLS 1.3 suites, then the configured (or default) 1.2 ones. */
export function opensslCiphers(t: TlsConfig): string {
  const ciphers = (t.cipherSuites ?? DEFAULT_CIPHERS).map((c) => CIPHERS[c]).filter((c): c is string => !!c);
  return [TLS13_CIPHERS, ...ciphers].join(':');
}

/** The OpenSSL curve list (ecdhCurve) of a tls block. */
export function opensslCurves(t: TlsConfig): string {
  return (t.curvePreferences ?? DEFAULT_CURVES).map((c) => CURVES[c]).join(':');
}
