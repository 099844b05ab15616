// Exports and imports declared in account JWTs (operator mode, full resolver): public and
// token-protected (activation token) service and stream imports, the Nats-Request-Info header a
// service import adds (and JetStream does not store), account info of imports, and updates pushed
// through the system account: a revoked activation, a removed and an added stream import take
// effect for existing subscriptions. The same flow runs against nats-server 2.9.10 and tsnats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { encodeActivation, type Export, type Import } from '@nats-io/jwt';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, userJwt, type KeyPair } from '../helpers/jwt-flow.js';

type Spawn = (args: string[]) => Promise<ChildServer>;
type Json = Record<string, unknown>;

/** The messages `sub` (of `nc`) gets from what `pub` published so far: `pub`'s flush makes the
 *  server deliver them before the marker that `nc` then publishes to itself. */
async function received(sub: Subscription, it: AsyncIterator<{ subject: string; string(): string }>, nc: NatsConnection, pub: NatsConnection): Promise<string[]> {
  await pub.flush();
  nc.publish(`${sub.getSubject().replace(/>$/, '')}end`, '');
  const got: string[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done || r.value.string() === '') return got;
    got.push(r.value.string());
  }
}

/** Import entries of an account info answer, comparable across servers (Go map order is random). */
function importsOf(info: Json): Json[] {
  const d = (info.data ?? {}) as Json;
  return ((d.imports ?? []) as Json[])
    .filter((i) => i.account !== (info as { sys?: string }).sys)
    .map((i) => ({ subject: i.subject, type: i.type, invalid: i.invalid, local_subject: i.local_subject, to: i.to }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function flow(spawn: Spawn, dir: string): Promise<Json> {
  const op = await newOperator();
  const [e, i, j, k] = [createAccount(), createAccount(), createAccount(), createAccount()];
  const wrong = createAccount();
  const [ep, ip, jp] = [e.getPublicKey(), i.getPublicKey(), j.getPublicKey()];
  const exports: Partial<Export>[] = [
    { name: 'pub', subject: 'svc.pub', type: 'service' },
    { name: 'tok', subject: 'svc.tok.>', type: 'service', token_req: true },
    { name: 'store', subject: 'store.>', type: 'service' },
    { name: 'ev', subject: 'ev.>', type: 'stream' },
    { name: 'more', subject: 'more.>', type: 'stream' },
  ];
  const jsLimits = { mem_storage: 1 << 20, disk_storage: 1 << 20, streams: 2, consumer: 2 };
  const eJwt = (revocations?: Record<string, number>) => accountJwt(op, 'E', e, {
    exports: exports.map((x) => (x.token_req && revocations ? { ...x, revocations } : x)) as Export[],
    limits: jsLimits,
  });
  const activation = await encodeActivation('act', i, e, 'service', { subject: 'svc.tok.>' } as never);
  const badActivation = await encodeActivation('act', k, wrong, 'service', { subject: 'svc.tok.>' } as never);
  const iImports = (streams: Partial<Import>[]): Import[] => [
    { name: 'pub', subject: 'svc.pub', account: ep, type: 'service', local_subject: 'pub.svc' },
    { name: 'tok', subject: 'svc.tok.a', account: ep, type: 'service', token: activation },
    { name: 'store', subject: 'store.x', account: ep, type: 'service' },
    ...streams,
  ] as Import[];
  const evImport: Partial<Import> = { name: 'ev', subject: 'ev.>', account: ep, type: 'stream', local_subject: 'in.ev.>' };
  const moreImport: Partial<Import> = { name: 'more', subject: 'more.>', account: ep, type: 'stream', local_subject: 'in.more.>' };
  const jImports: Import[] = [
    { name: 'none', subject: 'svc.tok.b', account: ep, type: 'service' },
    { name: 'pub', subject: 'svc.pub', account: ep, type: 'service', share: true },
  ] as Import[];

  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'op.conf');
  writeFileSync(conf, operatorConfig(op, {
    [ep]: await eJwt(),
    [ip]: await accountJwt(op, 'I', i, { imports: iImports([evImport]) }),
    [jp]: await accountJwt(op, 'J', j, { imports: jImports }),
    // an activation signed by another account makes the whole account JWT invalid
    [k.getPublicKey()]: await accountJwt(op, 'K', k, {
      imports: [{ name: 'bad', subject: 'svc.tok.a', account: ep, type: 'service', token: badActivation }] as Import[],
    }),
  }, `listen: "127.0.0.1:-1"\nresolver: { type: full, dir: "${join(dir, 'jwt')}" }\njetstream { store_dir: "${join(dir, 'js')}" }`)
    .replace('resolver: MEMORY\n', ''));
  const srv = await spawn(['-c', conf]);
  const conns: NatsConnection[] = [];
  const user = async (acc: KeyPair): Promise<NatsConnection> => {
    const u = createUser();
    const nc = await connect({ port: srv.port, authenticator: credsAuthenticator(credsOf(await userJwt('u', u, acc), u)) }).catch((err) => {
      throw new Error(`${acc.getPublicKey()} ${(err as Error).name}`);
    });
    conns.push(nc);
    return nc;
  };
  const out: Json = {};
  try {
    const [sys, ne, ni, nj] = [await user(op.sys), await user(e), await user(i), await user(j)];
    out.kConnect = await user(k).then(() => 'connected', (err: Error) => err.message.split(' ')[1]);
    const sysReq = async (subject: string, body = ''): Promise<Json> =>
      ({ ...(JSON.parse((await sys.request(subject, body, { timeout: 5000 })).string()) as Json), sys: op.sys.getPublicKey() });

    // the exporter's services answer with the Nats-Request-Info they were given
    const seen: Json[] = [];
    ne.subscribe('svc.>', {
      callback: (_err, m) => {
        const info = JSON.parse(m.headers?.get('Nats-Request-Info') || '{}') as Json;
        seen.push({ subject: m.subject, acc: info.acc === ip ? 'I' : info.acc === jp ? 'J' : info.acc, keys: Object.keys(info).filter((k) => k !== 'rtt').sort(), x: m.headers?.get('X-A') });
        m.respond(`re:${m.subject}`);
      },
    });
    await ne.flush();
    const ask = async (nc: NatsConnection, subject: string, timeout = 3000): Promise<string> => {
      try {
        const h = natsHeaders();
        h.set('X-A', '1');
        return (await nc.request(subject, 'q', { timeout, headers: h })).string();
      } catch (err) {
        return (err as Error).message.includes('no responders') ? '503' : String(err);
      }
    };
    out.pub = await ask(ni, 'pub.svc');
    out.tok = await ask(ni, 'svc.tok.a');
    out.jNoToken = await ask(nj, 'svc.tok.b');
    out.jPub = await ask(nj, 'svc.pub');
    out.seen = seen.splice(0);

    // stream imports reach existing subscriptions
    const evSub = ni.subscribe('in.>');
    const evIt = evSub[Symbol.asyncIterator]();
    await ni.flush();
    ne.publish('ev.one', 'e1');
    ne.publish('more.one', 'm1');
    out.streamBefore = await received(evSub, evIt, ni, ne);

    // a request through an import into the exporter's stream: stored without Nats-Request-Info
    const jsm = await jetstreamManager(ne);
    await jsm.streams.add({ name: 'ST', subjects: ['store.>'] });
    const ack = JSON.parse(await ask(ni, 'store.x')) as Json;
    const stored = await jsm.streams.getMessage('ST', { seq: 1 });
    out.storeAck = { stream: ack.stream, seq: ack.seq };
    out.storedHeaders = stored?.header ? [...stored.header.keys()].sort() : [];

    out.infoI = importsOf(await sysReq(`$SYS.REQ.ACCOUNT.${ip}.INFO`));
    out.infoJ = importsOf(await sysReq(`$SYS.REQ.ACCOUNT.${jp}.INFO`));
    out.completeI = ((await sysReq(`$SYS.REQ.ACCOUNT.${ip}.INFO`)).data as Json).complete;
    out.completeJ = ((await sysReq(`$SYS.REQ.ACCOUNT.${jp}.INFO`)).data as Json).complete;
    const eInfo = (await sysReq(`$SYS.REQ.ACCOUNT.${ep}.INFO`)).data as Json;
    out.exportsE = ((eInfo.exports ?? []) as Json[]).map((x) => ({ subject: x.subject, type: x.type, token_req: x.token_req }))
      .sort((a, b) => String(a.subject).localeCompare(String(b.subject)));

    // updates: E revokes I's activation; I drops the ev import and adds the more import
    await new Promise((r) => setTimeout(r, 1100)); // a newer account JWT needs a later iat (seconds)
    const upd = async (acc: string, jwt: string) =>
      ((await sysReq(`$SYS.REQ.ACCOUNT.${acc}.CLAIMS.UPDATE`, jwt)).data as Json | undefined)?.code;
    out.updE = await upd(ep, await eJwt({ [ip]: Math.floor(Date.now() / 1000) }));
    // the invalid import keeps its interest: no answer rather than no responders
    out.tokRevoked = await ask(ni, 'svc.tok.a', 500);
    out.infoIRevoked = importsOf(await sysReq(`$SYS.REQ.ACCOUNT.${ip}.INFO`));
    out.updI = await upd(ip, await accountJwt(op, 'I', i, { imports: iImports([moreImport]) }));
    out.tokAfterUpdate = await ask(ni, 'svc.tok.a');
    out.pubAfter = await ask(ni, 'pub.svc');
    ne.publish('ev.two', 'e2');
    ne.publish('more.two', 'm2');
    out.streamAfter = await received(evSub, evIt, ni, ne);
    out.infoIAfter = importsOf(await sysReq(`$SYS.REQ.ACCOUNT.${ip}.INFO`));
    out.seenAfter = seen.splice(0);
  } finally {
    for (const nc of conns) await nc.close().catch(() => {});
    await srv.stop();
  }
  return out;
}

test('imports and exports in account JWTs: tsnats behaves as nats-server 2.9.10', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-imports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ts = await flow(spawnTsnats, join(dir, 'ts'));

  assert.equal(ts.pub, 're:svc.pub');
  assert.equal(ts.tok, 're:svc.tok.a');
  assert.equal(ts.kConnect, 'AuthorizationError', 'an activation signed by another account makes the account invalid');
  assert.equal(ts.jNoToken, '503', 'a token-protected export needs an activation');
  assert.equal(ts.jPub, 're:svc.pub');
  assert.deepEqual(ts.seen, [
    { subject: 'svc.pub', acc: 'I', keys: ['acc'], x: '1' },
    { subject: 'svc.tok.a', acc: 'I', keys: ['acc'], x: '1' },
    // share: true (J's import) gives the requester's details
    { subject: 'svc.pub', acc: 'J', keys: ['acc', 'client_type', 'host', 'id', 'issuer_key', 'jwt', 'kind', 'lang', 'name_tag', 'server', 'start', 'user', 'ver'], x: '1' },
  ]);
  assert.deepEqual(ts.streamBefore, ['e1']);
  assert.deepEqual(ts.storeAck, { stream: 'ST', seq: 1 });
  assert.deepEqual(ts.storedHeaders, ['X-A'], 'JetStream does not store Nats-Request-Info');
  assert.equal(ts.completeI, true);
  assert.equal(ts.completeJ, false);
  assert.equal((ts.infoJ as Json[]).length, 1, 'only the authorized import of J is listed');
  assert.match(String(ts.tokRevoked), /timeout/i, 'a revoked activation no longer imports');
  assert.equal(ts.tokAfterUpdate, '503');
  assert.equal(ts.pubAfter, 're:svc.pub');
  assert.deepEqual(ts.streamAfter, ['m2'], 'the removed import stops, the added one delivers');
  assert.ok((ts.infoIRevoked as Json[]).some((x) => x.subject === 'svc.tok.a' && x.invalid === true), 'listed as invalid');
  assert.ok(!(ts.infoIAfter as Json[]).some((x) => x.subject === 'svc.tok.a'), 'the importer update leaves it out');

  const ns = natsServerSkip();
  if (ns) {
    t.diagnostic(ns);
    return;
  }
  const go = await flow(spawnNatsServer, join(dir, 'ns'));
  assert.deepEqual(ts, go);
});
