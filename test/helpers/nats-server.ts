// The one place tests and benchmarks find external programs: the real
// nats-server (for side-by-side and mixed-cluster interop tests) and openssl
// (for TLS certificates).
//
//   nats-server: $NATS_SERVER_BIN if set, else `nats-server` on PATH.
//   openssl:     $OPENSSL_BIN if set, else `openssl` on PATH.
//
// Use `natsServerSkip()` / `opensslSkip()` as a test's `skip` option:
//  - the program is found          -> false (the test runs);
//  - missing, CI=true in the env    -> false as well: the test runs and fails at
//    `requireNatsServer()` / `requireOpenssl()` with a message naming what is
//    missing, so a CI machine without them cannot go green on fewer assertions;
//  - missing, locally               -> a reason string naming what is missing.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** True when running in CI (CI=true or CI=1): missing tools fail tests there instead of skipping them. */
export function inCI(): boolean {
  const v = (process.env.CI ?? '').toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

export interface Lookup { path?: string; missing?: string }

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds `name` via the env var `envVar` (a path, or a bare name looked up on PATH) or PATH. */
export function lookup(name: string, envVar: string): Lookup {
  const override = process.env[envVar];
  if (override !== undefined && override !== '') {
    if (override.includes('/') || isAbsolute(override)) {
      const p = resolve(override);
      return isExecutableFile(p) ? { path: p } : { missing: `${envVar}=${override} is not an executable file` };
    }
    const found = onPath(override);
    return found !== undefined ? { path: found } : { missing: `${envVar}=${override} is not on PATH` };
  }
  const found = onPath(name);
  return found !== undefined ? { path: found } : { missing: `${name} not found on PATH (install it or set ${envVar})` };
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return undefined;
}

export function skipReason(l: Lookup): string | false {
  if (l.path !== undefined) return false;
  // In CI the test runs and fails where it needs the program (see require*()).
  if (inCI()) return false;
  return l.missing!;
}

export function required(l: Lookup, what: string): string {
  if (l.path !== undefined) return l.path;
  throw new Error(`${l.missing}: ${what}${inCI() ? ' (CI=true: .ci/run must install it; this check may not be skipped in CI)' : ''}`);
}

// ---- nats-server ----

/** Absolute path of the nats-server executable, or undefined when it is not installed. */
export function natsServerBin(): string | undefined {
  return lookup('nats-server', 'NATS_SERVER_BIN').path;
}

export function hasNatsServer(): boolean {
  return natsServerBin() !== undefined;
}

/** The nats-server path; throws an error naming what is missing (use inside tests that need it). */
export function requireNatsServer(): string {
  return required(lookup('nats-server', 'NATS_SERVER_BIN'), 'this test compares tsnats with the real nats-server');
}

/** `skip` option for tests that need nats-server: false when present or in CI, else the reason. */
export function natsServerSkip(): string | false {
  return skipReason(lookup('nats-server', 'NATS_SERVER_BIN'));
}

// ---- openssl ----

export function opensslBin(): string | undefined {
  return lookup('openssl', 'OPENSSL_BIN').path;
}

export function requireOpenssl(): string {
  return required(lookup('openssl', 'OPENSSL_BIN'), 'this test creates TLS certificates with openssl');
}

/** `skip` option for tests that need openssl: false when present or in CI, else the reason. */
export function opensslSkip(): string | false {
  return skipReason(lookup('openssl', 'OPENSSL_BIN'));
}
