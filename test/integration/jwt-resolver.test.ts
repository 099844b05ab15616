// The full directory resolver (`resolver { type: full, dir }`): account JWTs
// pushed at run time through the system account, applied to connected users
// at once, looked up, packed, and kept in the directory across restarts.
// The same flow runs against nats-server 2.9.10 and tsnats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import {
  accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, rawJwtConnect, userJwt,
} from '../helpers/jwt-flow.js';

type Spawn = (args: string[]) => Promise<ChildServer>;

/** Runs the flow on one server kind; returns what a client observes. */
async function flow(spawn: Spawn, dir: string): Promise<Record<string, unknown>> {
  const op = await newOperator();
  const [a, b, sk] = [createAccount(), createAccount(), createAccount()];
  const store = join(dir, 'jwt');
  const conf = join(dir, 'full.conf');
  writeFileSync(conf, operatorConfig(op, { [a.getPublicKey()]: await accountJwt(op, 'A', a, { signing_keys: [sk.getPublicKey()] }) },
    `listen: "127.0.0.1:-1"\nresolver: { type: full, dir: "${store}" }\njetstream { store_dir: "${join(dir, 'js')}" }`).replace('resolver: MEMORY\n', ''));
  const out: Record<string, unknown> = {};
  let srv = await spawn(['-c', conf]);
  const conns: NatsConnection[] = [];
  try {
    out.preloadStored = existsSync(join(store, `${a.getPublicKey()}.jwt`));
    const su = createUser();
    const sys = await connect({ port: srv.port, authenticator: credsAuthenticator(credsOf(await userJwt('sys', su, op.sys), su)) });
    conns.push(sys);
    const request = async (subject: string, body: string): Promise<Record<string, unknown>> => {
      const m = await sys.request(subject, body, { timeout: 5000 });
      const j = JSON.parse(m.string()) as Record<string, unknown>;
      return { data: j.data, error: j.error };
    };
    // B is unknown until it is pushed
    const bu = createUser();
    const bJwt = await userJwt('bu', bu, b);
    const before = await rawJwtConnect(srv.port, bJwt, bu);
    await before.waitClosed(5000);
    out.unknownAccount = before.text.trim();
    const jsLimits = { mem_storage: 1 << 20, disk_storage: 1 << 20, streams: 2, consumer: 3 };
    out.update = await request(`$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, 'B', b, { limits: jsLimits }));
    out.mismatch = await request(`$SYS.REQ.ACCOUNT.${a.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, 'B', b));
    out.garbage = await request('$SYS.REQ.CLAIMS.UPDATE', 'not a jwt');
    const after = await rawJwtConnect(srv.port, bJwt, bu);
    out.afterPush = await after.flushPing(5000);
    after.close();
    // JetStream comes with the pushed account, and follows its updates
    const nb = await connect({ port: srv.port, authenticator: credsAuthenticator(credsOf(bJwt, bu)) });
    conns.push(nb);
    const jsInfo = async () => (JSON.parse((await nb.request('$JS.API.INFO', '', { timeout: 5000 })).string()) as { limits: unknown }).limits;
    out.jsLimits = await jsInfo();
    await new Promise((r) => setTimeout(r, 1100)); // a newer JWT needs a later iat (seconds)
    await request(`$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, 'B', b, { limits: { ...jsLimits, streams: 5 } }));
    out.jsLimitsUpdated = await jsInfo();
    // a lowered connection limit: nats-server keeps the newest connections
    await nb.close();
    conns.splice(conns.indexOf(nb), 1);
    const older = await rawJwtConnect(srv.port, bJwt, bu);
    await older.flushPing(5000);
    const newer = await rawJwtConnect(srv.port, bJwt, bu);
    await newer.flushPing(5000);
    await new Promise((r) => setTimeout(r, 1100));
    await request('$SYS.REQ.CLAIMS.UPDATE', await accountJwt(op, 'B', b, { limits: { ...jsLimits, streams: 5, conn: 1 } }));
    await older.waitClosed(5000);
    out.connLimitOldest = older.text.split('\r\n').filter((l) => l.startsWith('-ERR'));
    out.connLimitNewest = await newer.flushPing(5000);
    newer.close();
    // CLAIMS.PACK: one "<account>|<jwt>" message per stored JWT, then an empty one
    const inbox = sys.subscribe('_INBOX.pack');
    const pack: string[] = [];
    const done = (async () => {
      for await (const m of inbox) {
        if (m.data.length === 0) break;
        pack.push(m.string());
      }
    })();
    sys.publish('$SYS.REQ.CLAIMS.PACK', new Uint8Array(32), { reply: '_INBOX.pack' });
    await done;
    out.pack = pack.map((l) => l.split('|')[0]).sort();
    const lookup = await sys.request(`$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.LOOKUP`, '', { timeout: 5000 });
    out.lookupIsAccountJwt = lookup.string().split('.').length === 3;

    // revoke a connected user of A
    const au = createUser();
    const c = await rawJwtConnect(srv.port, await userJwt('au', au, a), au);
    await c.flushPing(5000);
    // and a user signed by A's signing key, which the update drops
    const skUser = createUser();
    const viaKey = await rawJwtConnect(srv.port, await userJwt('sku', skUser, a, {}, { signer: sk }), skUser);
    await viaKey.flushPing(5000);
    await new Promise((r) => setTimeout(r, 1100)); // the revocation must be later than the user's iat (seconds)
    out.revoke = await request('$SYS.REQ.CLAIMS.UPDATE',
      await accountJwt(op, 'A', a, { revocations: { [au.getPublicKey()]: Math.floor(Date.now() / 1000) } }));
    await c.waitClosed(5000);
    out.revokedError = c.text.split('\r\n').filter((l) => l.startsWith('-ERR'));
    await viaKey.waitClosed(5000);
    out.signerRemoved = viaKey.text;
    await sys.close();
    conns.length = 0;
    await srv.stop();
    // the pushed account survives a restart
    srv = await spawn(['-c', conf]);
    const again = await rawJwtConnect(srv.port, bJwt, bu);
    out.afterRestart = await again.flushPing(5000);
    again.close();
  } finally {
    await Promise.all(conns.map((x) => x.close()));
    await srv.stop();
  }
  return out;
}

function normalize(r: Record<string, unknown>): Record<string, unknown> {
  // account keys differ between the two runs
  return JSON.parse(JSON.stringify(r).replace(/A[A-Z2-7]{55}/g, '<acc>')) as Record<string, unknown>;
}

test('full resolver: push, lookup, revoke a connected user, restart (tsnats)', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-full-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = normalize(await flow(spawnTsnats, dir));
  assert.equal(r.preloadStored, true);
  assert.equal(r.unknownAccount, "-ERR 'Authorization Violation'");
  assert.deepEqual(r.update, { data: { account: '<acc>', code: 200, message: 'jwt updated' } });
  assert.deepEqual(r.mismatch, { error: { account: '<acc>', code: 500, description: 'jwt update resulted in error - subject does not match jwt content' } });
  assert.equal((r.garbage as { error: { account: string } }).error.account, 'n/a');
  assert.equal(r.afterPush, '');
  assert.equal((r.jsLimits as { max_streams: number }).max_streams, 2);
  assert.equal((r.jsLimitsUpdated as { max_streams: number }).max_streams, 5);
  assert.deepEqual(r.pack, ['<acc>', '<acc>', '<acc>']);
  assert.deepEqual(r.connLimitOldest, ["-ERR 'maximum account active connections exceeded'"]);
  assert.equal(r.connLimitNewest, '');
  assert.equal(r.lookupIsAccountJwt, true);
  assert.deepEqual(r.revoke, { data: { account: '<acc>', code: 200, message: 'jwt updated' } });
  assert.deepEqual(r.revokedError, ["-ERR 'User Authentication Revoked'"]);
  assert.equal(r.signerRemoved, '');
  assert.equal(r.afterRestart, '');
});

test('full resolver: the same flow gives the same answers as nats-server', { skip: natsServerSkip(), timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-full-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [d1, d2] = [join(dir, 'n'), join(dir, 't')];
  for (const d of [d1, d2]) mkdirSync(d);
  const want = normalize(await flow(spawnNatsServer, d1));
  const got = normalize(await flow(spawnTsnats, d2));
  // the JWT decoding libraries word their errors differently
  delete (want.garbage as { error: { description?: string } }).error.description;
  delete (got.garbage as { error: { description?: string } }).error.description;
  assert.deepEqual(got, want);
});
