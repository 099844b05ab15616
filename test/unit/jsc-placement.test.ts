// Placement (selectPeerGroup and friends): every rule of jetstream-cluster.md §3 with a seeded
// random source, and nats-server's error codes and texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EXCLUDE_PLACEMENT_TAG, SelectPeerError, choosePreferred, createGroupForConsumer, createGroupForStream,
  groupName, peerIdForServerName, selectPeerGroup, stepDownPreferredPeer, syncSubject, type PlacementContext, type PlacementPeer,
  type PlacementStreamConfig,
} from '../../src/jetstream/cluster/placement.js';
import { makeStreamAssignment, type StreamAssignment } from '../../src/jetstream/cluster/meta-codec.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { decodeConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { seededRandom as rng } from '../helpers/wait.js';

const GB = 1024 ** 3;
function peer(name: string, opts: Partial<PlacementPeer> & { store?: number; mem?: number; usedStore?: number; ha?: number } = {}): PlacementPeer {
  return {
    id: peerIdForServerName(name),
    name,
    cluster: opts.cluster ?? 'C1',
    tags: opts.tags ?? [],
    offline: opts.offline ?? false,
    stats: 'stats' in opts ? opts.stats : {
      maxMemory: opts.mem ?? GB, maxStore: opts.store ?? 10 * GB, usedMemory: 0, reservedMemory: 0,
      usedStore: opts.usedStore ?? 0, reservedStore: 0, haAssets: opts.ha ?? 1,
    },
  };
}

function ctx(peers: PlacementPeer[], extra: Partial<PlacementContext> = {}, seed = 1): PlacementContext {
  return { peers, assignments: [], random: rng(seed), ...extra };
}

const cfg = (r: number, extra: Partial<PlacementStreamConfig> = {}): PlacementStreamConfig =>
  ({ num_replicas: r, storage: 'file', max_bytes: -1, ...extra });
const ids = (...names: string[]): string[] => names.map(peerIdForServerName);
const nameOf = (peers: PlacementPeer[]) => (id: string): string => peers.find((p) => p.id === id)!.name;

function expectFail(sel: ReturnType<typeof selectPeerGroup>): SelectPeerError {
  assert.equal(sel.ok, false, 'placement should fail');
  return (sel as { ok: false; error: SelectPeerError }).error;
}
function expectPeers(sel: ReturnType<typeof selectPeerGroup>): string[] {
  assert.ok(sel.ok, sel.ok ? '' : sel.error.message);
  return sel.peers;
}

test('R3 on five servers: three distinct peers of the target cluster; seeds spread the choice', () => {
  const peers = ['a', 'b', 'c', 'd', 'e'].map((n) => peer(n));
  const seen = new Set<string>();
  for (let seed = 1; seed <= 50; seed++) {
    const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, {}, seed)));
    assert.equal(got.length, 3);
    assert.equal(new Set(got).size, 3, 'distinct servers');
    got.forEach((id) => seen.add(id));
  }
  assert.equal(seen.size, 5, 'random shuffle reaches every server');
  // Same seed, same answer.
  assert.deepEqual(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, {}, 7)), selectPeerGroup(3, 'C1', cfg(3), ctx(peers, {}, 7)));
});

test('cluster selection: other clusters skipped; placement.cluster, then client cluster and alternates', () => {
  const peers = [peer('a1', { cluster: 'A' }), peer('a2', { cluster: 'A' }), peer('b1', { cluster: 'B' }), peer('b2', { cluster: 'B' }), peer('b3', { cluster: 'B' })];
  const got = expectPeers(selectPeerGroup(2, 'A', cfg(2), ctx(peers)));
  assert.deepEqual(got.map(nameOf(peers)).sort(), ['a1', 'a2']);
  // R3 does not fit A (2 servers) but the client's alternate B does.
  const g = createGroupForStream({ cluster: 'A', alts: ['B'] }, cfg(3), ctx(peers));
  assert.ok(g.ok);
  assert.equal(g.ok && g.group.cluster, 'B');
  assert.deepEqual(g.ok && g.group.peers.map(nameOf(peers)).sort(), ['b1', 'b2', 'b3']);
  // Pinned cluster: no fallback.
  const pinned = createGroupForStream({ cluster: 'B', alts: [] }, cfg(3, { placement: { cluster: 'A' } }), ctx(peers));
  assert.equal(pinned.ok, false);
  assert.deepEqual(!pinned.ok && pinned.error.toJSON(), { code: 400, err_code: 10005, description: 'no suitable peers for placement' });
  assert.equal(expectFail(selectPeerGroup(1, '', cfg(1), ctx(peers))).message, 'no suitable peers for placement, miscellaneous issue');
});

