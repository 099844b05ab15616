// Loads the nats-server 2.9.10 wire vectors copied under test/fixtures/vectors (nrg/, jsapi/),
// whether the tests run from dist/ inside the repository or from the repository root.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function vectorsDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../../test/fixtures/vectors/', import.meta.url)),
    join(process.cwd(), 'test', 'fixtures', 'vectors'),
  ];
  const found = candidates.find((d) => existsSync(join(d, 'nrg')));
  if (!found) throw new Error(`vectors not found in ${candidates.join(', ')}`);
  return found;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadVector(kind: 'nrg' | 'jsapi', name: string): any {
  return JSON.parse(readFileSync(join(vectorsDir(), kind, `${name}.json`), 'utf8'));
}
