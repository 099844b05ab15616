// A mirror and a source whose origin is in another account of the same server (`external: { api,
// deliver }` through service and stream imports), run the same way against nats-server 2.9.10
// and tsnats: the sourcing stream asks the origin's API through the imported prefix for a
// `direct` consumer whose deliveries reach it through the stream import; flow-control answers
// go back through the imported `$JS.FC.>` service.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { KINDS, natsServer, tempDir } from '../helpers/leaf-interop.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { pollUntil } from '../helpers/wait.js';

const conf = (dir: string): string => `listen: 127.0.0.1:-1
jetstream { store_dir: "${dir}" }
accounts {
  A { jetstream: enabled, users [ { user: a, password: a } ],
      exports [ { service: "$JS.API.>" }, { service: "$JS.FC.>" }, { stream: "dlv.>" } ] }
  B { jetstream: enabled, users [ { user: b, password: b } ],
      imports [ { service: { account: A, subject: "$JS.API.>" }, to: "JS.A.API.>" },
                { service: { account: A, subject: "$JS.FC.>" } },
                { stream: { account: A, subject: "dlv.>" } } ] }
}
`;

async function messages(jsm: JetStreamManager, stream: string, n: number): Promise<void> {
  await pollUntil(async () => ((await jsm.streams.info(stream)).state.messages === n ? true : undefined), `${stream} with ${n} messages`, 30_000);
}

async function flow(t: TestContext, spawn: (typeof KINDS)[number][1]): Promise<void> {
  const s = await natsServer(t, conf(tempDir(t)), spawn);
  const na = await connect({ servers: `nats://127.0.0.1:${s.port}`, user: 'a', pass: 'a' });
  t.after(() => na.close());
  const nb = await connect({ servers: `nats://127.0.0.1:${s.port}`, user: 'b', pass: 'b' });
  t.after(() => nb.close());
  const ja = await jetstreamManager(na);
  const jb = await jetstreamManager(nb);
  await ja.streams.add({ name: 'ORIG', subjects: ['o.>'] });
  const pub = jetstream(na);
  for (let i = 1; i <= 5; i++) await pub.publish(`o.${i}`, `m${i}`);
  const external = { api: 'JS.A.API', deliver: 'dlv' };
  await jb.streams.add({ name: 'MB', mirror: { name: 'ORIG', external } });
  await jb.streams.add({ name: 'SB', subjects: [], sources: [{ name: 'ORIG', filter_subject: 'o.2', external }] });
  for (let i = 6; i <= 10; i++) await pub.publish(`o.${i % 5}`, `m${i}`);
  await messages(jb, 'MB', 10);
  await messages(jb, 'SB', 2);
  const m = await jb.streams.getMessage('MB', { seq: 3 });
  assert.equal(m?.subject, 'o.3');
  assert.equal(m?.string(), 'm3');
  const info = await jb.streams.info('MB');
  assert.deepEqual(Object.keys(info.mirror ?? {}).slice(0, 3), ['name', 'external', 'lag']);
  assert.deepEqual((info.mirror as { external?: unknown } | undefined)?.external, external);
  assert.equal(info.mirror?.lag, 0);
  const src = await jb.streams.getMessage('SB', { seq: 2 });
  assert.equal(src?.subject, 'o.2');
  assert.equal(src?.string(), 'm7');
  // Enough bytes for the origin's consumer to ask for flow control (answered through $JS.FC.>).
  const big = new Uint8Array(128 * 1024).fill(7);
  for (let i = 0; i < 48; i++) await pub.publish('o.big', big);
  await messages(jb, 'MB', 58);
  assert.equal((await jb.streams.getMessage('MB', { seq: 58 }))?.data.length, big.length);
}

for (const [name, spawn] of KINDS) {
  test(`mirror and source from another account through imports (${name})`, { skip: name === 'nats-server' ? natsServerSkip() : false }, async (t) => {
    await flow(t, spawn);
  });
}
