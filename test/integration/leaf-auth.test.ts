// Leaf authentication against an operator-mode (JWT) hub, tsnats on both sides: the remote's
// `credentials` (user JWT + seed: the INFO nonce is signed) bind the link to the user's
// account; credentials the operator does not trust get -ERR 'Authorization Violation' and the
// remote keeps retrying.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { captureLog, startTestServer, type ServerHandle } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { loadConfigText } from '../../src/config/load.js';
import { accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, userJwt } from '../helpers/jwt-flow.js';
import { getLeafnodes } from '../../src/leaf/index.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function leafWithCreds(t: TestContext, port: number, creds: string): Promise<{ leaf: ServerHandle; log: string[] }> {
  const leaf = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://127.0.0.1:${port}`], credentials: creds }] },
  }, t);
  return { leaf, log: captureLog(leaf) };
}

test('leaf auth: an operator-mode hub binds a leaf by its credentials; untrusted credentials are refused and retried', async (t) => {
  const op = await newOperator();
  const akp = createAccount();
  const ajwt = await accountJwt(op, 'APP', akp);
  const { options } = loadConfigText(operatorConfig(op, { [akp.getPublicKey()]: ajwt }, 'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }'), 'hub.conf');
  const hub = await startTestServer({ ...options, leafnodes: { ...options.leafnodes!, reconnectMs: 50 } }, t);
  const hubLog = captureLog(hub);
  const port = getLeafnodes(hub.server)!.port;
  const dir = tempDir(t);

  const ukp = createUser();
  const good = join(dir, 'good.creds');
  writeFileSync(good, credsOf(await userJwt('leaf', ukp, akp), ukp));
  const { leaf } = await leafWithCreds(t, port, good);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10_000, 'leaf bound');
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.account!.name, akp.getPublicKey());

  // messages cross into the account of the credentials
  const ucl = createUser();
  const hc = await connect({ servers: hub.clientUrl, authenticator: credsAuthenticator(credsOf(await userJwt('cl', ucl, akp), ucl)) });
  t.after(() => hc.close());
  const lc = await connect({ servers: leaf.clientUrl });
  t.after(() => lc.close());
  lc.subscribe('svc', { callback: (_e, m) => { m.respond('from leaf'); } });
  await lc.flush();
  const acc = hub.server.lookupAccount(akp.getPublicKey())!;
  await waitUntil(() => acc.sublist.hasInterest('svc'), 5000, 'leaf interest in the JWT account');
  assert.equal((await hc.request('svc', '', { timeout: 5000 })).string(), 'from leaf');

  // a user of an account the operator never signed
  const stranger = createAccount();
  const skp = createUser();
  const bad = join(dir, 'bad.creds');
  writeFileSync(bad, credsOf(await userJwt('x', skp, stranger), skp));
  const { leaf: badLeaf, log: badLog } = await leafWithCreds(t, port, bad);
  await waitUntil(() => hubLog.filter((l) => /Leafnode authentication error/.test(l)).length >= 2, 10_000, 'refused, then retried');
  await waitUntil(() => badLog.some((l) => /Authorization Violation/.test(l)), 10_000, 'the leaf is told');
  assert.equal(getLeafnodes(hub.server)!.connections().length, 1);
  void badLeaf;
});
