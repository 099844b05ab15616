// Modules that most servers never need, loaded synchronously on first use
// instead of at start-up. @nats-io/nkeys is CommonJS with a pure-JS ed25519
// (tweetnacl): importing it costs ~30 ms, a third of a plain server's start.
// Only nkey users (config validation, nonce signatures) reach it. node:crypto
// (~5 ms of CPU to load) is needed by auth (nonces, password hashes) and by
// JetStream, not by a plain server. node:tls (27 internal modules, ~5-10 ms of a start),
// node:worker_threads and node:dns/promises serve only TLS configs, bcrypt passwords and
// route URLs with host names: loaded here on first use, not in every server's start.
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

/** node:tls (with its crypto bindings, several ms to load): only servers with TLS blocks need it. */
export function tls(): typeof import('node:tls') {
  tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return tlsModule;
}

let cryptoModule: typeof import('node:crypto') | null = null;

export function crypto(): typeof import('node:crypto') {
  cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  return cryptoModule;
}

let workerThreadsModule: typeof import('node:worker_threads') | null = null;

export function workerThreads(): typeof import('node:worker_threads') {
  workerThreadsModule ??= createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  return workerThreadsModule;
}

let dnsPromisesModule: typeof import('node:dns/promises') | null = null;

export function dnsPromises(): typeof import('node:dns/promises') {
  dnsPromisesModule ??= createRequire(import.meta.url)('node:dns/promises') as typeof import('node:dns/promises');
  return dnsPromisesModule;
}
