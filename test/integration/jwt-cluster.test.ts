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
import { startNode, waitRemoteInterest, waitRoutes, type InProcNode } from '../cluster/cluster-helpers.js';
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