test('replicas above the cluster size: 10005 no suitable peers for placement', () => {
  const peers = ['a', 'b', 'c'].map((n) => peer(n));
  const g = createGroupForStream({ cluster: 'C1' }, cfg(5), ctx(peers));
  assert.deepEqual(!g.ok && g.error.toJSON(), { code: 400, err_code: 10005, description: 'no suitable peers for placement' });
  const none = expectFail(selectPeerGroup(1, 'C1', cfg(1), ctx([])));
  assert.equal(none.message, 'no suitable peers for placement, jetstream not enabled in cluster');
});

test('placement tags: all required tags, !tag excludes; error lists them', () => {
  const peers = [
    peer('a', { tags: ['ssd', 'az:1'] }), peer('b', { tags: ['ssd', 'az:2'] }), peer('c', { tags: ['hdd', 'az:3'] }),
    peer('d', { tags: ['ssd', 'az:3', 'slow'] }),
  ];
  const got = expectPeers(selectPeerGroup(2, 'C1', cfg(2, { placement: { tags: ['ssd', '!slow'] } }), ctx(peers)));
  assert.deepEqual(got.map(nameOf(peers)).sort(), ['a', 'b']);
  const e = expectFail(selectPeerGroup(3, 'C1', cfg(3, { placement: { tags: ['ssd', '!slow'] } }), ctx(peers)));
  assert.equal(e.message, "no suitable peers for placement, tags not matched ['ssd'], tags excluded ['slow']");
});

test(`servers tagged ${EXCLUDE_PLACEMENT_TAG} never get assets`, () => {
  const peers = [peer('a'), peer('b', { tags: [EXCLUDE_PLACEMENT_TAG] })];
  assert.deepEqual(expectPeers(selectPeerGroup(1, 'C1', cfg(1), ctx(peers))), ids('a'));
  assert.equal(expectFail(selectPeerGroup(2, 'C1', cfg(2), ctx(peers))).message, 'no suitable peers for placement, exclude tag set');
});

test('unique_tag: one replica per tag value; disabled when the placement names the prefix', () => {
  const peers = [peer('a', { tags: ['az:1'] }), peer('b', { tags: ['az:1'] }), peer('c', { tags: ['az:2'] }), peer('d', { tags: ['az:3'] }), peer('e')];
  for (let seed = 1; seed <= 20; seed++) {
    const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, { uniqueTag: 'az:' }, seed)));
    const azs = got.map((id) => peers.find((p) => p.id === id)!.tags[0]);
    assert.deepEqual([...new Set(azs)].sort(), ['az:1', 'az:2', 'az:3'], `seed ${seed}`);
  }
  const twoAz = peers.filter((p) => p.name !== 'd');
  assert.equal(expectFail(selectPeerGroup(3, 'C1', cfg(3), ctx(twoAz, { uniqueTag: 'az:' }))).message,
    'no suitable peers for placement, server tag not unique');
  // Naming the tag in the placement turns the uniqueness rule off.
  const got = expectPeers(selectPeerGroup(2, 'C1', cfg(2, { placement: { tags: ['az:1'] } }), ctx(peers, { uniqueTag: 'az:' })));
  assert.deepEqual(got.map(nameOf(peers)).sort(), ['a', 'b']);
  // Existing members claim their value: a replacement must come from another az.
  const rep = expectPeers(selectPeerGroup(2, 'C1', cfg(2), ctx(peers.slice(0, 3), { uniqueTag: 'az:' }), ids('a')));
  assert.deepEqual(rep, ids('a', 'c'));
});

