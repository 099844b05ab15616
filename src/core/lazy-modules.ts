// Modules that most servers never need, loaded synchronously on first use
// instead of at start-up. @nats-io/nkeys is CommonJS with a pure-JS ed25519
// (tweetnacl): importing it costs ~30 ms, a third of a plain server's start.
// Only nkey users (config validation, nonce signatures) reach it. node:crypto
// (~5 ms of CPU to load) is needed by auth (nonces, password hashes) and by
// JetStream, not by a plain server.
import { createRequire } from 'node:module';

export interface NKeysModule {
  fromPublic(k: string): { verify(data: Uint8Array, sig: Uint8Array): boolean };
}

let nkeysModule: NKeysModule | null = null;

export function nkeys(): NKeysModule {
  nkeysModule ??= createRequire(import.meta.url)('@nats-io/nkeys') as NKeysModule;
  return nkeysModule;
}

let tlsModule: typeof import('node:tls') | null = null;

/** node:tls (with its crypto bindings, several ms to load): only configs with TLS blocks need it while loading. */
export function tls(): typeof import('node:tls') {
  tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return tlsModule;
}

let cryptoModule: typeof import('node:crypto') | null = null;

export function crypto(): typeof import('node:crypto') {
  cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return cryptoModule;
}
