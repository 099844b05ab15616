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

const requireHere = createRequire(import.meta.url);

/** A getter that requires `id` at its first call and returns the same module after. */
function onFirstUse<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireHere(id) as T);
}

export const nkeys = onFirstUse<NKeysModule>('@nats-io/nkeys');

/** node:tls (with its crypto bindings, several ms to load): only servers with TLS blocks need it. */
export const tls = onFirstUse<typeof import('node:tls')>('node:tls');

export const crypto = onFirstUse<typeof import('node:crypto')>('node:crypto');

export const workerThreads = onFirstUse<typeof import('node:worker_threads')>('node:worker_threads');

export const dnsPromises = onFirstUse<typeof import('node:dns/promises')>('node:dns/promises');
