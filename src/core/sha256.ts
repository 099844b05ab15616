// SHA-256 of a small input in one call. crypto.hash (Node >= 20.12) is one binding call;
// createHash builds a Hash stream object per digest, which at a few digests per operation never
// gets optimized: ~50 µs a call on a clustered create's path (a holder's meta.sum key, a meta
// leader's new group name) against a few µs. Older Node 20 releases keep createHash.
import * as nodeCrypto from 'node:crypto';

type OneShot = (algorithm: string, data: string | Uint8Array, encoding: 'buffer') => Buffer;
const oneShot = (nodeCrypto as unknown as { hash?: OneShot }).hash;

export const sha256: (data: string | Uint8Array) => Buffer = oneShot !== undefined
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => nodeCrypto.createHash('sha256').update(data).digest();
