// The jsc-* tests' name for one nats-server 2.9.10 wire vector (nrg/, jsapi/) under
// test/fixtures/vectors; the shared loader in test/helpers/vectors.ts finds and reads it.
import { readVectorJson } from '../helpers/vectors.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadVector(kind: 'nrg' | 'jsapi', name: string): any {
  return readVectorJson(kind, `${name}.json`);
}
