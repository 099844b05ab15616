// A SIGHUP reload and leaf links, side by side with nats-server 2.9.10 (same config file):
// - a reload that changes `leafnodes.authorization` is refused as a whole ("config reload not
//   supported for LeafNode"): the connected leaf link stays, the removed leaf user can still log
//   in, and the client permission change in the same file is not applied either;
// - a reload that leaves the leafnodes block alone is applied, and a leaf link that logged in as
//   a client user is not re-checked: it stays up and keeps its old permissions, even when the
//   reload removes that user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerSkip } from '../helpers/nats-server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { leafPort, rawLeaf } from '../helpers/raw-leaf.js';
import { waitUntil } from '../helpers/wait.js';

const skip = natsServerSkip();

/** The same steps against each server started from `conf` written with `first`; the steps
 *  rewrite the file before each reload. */
async function both(conf: string, first: string, fn: (s: ChildServer) => Promise<unknown>): Promise<{ ns: unknown; ts: unknown }> {
  const run = async (spawn: typeof spawnTsnats): Promise<unknown> => {
    writeFileSync(conf, first);
    const s = await spawn(['-c', conf]);
    try {
      return await fn(s);
    } finally {
      await s.stop();
    }
  };
  return { ns: await run(spawnNatsServer), ts: await run(spawnTsnats) };
}

async function reloaded(s: ChildServer, conf: string, text: string, logged: RegExp): Promise<void> {
  const before = s.output().split(logged).length;
  writeFileSync(conf, text);
  s.proc.kill('SIGHUP');
  await waitUntil(() => s.output().split(logged).length > before, 10_000, `log ${logged}`);
}

test('reload changing leafnodes authorization is refused, leaving links, users and permissions as they were', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-reload-leaf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'hub.conf');
  const text = (leafUsers: string, aPerms: string) => [
    'listen: 127.0.0.1:-1',
    `accounts { A { users [ { user: a, password: a${aPerms} } ] } }`,
    `leafnodes { listen: "127.0.0.1:-1", authorization { users: [ ${leafUsers} ] } }`,
  ].join('\n');
  const original = text('{user: l1, password: p1, account: A}, {user: l2, password: p2, account: A}', '');
  const denyBar = ', permissions: { subscribe: { deny: "bar" } }';
  const r = await both(conf, original, async (s) => {
    const out: Record<string, unknown> = {};
    const port = await leafPort(s);
    const leaf = await rawLeaf(port, 'l1', 'p1');
    t.after(() => leaf.c.close());
    out.leafLogin = leaf.reply;
    const { c: a } = await RawClient.connectInfo(s.port);
    t.after(() => a.close());
    a.send(`${connectLine({ user: 'a', pass: 'a' })}SUB foo 1\r\nSUB bar 2\r\n`);
    assert.equal(await a.flushPing(), '');
    // l1 goes and user a may no longer subscribe to bar: the leafnodes change refuses it all
    await reloaded(s, conf, text('{user: l2, password: p2, account: A}', denyBar), /config reload not supported for LeafNode/);
    out.leafAfter = await leaf.c.flushPing();
    out.aAfter = await a.flushPing();
    const again = await rawLeaf(port, 'l1', 'p1');
    again.c.close();
    out.removedUserLogin = again.reply;
    // the same permission change with the leafnodes block as it was: applied
    await reloaded(s, conf, text('{user: l2, password: p2, account: A}, {user: l1, password: p1, account: A}', denyBar), /Reloaded server configuration/);
    out.aApplied = await a.waitFor('-ERR');
    out.leafStill = await leaf.c.flushPing();
    return out;
  });
  assert.deepEqual(r.ts, {
    // the leaf link learns the client's interest, and loses bar once the removal is applied
    leafLogin: 'PONG', leafAfter: 'LS+ foo\r\nLS+ bar\r\n', aAfter: '', removedUserLogin: 'PONG',
    aApplied: `-ERR 'Permissions Violation for Subscription to "bar" (sid "2")'\r\n`, leafStill: 'LS- bar\r\n',
  });
  // One difference kept on purpose: nats-server 2.9.10 drops a subscription the reload denies
  // without telling leaf links (nor routes), which keep sending messages nobody takes; tsnats
  // withdraws the interest as for any unsubscribe.
  assert.equal((r.ns as Record<string, unknown>).leafStill, '');
  assert.deepEqual({ ...r.ts as object, leafStill: '' }, r.ns);
});

test('reload removing the client user a leaf link logged in as leaves the link up, as nats-server', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-reload-leaf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'hub.conf');
  const text = (users: string) => [
    'listen: 127.0.0.1:-1',
    `accounts { A { users [ ${users} ] } }`,
    'leafnodes { listen: "127.0.0.1:-1" }',
  ].join('\n');
  const r = await both(conf, text('{user: a, password: a}, {user: lu, password: lp}'), async (s) => {
    const out: Record<string, unknown> = {};
    const port = await leafPort(s);
    const leaf = await rawLeaf(port, 'lu', 'lp');
    t.after(() => leaf.c.close());
    out.leafLogin = leaf.reply;
    await reloaded(s, conf, text('{user: a, password: a}'), /Reloaded server configuration/);
    // the link keeps working: its interest reaches the account's clients
    leaf.c.send('LS+ foo\r\n');
    assert.equal(await leaf.c.flushPing(), '');
    const { c: a } = await RawClient.connectInfo(s.port);
    t.after(() => a.close());
    a.send(`${connectLine({ user: 'a', pass: 'a' })}PUB foo 2\r\nhi\r\n`);
    assert.equal(await a.flushPing(), '');
    out.leafGot = await leaf.c.waitFor('LMSG foo 2\r\nhi\r\n');
    const late = await rawLeaf(port, 'lu', 'lp');
    late.c.close();
    out.newLogin = late.reply;
    return out;
  });
  assert.deepEqual(r.ts, {
    leafLogin: 'PONG', leafGot: 'LMSG foo 2\r\nhi\r\n', newLogin: "-ERR 'Authorization Violation'",
  });
  assert.deepEqual(r.ts, r.ns);
});