test('storage: max_bytes must fit what is free for that storage type', () => {
  const peers = [
    peer('a', { store: 10 * GB, usedStore: 9.5 * GB }), peer('b', { store: 10 * GB }), peer('c', { mem: 100 }),
  ];
  const big = cfg(1, { max_bytes: GB });
  for (let seed = 1; seed <= 10; seed++) {
    const got = expectPeers(selectPeerGroup(2, 'C1', { ...big, num_replicas: 2 }, ctx(peers, {}, seed)));
    assert.ok(!got.includes(peerIdForServerName('a')), 'a has only 0.5 GB free');
  }
  // Memory: only a and b have 1 GB of memory; c has 100 bytes.
  const mem = expectFail(selectPeerGroup(3, 'C1', cfg(3, { storage: 'memory', max_bytes: 1000 }), ctx(peers)));
  assert.equal(mem.message, 'no suitable peers for placement, insufficient storage');
  assert.equal(expectPeers(selectPeerGroup(2, 'C1', cfg(2, { storage: 'memory', max_bytes: 1000 }), ctx(peers))).length, 2);
  // Reserved space counts when larger than used.
  const reserved = peer('r');
  reserved.stats!.reservedStore = 10 * GB;
  assert.equal(expectFail(selectPeerGroup(1, 'C1', big, ctx([reserved]))).noStorage, true);
});

test('offline peers: last choice; placement fails without an online quorum; unknown stats skipped', () => {
  const peers = [peer('a'), peer('b'), peer('c', { offline: true }), peer('d')];
  for (let seed = 1; seed <= 10; seed++) {
    const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, {}, seed)));
    assert.deepEqual(got.map(nameOf(peers)).sort(), ['a', 'b', 'd']);
  }
  // Three servers, two offline: enough nodes but no quorum online.
  const three = [peer('a'), peer('b', { offline: true }), peer('c', { offline: true })];
  const e = expectFail(selectPeerGroup(3, 'C1', cfg(3), ctx(three)));
  assert.equal(e.message, 'no suitable peers for placement, peer offline');
  // One offline of three: quorum online, the offline one fills the third slot (sorted last).
  const one = [peer('a', { offline: true }), peer('b'), peer('c')];
  const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(one)));
  assert.equal(got[2], peerIdForServerName('a'));
  // A peer we never had stats from cannot be placed on.
  const nostats = [peer('a'), peer('x', { stats: undefined })];
  assert.equal(expectFail(selectPeerGroup(2, 'C1', cfg(2), ctx(nostats))).offline, true);
});

test('max_ha_assets: servers over the limit are skipped', () => {
  const peers = [peer('a', { ha: 5 }), peer('b', { ha: 2 }), peer('c', { ha: 3 })];
  const got = expectPeers(selectPeerGroup(2, 'C1', cfg(2), ctx(peers, { maxHaAssets: 3 })));
  assert.deepEqual(got.map(nameOf(peers)).sort(), ['b', 'c']);
  assert.equal(expectFail(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, { maxHaAssets: 3 }))).message,
    'no suitable peers for placement, miscellaneous issue');
});

function assignment(name: string, peers: string[]): StreamAssignment {
  const config = checkStreamConfig({ name, num_replicas: peers.length }, { lookupStream: () => undefined, clustered: true });
  return makeStreamAssignment({ client: { acc: 'A' }, config, group: { name: `S-${name}`, peers, store: 'file' }, sync: '' });
}

test('sorting: most free space, then fewest streams; replicated streams balance HA assets first', () => {
  const peers = [peer('a', { usedStore: 1 * GB }), peer('b', { usedStore: 2 * GB }), peer('c'), peer('d')];
  // c and d tie on space (10 GB free); d holds fewer streams.
  const assignments = [assignment('X', ids('c')), assignment('Y', ids('c'))];
  for (let seed = 1; seed <= 10; seed++) {
    const got = expectPeers(selectPeerGroup(1, 'C1', cfg(1), ctx(peers, { assignments }, seed)));
    assert.deepEqual(got, ids('d'));
    const two = expectPeers(selectPeerGroup(2, 'C1', cfg(1), ctx(peers, { assignments }, seed)));
    assert.deepEqual(two, ids('d', 'c'));
  }
  // R3: the fewest HA assets win over free space (a and b have none, c and d one each).
  const ha = [assignment('H', ids('c', 'd'))];
  for (let seed = 1; seed <= 10; seed++) {
    const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(peers, { assignments: ha }, seed)));
    assert.deepEqual(got.slice(0, 2), ids('a', 'b'));
  }
  // Unsupported assignments are not counted.
  const unsupported = { ...assignment('U', ids('d')), unsupported: 'newer config' };
  assert.deepEqual(expectPeers(selectPeerGroup(1, 'C1', cfg(1), ctx([peers[2]!, peers[3]!], { assignments: [unsupported, assignment('Z', ids('c'))] }))), ids('d'));
});

