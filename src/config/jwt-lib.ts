// Lazy access to @nats-io/jwt (decode + signature check) and @nats-io/nkeys.
// Both are loaded on first use, only when operator mode is configured, so a
// server without it never pays for the pure-JS ed25519 code at start-up.
import { createRequire } from 'node:module';
import type { ClaimsData } from '@nats-io/jwt';

interface JwtModule {
  decode<T = unknown>(jwt: string): ClaimsData<T>;
}
interface NkeysModule {
  fromPublic(k: string): { verify(data: Uint8Array, sig: Uint8Array): boolean };
  isValidPublicKey?(k: string): boolean;
}

let jwtMod: JwtModule | null = null;
let nkeysMod: NkeysModule | null = null;
const req = createRequire(import.meta.url);

/** Decode a NATS JWT and check its signature against its issuer; throws on any defect. */
export function decodeJwt<T>(jwt: string): ClaimsData<T> {
  jwtMod ??= req('@nats-io/jwt') as JwtModule;
  return jwtMod.decode<T>(jwt);
}

/** ed25519 signature of `data` by public nkey `key`; sig in base64url or standard base64 (as nats-server accepts). */
export function verifyNkeySig(key: string, data: string, sig: string): boolean {
  try {
    nkeysMod ??= req('@nats-io/nkeys') as NkeysModule;
    const raw = Buffer.from(sig.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return nkeysMod.fromPublic(key).verify(Buffer.from(data), raw);
  } catch {
    return false;
  }
}

/**
 * nats-server ParseDecoratedJWT: the JWT inside a `-----BEGIN ... JWT-----` block
 * (nsc's .jwt and .creds files), or the trimmed text itself.
 */
export function parseDecoratedJwt(text: string): string {
  const m = /-{3,}[^\n]*JWT[^\n]*-{3,}\r?\n([\s\S]*?)\r?\n\s*-{3,}/.exec(text);
  return (m ? m[1] : text).trim();
}
