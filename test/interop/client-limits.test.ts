// Interop for limits and liveness: nats-server with a config file, tsnats with
// the same options in-process; the raw transcripts must match.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startTestServer, type ServerHandle } from '../helpers/server.js';
import { runScenario, type Scenario } from '../helpers/scenario.js';
import { RawClient } from '../helpers/raw-client.js';

const skip = natsServerSkip();
let ref: ChildServer | undefined;
let ours: ServerHandle | undefined;
let dir = '';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tsnats-interop-'));
  const conf = join(dir, 'limits.conf');
  writeFileSync(conf, [
    'listen: "127.0.0.1:-1"',
    'ping_interval: "150ms"',
    'ping_max: 2',
    'max_connections: 3',
    'max_subscriptions: 2',
    'max_payload: 100',
    'max_control_line: 64',
  ].join('\n'));
  // One after the other: if nats-server cannot start, ours is already known to after().
  ours = await startTestServer({
    pingIntervalMs: 150, pingMax: 2, maxConnections: 3, maxSubscriptions: 2,
    maxPayloadBytes: 100, maxControlLineBytes: 64,
  });
  ref = await spawnNatsServer(['-c', conf]);
});

after(async () => {
  await Promise.all([ref?.stop(), ours?.shutdown()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const C = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}\r\n';
const scenarios: Scenario[] = [
  { name: 'stale connection', keepServerPings: true, steps: [{ send: C }, { expectClose: true }] },
  { name: 'max subscriptions', steps: [{ send: C + 'SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n' }, { sync: true }] },
  { name: 'max payload from config', steps: [{ send: C }, { sync: true }, { send: 'PUB a 101\r\n' }, { expectClose: true }] },
  { name: 'payload at the limit', steps: [{ send: C + 'SUB a 1\r\n' }, { send: `PUB a 100\r\n${'y'.repeat(100)}\r\n` }, { sync: true }] },
  { name: 'max control line from config', steps: [{ send: C }, { sync: true }, { send: `SUB ${'z'.repeat(70)} 1\r\n` }, { expectClose: true }] },
];

for (const sc of scenarios) {
  test(`same responses: ${sc.name}`, { skip }, async () => {
    const [a, b] = await Promise.all([runScenario(ref!.port, sc), runScenario(ours!.port, sc)]);
    assert.deepEqual(b.texts, a.texts);
    assert.deepEqual(b.closed, a.closed);
  });
}

test('same responses: max connections', { skip }, async () => {
  const result = async (port: number) => {
    const held = [await RawClient.connect(port), await RawClient.connect(port), await RawClient.connect(port)];
    for (const h of held) await h.waitFor('\r\n');
    const extra = await RawClient.connect(port);
    await extra.waitClosed();
    const text = extra.text.replace(/^INFO \{.*\} \r\n/, 'INFO\r\n');
    for (const h of [...held, extra]) h.close();
    return text;
  };
  // One server at a time: the limit counts connections to each server.
  const a = await result(ref!.port);
  const b = await result(ours!.port);
  assert.equal(b, a);
});