test('existing peers are kept in front; enough existing returns them as is', () => {
  const peers = ['a', 'b', 'c', 'd'].map((n) => peer(n));
  assert.deepEqual(expectPeers(selectPeerGroup(2, 'C1', cfg(2), ctx(peers), ids('c', 'd', 'a'))), ids('c', 'd'));
  const got = expectPeers(selectPeerGroup(3, 'C1', cfg(3), ctx(peers), ids('c', 'd'), 0, ids('a')));
  assert.deepEqual(got, ids('c', 'd', 'b'), 'ignored peer a never chosen');
});

test('group names, sync subjects and preferred leaders', () => {
  const r = rng(3);
  const g = groupName('S', 3, 'file', r);
  assert.match(g, /^S-R3F-[0-9A-Za-z]{8}$/);
  assert.match(groupName('C', 1, 'memory', r), /^C-R1M-[0-9A-Za-z]{8}$/);
  assert.notEqual(groupName('S', 3, 'file', r), g);
  assert.equal(groupName('S', 3, 'file', rng(3)), g, 'deterministic for a seed');
  assert.match(syncSubject(r), /^\$JSC\.SYNC\.[0-9A-Za-z]{8}$/);
  assert.equal(peerIdForServerName('n1'), 'fjFyEjc1');

  const online = new Set(['p2', 'p3']);
  const isOnline = (p: string): boolean => online.has(p);
  assert.equal(choosePreferred(['solo'], () => false, r), 'solo');
  assert.equal(choosePreferred([], isOnline, r), undefined);
  const picks = new Set<string>();
  for (let i = 0; i < 50; i++) picks.add(choosePreferred(['p1', 'p2', 'p3'], isOnline, r)!);
  assert.deepEqual([...picks].sort(), ['p2', 'p3'], 'only online peers');
  assert.ok(['p1', 'p2'].includes(choosePreferred(['p1', 'p2'], () => false, r)!), 'none online: any');

  const peers = ['a', 'b', 'c'].map((n) => peer(n, { offline: n === 'a' }));
  for (let seed = 1; seed <= 20; seed++) {
    const res = createGroupForStream({ cluster: 'C1' }, cfg(3, { storage: 'memory' }), ctx(peers, {}, seed));
    assert.ok(res.ok);
    if (!res.ok) continue;
    assert.match(res.group.name, /^S-R3M-/);
    assert.equal(res.group.store, 'memory');
    assert.equal(res.group.cluster, 'C1');
    assert.notEqual(res.group.preferred, peerIdForServerName('a'), 'preferred leader is online');
    assert.ok(res.group.peers.includes(res.group.preferred!));
  }
});

