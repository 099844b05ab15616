// The fixture files under test/fixtures/config are accepted or rejected by us as
// their folder says, and — where nats-server is installed — exactly as
// `nats-server -c <file> -t` does (it fails on warnings too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { loadConfigFile } from '../../src/config/load.js';
import { configFixturesDir } from '../fixtures/config/locate.js';
import { natsServerSkip, requireNatsServer } from '../helpers/nats-server.js';

/**
 * Fixtures that use settings newer than the installed nats-server 2.9.10, or
 * where tsnats deliberately differs (accepting blocks of features it does not
 * have); for these only our own verdict is checked.
 */
const NOT_COMPARABLE: Record<string, string> = {
  'jetstream-full.conf': 'strict and max_buffered_msgs are newer than 2.9.10',
  'raw-string.conf': 'server_metadata is newer than 2.9.10',
};

interface Verdict { ok: boolean; detail: string }

function ours(file: string): Verdict {
  try {
    const r = loadConfigFile(file);
    // like nats-server -t, warnings fail the check
    return { ok: r.warnings.length === 0, detail: r.warnings.join('\n') };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}

function natsServer(file: string, cwd: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const p = spawn(requireNatsServer(), ['-c', file, '-t'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ ok: code === 0, detail: out.trim() }));
  });
}

const dir = configFixturesDir();
const cases = ['valid', 'invalid'].flatMap((kind) =>
  readdirSync(join(dir, kind)).filter((f) => f.endsWith('.conf')).map((f) => ({ kind, name: f })));

test('fixtures: our verdict matches the folder they are in', () => {
  assert.ok(cases.length >= 25, `fixtures found: ${cases.length}`);
  for (const c of cases) {
    const v = ours(join(dir, c.kind, c.name));
    assert.equal(v.ok, c.kind === 'valid', `${c.kind}/${c.name}: ${v.detail}`);
  }
});

test('fixtures: nats-server -t agrees with us', { skip: natsServerSkip() }, async () => {
  const comparable = cases.filter((c) => !NOT_COMPARABLE[c.name]);
  // run the checks concurrently: each is a short-lived process
  const results = await Promise.all(comparable.map(async (c) => ({
    c,
    theirs: await natsServer(join(c.kind, c.name), dir),
    mine: ours(join(dir, c.kind, c.name)),
  })));
  for (const { c, theirs, mine } of results) {
    assert.equal(mine.ok, theirs.ok, `${c.kind}/${c.name}\n  nats-server: ${theirs.detail}\n  tsnats: ${mine.detail}`);
  }
});
