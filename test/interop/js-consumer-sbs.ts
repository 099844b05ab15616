// Side-by-side harness: run one client scenario against the installed
// nats-server (when present) and against an in-process tsnats, and compare what
// the client observed. A scenario returns a list of plain observations
// (strings/objects without times or generated ids); the test asserts that
// tsnats' list equals nats-server's step by step, and always checks tsnats
// against the scenario's own expectations so the test still means something
// when nats-server is not installed.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';

export type Scenario = (nc: NatsConnection, obs: unknown[]) => Promise<void>;

/**
 * Start a nats-server with JetStream in a temp dir. Undefined when it is not installed
 * locally (the comparison is then left out and the test reported as skipped, naming what is missing);
 * in CI a missing nats-server fails the test.
 */
export async function startNatsServer(t: TestContext): Promise<string | undefined> {
  const missing = natsServerSkip();
  if (missing) {
    // Reported as skipped (with the reason) although tsnats' own expectations still run.
    t.skip(`comparison with nats-server left out: ${missing}`);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-sbs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ns = await spawnNatsServer(['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir]);
  t.after(async () => { await ns.stop(); });
  return `nats://127.0.0.1:${ns.port}`;
}

export async function startTsnats(t: TestContext): Promise<string> {
  // A private store dir: the default (<tmp>/nats) would carry file streams over from other runs.
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-sbs-ts-'));
  const h = await startTestServer({
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 1000, strict: true },
  }, t);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return h.clientUrl;
}

async function runOn(url: string, scenario: Scenario, label: string): Promise<unknown[]> {
  const nc = await connect({ servers: url });
  const obs: unknown[] = [];
  try {
    await scenario(nc, obs);
  } catch (e) {
    (e as Error).message = `${label}: ${(e as Error).message} after ${JSON.stringify(obs)}`;
    throw e;
  } finally {
    await nc.close();
  }
  return obs;
}

/**
 * A step where 2.9.10 is known to differ from newer servers (which tsnats follows): tsnats'
 * observation must equal `expect(theirs)`, nats-server's own observation changed only in the
 * documented way (or an expectation stated from the newer server's rule), never a copy of
 * what tsnats happens to answer.
 */
export interface VersionDiff {
  why: string;
  /** the newer server's observation at this step, from 2.9.10's (and its other steps) */
  expect: (theirs: unknown, allTheirs: unknown[]) => unknown;
}

/**
 * Run `scenario` on both servers (nats-server first, when available) and compare.
 * Returns tsnats' observations for scenario-specific assertions.
 */
export async function sideBySide(
  t: TestContext, urls: { ns?: string; ts: string }, scenario: Scenario,
  versionDiffs: Record<number, VersionDiff> = {},
): Promise<unknown[]> {
  const [theirs, ours] = await Promise.all([
    urls.ns ? runOn(urls.ns, scenario, 'nats-server') : Promise.resolve(undefined),
    runOn(urls.ts, scenario, 'tsnats'),
  ]);
  if (process.env.SBS_DUMP) console.log(JSON.stringify({ theirs, ours }, null, 1));
  if (process.env.SBS_DIFFS && theirs) {
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
      if (!isDeepStrictEqual(ours[i], theirs[i])) console.log(`step ${i}\n  ns: ${JSON.stringify(theirs[i])}\n  ts: ${JSON.stringify(ours[i])}`);
    }
  }
  if (theirs) {
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
      const diff = versionDiffs[i];
      if (diff !== undefined) {
        assert.deepEqual(ours[i], diff.expect(theirs[i], theirs), `step ${i}: tsnats vs nats-server 2.9.10 adjusted for: ${diff.why}`);
        continue;
      }
      assert.deepEqual(ours[i], theirs[i], `step ${i}: tsnats vs nats-server`);
    }
  } else {
    t.diagnostic('nats-server not found: tsnats checked against the scenario\'s own expectations only');
  }
  return ours;
}

/** The error a promise rejects with, as "name: message (code)" or 'ok'. */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const err = e as { message?: string; code?: unknown; api_error?: { err_code?: number } };
    const code = err.api_error?.err_code ?? err.code;
    return `${err.message}${code !== undefined ? ` (${code})` : ''}`;
  }
}

export function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
