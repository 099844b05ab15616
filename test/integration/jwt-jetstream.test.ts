// JetStream limits from account JWTs (operator mode): which accounts have
// JetStream, their limits enforced and reported by $JS.API.INFO, tiered limits
// under `tiers` as nats-server reports them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startTestServer } from '../helpers/server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { loadConfigText } from '../../src/config/load.js';
import {
  accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, userJwt, type KeyPair, type OperatorSetup,
} from '../helpers/jwt-flow.js';

interface Setup { op: OperatorSetup; a: KeyPair; b: KeyPair; c: KeyPair; conf: string }

/** A: plain JetStream limits; B: tiered limits (R1, R3); C: no JetStream. */
async function setup(storeDir: string): Promise<Setup> {
  const op = await newOperator();
  const [a, b, c] = [createAccount(), createAccount(), createAccount()];
  const conf = operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { limits: { mem_storage: 1 << 20, disk_storage: 2 << 20, streams: 2, consumer: 4 } }),
    [b.getPublicKey()]: await accountJwt(op, 'B', b, {
      limits: {
        tiered_limits: {
          R1: { mem_storage: 1000, disk_storage: 2000, streams: 5, consumer: 6 },
          R3: { mem_storage: 3000, disk_storage: 4000, streams: 7, consumer: 8 },
        },
      },
    }),
    [c.getPublicKey()]: await accountJwt(op, 'C', c),
  }, `listen: "127.0.0.1:-1"\njetstream { store_dir: "${storeDir}" }`);
  return { op, a, b, c, conf };
}

async function userOf(port: number, acc: KeyPair): Promise<NatsConnection> {
  const u = createUser();
  return connect({ port, authenticator: credsAuthenticator(credsOf(await userJwt('u', u, acc), u)) });
}

test('JetStream limits of the account JWT are enforced and reported by getAccountInfo', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-js-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const s = await setup(dir);
  const h = await startTestServer(loadConfigText(s.conf, 'js.conf').options, t);
  const conns: NatsConnection[] = [];
  t.after(() => Promise.all(conns.map((c) => c.close())));

  const na = await userOf(h.port, s.a);
  conns.push(na);
  const jsm = await jetstreamManager(na);
  const info = await jsm.getAccountInfo();
  assert.deepEqual(
    [info.limits.max_memory, info.limits.max_storage, info.limits.max_streams, info.limits.max_consumers],
    [1 << 20, 2 << 20, 2, 4],
  );
  await jsm.streams.add({ name: 'S1', subjects: ['s1'], storage: 'memory' as never, max_bytes: 1000 });
  await jsm.streams.add({ name: 'S2', subjects: ['s2'], max_bytes: 1000 });
  await assert.rejects(jsm.streams.add({ name: 'S3', subjects: ['s3'], max_bytes: 1000 }), /maximum number of streams reached/);
  // a reservation over the account's memory
  await jsm.streams.delete('S2');
  await assert.rejects(jsm.streams.add({ name: 'BIG', subjects: ['big'], storage: 'memory' as never, max_bytes: 2 << 20 }),
    /insufficient memory resources/);

  const nb = await userOf(h.port, s.b);
  conns.push(nb);
  const bi = await (await jetstreamManager(nb)).getAccountInfo() as unknown as { limits: { max_streams: number }; tiers: Record<string, { limits: { max_streams: number } }> };
  assert.equal(bi.limits.max_streams, 0);
  assert.deepEqual(Object.keys(bi.tiers).sort(), ['R1', 'R3']);
  assert.equal(bi.tiers.R1.limits.max_streams, 5);
  assert.equal(bi.tiers.R3.limits.max_streams, 7);

  const nc = await userOf(h.port, s.c);
  conns.push(nc);
  await assert.rejects((await jetstreamManager(nc, { checkAPI: false })).getAccountInfo(), /JetStream not enabled for account/);
});

test('$JS.API.INFO bodies match nats-server for plain, tiered and disabled accounts', { skip: natsServerSkip(), timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-js-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bodies = async (srv: ChildServer, s: Setup): Promise<string[]> => {
    const out: string[] = [];
    for (const acc of [s.a, s.b, s.c]) {
      const nc = await userOf(srv.port, acc);
      const m = await nc.request('$JS.API.INFO', '', { timeout: 5000 });
      const body = JSON.parse(m.string()) as Record<string, unknown>;
      // tsnats always reports the reservations; nats-server 2.9.10 omits them when 0
      delete body.reserved_memory;
      delete body.reserved_storage;
      out.push(JSON.stringify(body));
      await nc.close();
    }
    return out;
  };
  const results: string[][] = [];
  for (const [i, spawn] of [spawnNatsServer, spawnTsnats].entries()) {
    const sub = join(dir, String(i));
    const s = await setup(sub);
    const file = join(dir, `js${i}.conf`);
    writeFileSync(file, s.conf);
    const srv = await spawn(['-c', file]);
    try {
      results.push(await bodies(srv, s));
    } finally {
      await srv.stop();
    }
  }
  assert.deepEqual(results[1], results[0]);
});
