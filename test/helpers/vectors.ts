// Golden wire vectors captured from nats-server 2.9.10, kept in the repository
// under test/fixtures/vectors (see its README). Tests read them through these
// helpers; a missing folder or file throws, so a test that depends on them fails
// instead of skipping or passing on a smaller inlined copy.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** Absolute path of test/fixtures/vectors in this checkout. */
export function vectorsDir(): string {
  if (cached !== undefined) return cached;
  const candidates = [
    // <repo>/dist/test/helpers/vectors.js -> <repo>/test/fixtures/vectors
    fileURLToPath(new URL('../../../test/fixtures/vectors/', import.meta.url)),
    // a build directory outside the repository, run from the repository root
    join(process.cwd(), 'test', 'fixtures', 'vectors'),
  ];
  const found = candidates.find((d) => existsSync(join(d, 'README.md')));
  if (found === undefined) {
    throw new Error(`golden vectors not found (looked in ${candidates.join(', ')}): they are part of the repository, restore test/fixtures/vectors`);
  }
  cached = found;
  return found;
}

/** Path of one vector file, e.g. vectorPath('nrg', 'nrg_trace.jsonl'); throws when it is missing. */
export function vectorPath(...parts: string[]): string {
  const p = join(vectorsDir(), ...parts);
  if (!existsSync(p)) throw new Error(`golden vector missing: test/fixtures/vectors/${parts.join('/')}`);
  return p;
}

/** Parsed JSON of one vector file. */
export function readVectorJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(vectorPath(...parts), 'utf8')) as T;
}

/** Rows of a JSON-lines vector file. */
export function readVectorJsonl<T>(...parts: string[]): T[] {
  return readFileSync(vectorPath(...parts), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Names of the `.json` files of one vector folder (sorted), e.g. vectorFiles('client'). */
export function vectorFiles(folder: string): string[] {
  return readdirSync(vectorPath(folder)).filter((f) => f.endsWith('.json')).sort();
}
