// Lazy access to @nats-io/jwt (decode + signature check): loaded on first use,
// only when operator mode is configured, so a server without it never pays for
// it at start-up (nonce signatures: verifyNonce in server/options-auth.ts).
import { createRequire } from 'node:module';
import type { ClaimsData } from '@nats-io/jwt';

interface JwtModule {
  decode<T = unknown>(jwt: string): ClaimsData<T>;
}
let jwtMod: JwtModule | null = null;
const req = createRequire(import.meta.url);

/** Decode a NATS JWT and check its signature against its issuer; throws on any defect. */
export function decodeJwt<T>(jwt: string): ClaimsData<T> {
  jwtMod ??= req('@nats-io/jwt') as JwtModule;
  return jwtMod.decode<T>(jwt);
}

/**
 * nats-server ParseDecoratedJWT: the JWT inside a `-----BEGIN ... JWT-----` block
 * (nsc's .jwt and .creds files), or the trimmed text itself.
 */
export function parseDecoratedJwt(text: string): string {
  const m = /-{3,}[^\n]*JWT[^\n]*-{3,}\r?\n([\s\S]*?)\r?\n\s*-{3,}/.exec(text);
  return (m ? m[1] : text).trim();
}
