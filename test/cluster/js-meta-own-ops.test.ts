// Meta operations on in-process clusters: META.LEADER.STEPDOWN with a preferred server,
// SERVER.REMOVE of a server that is down, and 10008 from the client's own server (once)
// when the meta group has no leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type InProcNode } from './cluster-helpers.js';
import { connectAll, metaOf, requestAll, startJsCluster, stopAll, waitForMetaLeader } from './js-meta-own-helpers.js';
import { healthz } from '../../src/monitor/healthz.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

/** A request in the system account (where META.* and SERVER.REMOVE live), through server `via`. */
async function sysRequest(via: InProcNode, others: InProcNode[], subject: string, body = ''): Promise<string[]> {
  const ic = via.h.server.systemAccount.createInternalClient('test-sys');
  const got: string[] = [];
  const inbox = `_INBOX.sys.${Math.random().toString(36).slice(2)}`;
  ic.subscribe(inbox, (_s, _r, _h, p) => { got.push(p.toString()); });
  try {
    await waitFor(() => others.every((o) => o === via || o.cluster.hasRemoteInterest('$SYS', '$JS.API.META.LEADER.STEPDOWN')), 'system API interest');
    ic.publish(subject, inbox, undefined, body);
    await waitFor(() => got.length > 0, `a reply to ${subject}`, 20_000);
    return got;
  } finally {
    ic.close();
  }
}

test('meta: stepdown to a preferred server, then SERVER.REMOVE of a stopped server shrinks the group', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    const old = await waitForMetaLeader(nodes);
    // A fresh group can elect its leader with the first two servers; the third joins right after.
    await waitFor(() => metaOf(old).node?.peers().length === 3, 'every server a member of the meta group');
    const target = nodes.find((n) => n !== old)!;
    // The new leader announces itself in the system account (newer nats-server's advisory).
    const advisories: Record<string, any>[] = [];
    const watcher = nodes[2]!.h.server.systemAccount.createInternalClient('adv');
    watcher.subscribe('$JS.EVENT.ADVISORY.DOMAIN.LEADER_ELECTED', (_s, _r, _h, p) => { advisories.push(j(p.toString())); });
    await waitFor(() => nodes.every((n) => n === nodes[2] || n.cluster.hasRemoteInterest('$SYS', '$JS.EVENT.ADVISORY.DOMAIN.LEADER_ELECTED')), 'advisory interest');
    const r = await sysRequest(nodes[0]!, nodes, '$JS.API.META.LEADER.STEPDOWN', JSON.stringify({ placement: { preferred: target.h.server.serverName } }));
    assert.deepEqual(j(r[0]!), { type: 'io.nats.jetstream.api.v1.meta_leader_stepdown_response', success: true });
    const now = await waitForMetaLeader(nodes);
    assert.equal(now, target, 'the preferred server leads');
    await waitFor(() => advisories.length > 0, 'a leader elected advisory');
    watcher.close();
    assert.equal(advisories.length, 1);
    assert.equal(advisories[0]!.type, 'io.nats.jetstream.advisory.v1.domain_leader_elected');
    assert.equal(advisories[0]!.leader, metaOf(target).id);
    assert.equal(advisories[0]!.cluster, metaOf(nodes[0]!).clusterName);
    assert.deepEqual(advisories[0]!.replicas.map((r: any) => r.name).sort(), ['n1', 'n2', 'n3']);
    // An unknown preferred server is refused and nothing changes.
    const bad = await sysRequest(nodes[1]!, nodes, '$JS.API.META.LEADER.STEPDOWN', JSON.stringify({ placement: { preferred: 'nope' } }));
    assert.equal(j(bad[0]!).error.err_code, 10005);
    assert.equal(await waitForMetaLeader(nodes), target);

    // Stop a follower and remove it.
    const gone = nodes.find((n) => n !== target)!;
    const goneIdx = nodes.indexOf(gone);
    await ncs[goneIdx]!.close();
    await gone.h.shutdown();
    const rest = nodes.filter((n) => n !== gone);
    const notMember = await sysRequest(rest[0]!, rest, '$JS.API.SERVER.REMOVE', JSON.stringify({ peer: 'nosuch' }));
    assert.equal(j(notMember[0]!).error.err_code, 10044);
    const rm = await sysRequest(rest[0]!, rest, '$JS.API.SERVER.REMOVE', JSON.stringify({ peer: gone.h.server.serverName }));
    assert.deepEqual(j(rm[0]!), { type: 'io.nats.jetstream.api.v1.meta_server_remove_response', success: true });
    await waitFor(() => rest.every((n) => !metaOf(n).node.peers().some((p) => metaOf(n).serverNameOf(p) === gone.h.server.serverName)),
      'removed from every remaining server\'s peer set');
    assert.equal(metaOf(target).node.peers().length, 2);
    // The API keeps working on the two remaining servers.
    const c = await requestAll(ncs[nodes.indexOf(rest[1]!)]!, rest, '$JS.API.STREAM.CREATE.AFTER', JSON.stringify({ name: 'AFTER' }));
    assert.equal(c.length, 1);
    assert.equal(j(c[0]!).did_create, true, c[0]);
    await stopAll(rest, ncs.filter((_, i) => i !== goneIdx), root);
  } catch (e) {
    await stopAll(nodes.filter((n) => n.h.server.running), [], root).catch(() => {});
    throw e;
  }
});

test('meta: with no meta leader, a meta request gets 10008 once, from the server the client is on', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await Promise.all([ncs[1]!.close(), ncs[2]!.close()]);
    await Promise.all([nodes[1]!.h.shutdown(), nodes[2]!.h.shutdown()]);
    const alone = nodes[0]!;
    await waitFor(() => !metaOf(alone).hasLeader(), 'the survivor has no meta leader', 30_000);
    const inbox = `_INBOX.ll.${Math.random().toString(36).slice(2)}`;
    const got: string[] = [];
    ncs[0]!.subscribe(inbox, { callback: (_e, m) => { got.push(m.string()); } });
    ncs[0]!.publish('$JS.API.STREAM.CREATE.X', JSON.stringify({ name: 'X' }), { reply: inbox });
    await waitFor(() => got.length > 0, 'a reply');
    await ncs[0]!.flush();
    assert.equal(got.length, 1);
    assert.deepEqual(j(got[0]!).error, { code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' });
    assert.equal(j(got[0]!).type, 'io.nats.jetstream.api.v1.stream_create_response');
    // /healthz says why JetStream is not healthy (nats-server's text), and is fine with JetStream checks off.
    const h = healthz(alone.h.server, {});
    assert.equal(h.status, 'unavailable');
    assert.equal(h.error, 'JetStream has not established contact with a meta leader');
    assert.equal(healthz(alone.h.server, { jsEnabledOnly: true }).status, 'ok');
  } finally {
    await ncs[0]!.close();
    await nodes[0]!.h.shutdown();
    const { rmSync } = await import('node:fs');
    rmSync(root, { recursive: true, force: true });
  }
});
