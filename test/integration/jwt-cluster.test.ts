// Operator mode across a cluster with the full resolver on every server (nats-server's
// DirAccResolver): an account JWT pushed to one server reaches the others through the
// system account's subscriptions over the routes, and a server that does not hold an
// account's JWT asks the cluster for it ($SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP) when a user
// of that account connects; one that missed a push catches up through CLAIMS.PACK.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { loadConfigText } from '../../src/config/load.js';
import { waitUntil } from '../helpers/wait.js';
import { NatsServerNode, startNode, waitRemoteInterest, waitRoutes, type InProcNode } from '../cluster/cluster-helpers.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import {
  accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, rawJwtConnect, userJwt, type OperatorSetup,
} from '../helpers/jwt-flow.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A clustered server in operator mode with its own full-resolver directory. */
async function node(t: TestContext, op: OperatorSetup, dir: string, name: string, routes: string[], resolverExtra = ''): Promise<InProcNode> {
  const text = operatorConfig(op, {}, `resolver: { type: full, dir: "${join(dir, name)}"${resolverExtra} }`).replace('resolver: MEMORY\n', '');
  const { options } = loadConfigText(text, `${name}.conf`);
  const n = await startNode({ name, routes, extra: { ...options, host: '127.0.0.1', port: 0 } });
  t.after(() => n.h.shutdown());
  return n;
}

test('full resolver in a cluster: a pushed account JWT reaches every server; a missing one is looked up', async (t) => {
  const dir = tempDir(t);
  const op = await newOperator();
  const sysAcc = op.sys.getPublicKey();
  const n1 = await node(t, op, dir, 'n1', []);
  const n2 = await node(t, op, dir, 'n2', [n1.routeUrl]);
  await waitRoutes([n1, n2], 1);
  // n2's update handler is known on n1 before anything is pushed there
  await waitRemoteInterest(n1, `$SYS.REQ.ACCOUNT.${sysAcc}.CLAIMS.UPDATE`, true, sysAcc);

  const b = createAccount();
  const bu = createUser();
  const bUser = await userJwt('bu', bu, b);
  const su = createUser();
  const sys = await connect({ port: n1.h.port, authenticator: credsAuthenticator(credsOf(await userJwt('sys', su, op.sys), su)) });
  t.after(() => sys.close());
  // every server of the cluster answers the update; the requester takes the first answer
  const answers: string[] = [];
  const inbox = sys.subscribe('_INBOX.update', { callback: (_e, m) => void answers.push(m.string()) });
  sys.publish(`$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, 'B', b), { reply: '_INBOX.update' });
  await sys.flush();
  await waitUntil(() => answers.length === 2);
  inbox.unsubscribe();
  const servers = answers.map((a) => JSON.parse(a) as { server: { name: string }; data: { code: number } });
  assert.deepEqual(servers.map((a) => a.server.name).sort(), ['n1', 'n2']);
  assert.deepEqual(servers.map((a) => a.data.code), [200, 200]);

  const onN2 = await rawJwtConnect(n2.h.port, bUser, bu);
  t.after(() => onN2.close());
  assert.equal(await onN2.flushPing(), '');

  // n3 joins after the push: its directory has no B, so it looks B up in the cluster
  const n3 = await node(t, op, dir, 'n3', [n1.routeUrl]);
  await waitRoutes([n1, n2, n3], 2);
  await waitRemoteInterest(n3, `$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.LOOKUP`, true, sysAcc);
  const onN3 = await rawJwtConnect(n3.h.port, bUser, bu);
  t.after(() => onN3.close());
  assert.equal(await onN3.flushPing(5000), '');
  // and B's users talk across the cluster
  onN2.send('SUB b.x 1\r\n');
  await onN2.flushPing();
  await waitRemoteInterest(n3, 'b.x', true, b.getPublicKey());
  onN3.send('PUB b.x 2\r\nhi\r\n');
  await onN3.flushPing();
  await onN2.waitFor('MSG b.x 1 2\r\nhi\r\n');

  // an account no server holds: the lookup times out and the user is refused
  const c = createAccount();
  const cu = createUser();
  const refused = await rawJwtConnect(n3.h.port, await userJwt('cu', cu, c), cu);
  await refused.waitClosed(10_000);
  assert.equal(refused.text, "-ERR 'Authorization Violation'\r\n");
});

test('full resolver in a cluster: a server that missed a push gets it through CLAIMS.PACK every interval', async (t) => {
  const dir = tempDir(t);
  const op = await newOperator();
  const n1 = await node(t, op, dir, 'n1', [], ', interval: "100ms"');
  const b = createAccount();
  const su = createUser();
  const sys = await connect({ port: n1.h.port, authenticator: credsAuthenticator(credsOf(await userJwt('sys', su, op.sys), su)) });
  t.after(() => sys.close());
  const m = await sys.request(`$SYS.REQ.ACCOUNT.${b.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, 'B', b));
  assert.equal((JSON.parse(m.string()) as { data: { code: number } }).data.code, 200);
  // n2 was not there: its store stays without B until n1 answers one of its pack requests
  const n2 = await node(t, op, dir, 'n2', [n1.routeUrl], ', interval: "100ms"');
  await waitRoutes([n1, n2], 1);
  const file = (n: string) => join(dir, n, `${b.getPublicKey()}.jwt`);
  await waitUntil(() => existsSync(file('n2')));
  assert.equal(readFileSync(file('n2'), 'utf8'), readFileSync(file('n1'), 'utf8'));
});