test('consumer groups (nats-server 2.9.10): stream peers or a subset, a random preferred leader, ephemerals R1 on limits streams, 10023', () => {
  const peers = ['a', 'b', 'c'].map((n) => peer(n));
  const stream = (retention = 'limits') => ({ group: { peers: ids('a', 'b', 'c'), cluster: 'C1' }, config: { retention, storage: 'file' as const } });
  const durable = (extra: Record<string, unknown> = {}) => decodeConsumerConfig({ durable_name: 'D', ...extra });
  const ephemeral = (extra: Record<string, unknown> = {}) => decodeConsumerConfig({ ...extra });
  const all = createGroupForConsumer(durable(), stream(), ctx(peers));
  assert.ok(all.ok);
  if (all.ok) {
    assert.deepEqual(all.group.peers, ids('a', 'b', 'c'), 'R0 takes the stream replicas');
    assert.match(all.group.name, /^C-R3F-/);
    assert.equal(all.group.cluster, 'C1');
    assert.ok(all.group.peers.includes(all.group.preferred!));
  }
  // The preferred leader is any of the peers, not always the same one (the stream leader, say).
  const preferred = new Set<string>();
  for (let seed = 1; seed <= 30; seed++) {
    const r = createGroupForConsumer(durable(), stream(), ctx(peers, {}, seed));
    if (r.ok) preferred.add(r.group.preferred!);
  }
  assert.deepEqual([...preferred].sort(), ids('a', 'b', 'c').sort());
  const mem = createGroupForConsumer(durable({ mem_storage: true, num_replicas: 1 }), stream(), ctx(peers));
  assert.ok(mem.ok && /^C-R1M-/.test(mem.group.name) && mem.group.store === 'memory' && mem.group.peers.length === 1);
  assert.ok(mem.ok && mem.group.preferred === mem.group.peers[0]);
  // Ephemerals: R1 on the preferred peer on a limits stream (also when R1 is asked for), the
  // stream's replicas on interest and workqueue streams, as many as asked for otherwise.
  for (const [cfg, retention, size] of [[ephemeral(), 'limits', 1], [ephemeral({ num_replicas: 1 }), 'limits', 1],
    [ephemeral({ num_replicas: 2 }), 'limits', 2], [ephemeral(), 'interest', 3], [ephemeral(), 'workqueue', 3]] as const) {
    const r = createGroupForConsumer(cfg, stream(retention), ctx(peers));
    assert.ok(r.ok);
    if (r.ok) {
      assert.equal(r.group.peers.length, size, `${retention} ${JSON.stringify(cfg.num_replicas)}`);
      assert.match(r.group.name, new RegExp(`^C-R${size}F-`));
      assert.ok(r.group.peers.includes(r.group.preferred!));
    }
  }
  // A subset and the preferred leader come from online peers while there are enough.
  const oneUp = [peer('a', { offline: true }), peer('b', { offline: true }), peer('c')];
  for (let seed = 1; seed <= 10; seed++) {
    const r1 = createGroupForConsumer(durable({ num_replicas: 1 }), stream(), ctx(oneUp, {}, seed));
    assert.ok(r1.ok && r1.group.peers[0] === peerIdForServerName('c'));
    const r3 = createGroupForConsumer(durable(), stream(), ctx(oneUp, {}, seed));
    assert.ok(r3.ok && r3.group.preferred === peerIdForServerName('c'));
  }
  // Offline peers refuse nothing (2.9.10 assigns, and answers once the group has a leader); too few
  // online for a subset: drawn from all.
  const noneUp = ['a', 'b', 'c'].map((n) => peer(n, { offline: true }));
  const r3 = createGroupForConsumer(durable(), stream(), ctx(noneUp));
  assert.ok(r3.ok && r3.group.peers.length === 3);
  const r2 = createGroupForConsumer(durable({ num_replicas: 2 }), stream(), ctx(oneUp));
  assert.ok(r2.ok && r2.group.peers.length === 2);
  // More replicas than the stream group has, or no peers at all.
  for (const r of [createGroupForConsumer(durable({ num_replicas: 5 }), stream(), ctx(peers)),
    createGroupForConsumer(durable(), { ...stream(), group: { peers: [] } }, ctx(peers))]) {
    assert.deepEqual(!r.ok && r.error.toJSON(), { code: 503, err_code: 10023, description: 'insufficient resources' });
  }
});

test('stepdown placement: preferred server by name, else a random online non-leader matching cluster and tags', () => {
  const peers = [peer('a', { tags: ['x'] }), peer('b', { tags: ['x', 'y'] }), peer('c', { cluster: 'C2', tags: ['x'] }), peer('d', { offline: true, tags: ['x'] })];
  const group = peers.map((p) => p.id);
  const leader = peerIdForServerName('a');
  const r = rng(5);
  assert.deepEqual(stepDownPreferredPeer(group, leader, undefined, peers, r), { ok: true, preferred: '' });
  assert.deepEqual(stepDownPreferredPeer(group, leader, { preferred: 'b' }, peers, r), { ok: true, preferred: peerIdForServerName('b') });
  const self = stepDownPreferredPeer(group, leader, { preferred: 'a' }, peers, r);
  assert.deepEqual(!self.ok && self.error.toJSON(), { code: 400, err_code: 10005, description: 'preferred server "a" is already leader' });
  const unknown = stepDownPreferredPeer(group, leader, { preferred: 'zz' }, peers, r);
  assert.deepEqual(!unknown.ok && unknown.error.toJSON(), { code: 400, err_code: 10005, description: 'preferred server "zz" not known' });
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const c = stepDownPreferredPeer(group, leader, { tags: ['x'] }, peers, r);
    assert.ok(c.ok);
    if (c.ok) seen.add(c.preferred);
  }
  assert.deepEqual([...seen].sort(), ids('b', 'c').sort(), 'online, not the leader, tag x');
  assert.deepEqual(stepDownPreferredPeer(group, leader, { cluster: 'C2' }, peers, r), { ok: true, preferred: peerIdForServerName('c') });
  const none = stepDownPreferredPeer(group, leader, { cluster: 'C1', tags: ['y', 'z'] }, peers, r);
  assert.deepEqual(!none.ok && none.error.toJSON(), { code: 400, err_code: 10005, description: 'no replacement peer connected' });
});
