// Interop: the same raw client-protocol scenarios against the real nats-server
// (when installed) and tsnats; responses must match byte for byte, except INFO
// values that identify the server (ids, version, ports).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startTestServer, type ServerHandle } from '../helpers/server.js';
import { CLIENT_SCENARIOS, runScenario } from '../helpers/scenario.js';

const skip = natsServerSkip();

let ref: ChildServer | undefined;
let ours: ServerHandle | undefined;

before(async () => {
  if (skip) return;
  // One after the other: if nats-server cannot start, ours is already known to after().
  ours = await startTestServer();
  ref = await spawnNatsServer(['-a', '127.0.0.1', '-p', '-1']);
});

after(async () => {
  await Promise.all([ref?.stop(), ours?.shutdown()]);
});

test('INFO has the same fields as nats-server', { skip }, async () => {
  const sc = { name: 'info', steps: [] };
  const [a, b] = await Promise.all([runScenario(ref!.port, sc), runScenario(ours!.port, sc)]);
  const ra = a.infos[0];
  const rb = b.infos[0];
  assert.deepEqual(Object.keys(rb).sort(), Object.keys(ra).sort());
  for (const k of ['proto', 'headers', 'max_payload', 'client_ip', 'host']) assert.deepEqual(rb[k], ra[k], k);
  assert.equal(typeof rb.client_id, 'number');
  assert.match(String(rb.server_id), /^N[A-Z2-7]{55}$/);
});

for (const sc of CLIENT_SCENARIOS) {
  test(`same responses: ${sc.name}`, { skip }, async () => {
    const [a, b] = await Promise.all([runScenario(ref!.port, sc), runScenario(ours!.port, sc)]);
    if (sc.newerThan2910) {
      const want = sc.newerThan2910.expect(a.texts);
      assert.notDeepEqual(want, a.texts, `the documented difference must change 2.9.10's transcript: ${sc.newerThan2910.why}`);
      assert.deepEqual(b.texts, want, `transcripts differ from nats-server 2.9.10 adjusted for: ${sc.newerThan2910.why}`);
    } else {
      assert.deepEqual(b.texts, a.texts, 'transcripts differ (actual = tsnats, expected = nats-server)');
    }
    assert.deepEqual(b.closed, a.closed, 'close behaviour differs');
  });
}