test('full resolver in a cluster with nats-server 2.9.10: packs, pushes and lookups are answered across both kinds',
  { skip: natsServerSkip(), timeout: 60_000 }, async (t) => {
    const dir = tempDir(t);
    const op = await newOperator();
    const sysAcc = op.sys.getPublicKey();
    const su = createUser();
    const sysCreds = credsAuthenticator(credsOf(await userJwt('sys', su, op.sys), su));
    /** push an account JWT through `port`; the servers that answered, with their codes */
    const push = async (port: number, acc: ReturnType<typeof createAccount>, name: string, answering: number): Promise<string[]> => {
      const sys = await connect({ port, authenticator: sysCreds });
      try {
        const answers: string[] = [];
        sys.subscribe('_INBOX.push', { callback: (_e, m) => void answers.push(m.string()) });
        sys.publish(`$SYS.REQ.ACCOUNT.${acc.getPublicKey()}.CLAIMS.UPDATE`, await accountJwt(op, name, acc), { reply: '_INBOX.push' });
        await waitUntil(() => answers.length === answering);
        return answers.map((a) => {
          const j = JSON.parse(a) as { server: { name: string }; data: { code: number } };
          return `${j.server.name}:${j.data.code}`;
        }).sort();
      } finally {
        await sys.close();
      }
    };
    const connectUser = async (acc: ReturnType<typeof createAccount>, port: number): Promise<string> => {
      const u = createUser();
      const conn = await rawJwtConnect(port, await userJwt('u', u, acc), u);
      t.after(() => conn.close());
      return conn.flushPing(5000);
    };

    const ns = await NatsServerNode.start('ns', [], 0, 'C1', undefined,
      operatorConfig(op, {}, `resolver: { type: full, dir: "${join(dir, 'ns')}" }`).replace('resolver: MEMORY\n', ''));
    t.after(() => ns.cleanup());
    const nsPort = Number(new URL(ns.clientUrl).port);
    const b = createAccount();
    assert.deepEqual(await push(nsPort, b, 'B', 1), ['ns:200']);
    // tsnats joins after the push: nats-server answers its pack request with B
    const ts = await node(t, op, dir, 'ts', [ns.routeUrl], ', interval: "100ms"');
    await waitUntil(() => existsSync(join(dir, 'ts', `${b.getPublicKey()}.jwt`)));
    assert.equal(await connectUser(b, ts.h.port), '');
    // a push to either kind reaches the other
    await waitRemoteInterest(ts, `$SYS.REQ.ACCOUNT.${sysAcc}.CLAIMS.UPDATE`, true, sysAcc);
    const c = createAccount();
    assert.deepEqual(await push(ts.h.port, c, 'C', 2), ['ns:200', 'ts:200']);
    assert.equal(await connectUser(c, nsPort), '');
    const d = createAccount();
    assert.deepEqual(await push(nsPort, d, 'D', 2), ['ns:200', 'ts:200']);
    assert.equal(await connectUser(d, ts.h.port), '');
    // a tsnats server that joins later (no pack for a minute) looks C up when its user connects
    const late = await node(t, op, dir, 'late', [ns.routeUrl]);
    await waitUntil(() => late.cluster.numRoutes === 2);
    await waitRemoteInterest(late, `$SYS.REQ.ACCOUNT.${c.getPublicKey()}.CLAIMS.LOOKUP`, true, sysAcc);
    assert.equal(existsSync(join(dir, 'late', `${c.getPublicKey()}.jwt`)), false);
    assert.equal(await connectUser(c, late.h.port), '');
    assert.equal(existsSync(join(dir, 'late', `${c.getPublicKey()}.jwt`)), true);
  });
