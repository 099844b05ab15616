// Cluster advisories, cluster info and stepdown replies, byte for byte against nats-server
// 2.9.10 captures (ids, timestamps and `active` values taken from the captures; `active` is
// read from the raw text because some captured values exceed 2^53).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClusterAdvisoryType, QuorumLostThrottle, advisoryCopies, advisoryReplicas, clusterInfo, clusterInfoJson,
  clusterInfoR1, consumerLeaderElected, consumerQuorumLost, consumerStepdownResponse, quorumLostApplies,
  serverOutOfSpace, serverRemoved, streamLeaderElected, streamQuorumLost, streamStepdownResponse, type PeerInfo,
} from '../../src/jetstream/cluster/advisories.js';
import { parseRfc3339 } from '../../src/jetstream/consumer/go-format.js';
import { jsErr } from '../../src/jetstream/api/errors.js';
import { loadVector } from './jsc-vectors.js';

const NAMES: Record<string, string> = { fjFyEjc1: 'n1', '44jzkV9D': 'n2', BXScrY9i: 'n3' };
const ID_OF: Record<string, string> = { n1: 'fjFyEjc1', n2: '44jzkV9D', n3: 'BXScrY9i' };

function payloadOf(v: { raw_text: string }): string {
  const t = v.raw_text;
  return t.slice(t.indexOf('\r\n') + 2, t.length - 2);
}

/** Replicas as captured, with exact `active` values from the text. */
function replicasOf(payload: string): PeerInfo[] {
  const out: PeerInfo[] = [];
  const re = /\{"name":"([^"]+)","current":(true|false)(,"offline":true)?,"active":(-?\d+)(?:,"lag":(\d+))?,"peer":"([^"]+)"\}/g;
  for (let m = re.exec(payload); m; m = re.exec(payload)) {
    out.push({ name: m[1]!, current: m[2] === 'true', offline: !!m[3], active: BigInt(m[4]!), lag: m[5] ? Number(m[5]) : 0, peer: m[6]! });
  }
  return out;
}

function meta(v: { json: { id: string; timestamp: string } }): { id: string; timestampNs: bigint } {
  return { id: v.json.id, timestampNs: parseRfc3339(v.json.timestamp)!.ns };
}

for (const [name, account] of [['adv_stream_leader_elected_app', undefined], ['adv_stream_leader_elected_sys', 'APP'],
  ['adv_stream_leader_elected_after_stepdown_app', undefined]] as const) {
  test(`STREAM.LEADER_ELECTED: ${name} byte for byte`, () => {
    const v = loadVector('jsapi', name);
    const payload = payloadOf(v);
    const replicas = replicasOf(payload);
    assert.equal(replicas.length, 3);
    const adv = streamLeaderElected('T3', v.json.leader, replicas, { ...meta(v), account });
    assert.equal(adv.subject, v.subject);
    assert.equal(adv.payload, payload);
  });
}

for (const [name, account] of [['adv_consumer_leader_elected_app', undefined], ['adv_consumer_leader_elected_sys', 'APP']] as const) {
  test(`CONSUMER.LEADER_ELECTED: ${name} byte for byte`, () => {
    const v = loadVector('jsapi', name);
    const payload = payloadOf(v);
    const adv = consumerLeaderElected('T3', 'D1', 'n3', replicasOf(payload), { ...meta(v), account });
    assert.equal(adv.subject, '$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.T3.D1');
    assert.equal(adv.payload, payload);
  });
}

test('advisory copies: owner account without "account", system copy with it, same id and time', () => {
  const v = loadVector('jsapi', 'adv_stream_leader_elected_app');
  const sys = loadVector('jsapi', 'adv_stream_leader_elected_sys');
  const replicas = replicasOf(payloadOf(v));
  const c = advisoryCopies((m) => streamLeaderElected('T3', 'n3', replicas, m), 'APP', false, meta(v));
  assert.equal(c.owner!.payload, payloadOf(v));
  assert.equal(c.system.payload, payloadOf(sys));
  // Owned by the system account: only the system copy.
  const s = advisoryCopies((m) => streamLeaderElected('T3', 'n3', replicas, m), 'SYS', true);
  assert.equal(s.owner, undefined);
  assert.match(s.system.payload, /^\{"type":"io\.nats\.jetstream\.advisory\.v1\.stream_leader_elected","id":"[0-9A-Za-z]{22}","timestamp":"\d{4}-[^"]+Z","account":"SYS",/);
});

test('quorum lost, server removed: key order of nats-server\'s structs, domain last', () => {
  const r: PeerInfo[] = [{ name: 'n1', current: false, offline: true, active: 12, peer: 'fjFyEjc1' }];
  const m = { id: 'ID', timestampNs: 1_000_000_000_500n };
  assert.equal(streamQuorumLost('T3', r, { ...m, account: 'APP', domain: 'hub' }).payload,
    '{"type":"io.nats.jetstream.advisory.v1.stream_quorum_lost","id":"ID","timestamp":"1970-01-01T00:16:40.0000005Z",' +
    '"account":"APP","stream":"T3","replicas":[{"name":"n1","current":false,"offline":true,"active":12,"peer":"fjFyEjc1"}],"domain":"hub"}');
  const cq = consumerQuorumLost('T3', 'D1', r, m);
  assert.equal(cq.subject, '$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.T3.D1');
  assert.equal(JSON.parse(cq.payload).type, ClusterAdvisoryType.consumerQuorumLost);
  assert.deepEqual(Object.keys(JSON.parse(cq.payload)), ['type', 'id', 'timestamp', 'stream', 'consumer', 'replicas']);
  const sr = serverRemoved('n2', 'NBXYZ', 'C1', m);
  assert.equal(sr.subject, '$JS.EVENT.ADVISORY.SERVER.REMOVED');
  assert.equal(sr.payload, '{"type":"io.nats.jetstream.advisory.v1.server_removed","id":"ID","timestamp":"1970-01-01T00:16:40.0000005Z","server":"n2","server_id":"NBXYZ","cluster":"C1"}');
  const oos = serverOutOfSpace('n2', 'NBXYZ', 'C1', '', { ...m, domain: 'hub' });
  assert.equal(oos.subject, '$JS.EVENT.ADVISORY.SERVER.OUT_OF_STORAGE');
  assert.equal(oos.payload, '{"type":"io.nats.jetstream.advisory.v1.server_out_of_space","id":"ID","timestamp":"1970-01-01T00:16:40.0000005Z","server":"n2","server_id":"NBXYZ","cluster":"C1","domain":"hub"}');
  assert.deepEqual(Object.keys(JSON.parse(serverOutOfSpace('n2', 'NBXYZ', 'C1', 'S', m).payload)), ['type', 'id', 'timestamp', 'server', 'server_id', 'stream', 'cluster']);
  // Go's HTML-safe escaping in names.
  assert.match(streamQuorumLost('a<b', [], m).payload, /"stream":"a\\u003cb","replicas":\[\]/);
});

test('quorum-lost throttle: at most one per 10 s; only without quorum and after 5 s', () => {
  const t = new QuorumLostThrottle();
  assert.equal(t.shouldSend(1000), true);
  assert.equal(t.shouldSend(1001), false);
  assert.equal(t.shouldSend(10_999), false);
  assert.equal(t.shouldSend(11_000), true);
  assert.equal(t.shouldSend(15_000), false);
  assert.equal(quorumLostApplies(false, 0, 5_001), true);
  assert.equal(quorumLostApplies(false, 0, 5_000), false);
  assert.equal(quorumLostApplies(true, 0, 60_000), false);
});

function clusterFromVector(name: string): string {
  const text: string = loadVector('jsapi', name).response.payload_text;
  const i = text.indexOf('"cluster":');
  // The cluster object is the last member of these responses (or followed by did_create).
  let depth = 0;
  for (let k = i + 10; k < text.length; k++) {
    if (text[k] === '{') depth++;
    else if (text[k] === '}' && --depth === 0) return text.slice(i + 10, k + 1);
  }
  throw new Error('no cluster object');
}

for (const name of ['js_stream_info', 'js_stream_create_r3', 'js_consumer_create_durable_pull']) {
  test(`cluster info: ${name} (leader n3 answering, replicas exclude it)`, () => {
    const want = clusterFromVector(name);
    const captured = replicasOf(want);
    const nowNs = 1_000_000_000_000_000_000n;
    // Raft peers as n3 sees them, n3 first; "active" is now - last contact.
    const peers = [{ id: 'BXScrY9i', current: true, lastNs: nowNs }, ...captured.map((p) => ({
      id: p.peer, current: p.current, lastNs: p.active === 0n ? 0n : nowNs - (p.active as bigint),
    }))];
    const ci = clusterInfo({
      cluster: 'C1', leader: 'n3', selfId: 'BXScrY9i', groupPeers: ['fjFyEjc1', '44jzkV9D', 'BXScrY9i'], peers,
      lookup: (id) => (NAMES[id] ? { name: NAMES[id]!, offline: false } : undefined), nowNs,
    });
    assert.equal(clusterInfoJson(ci), want);
  });
}

test('cluster info: unknown peers, stale peers, leaderless groups, R1', () => {
  const nowNs = 100_000_000_000n;
  const base = {
    cluster: 'C1', selfId: 'AAAAAAAA', groupPeers: ['AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC'], nowNs,
    lookup: (id: string) => (id === 'BBBBBBBB' ? { name: 'b', offline: true } : id === 'AAAAAAAA' ? { name: 'a', offline: false } : undefined),
    peers: [
      { id: 'AAAAAAAA', current: true, lastNs: nowNs },
      { id: 'BBBBBBBB', current: true, lastNs: nowNs - 11_000_000_000n, lag: 4 },
      { id: 'CCCCCCCC', current: false, lag: 9 },
      { id: 'DDDDDDDD', current: true, lastNs: nowNs }, // not in the assignment
    ],
  };
  assert.equal(clusterInfoJson(clusterInfo({ ...base, leader: 'a', raftGroup: 'S-R3F-x' })),
    '{"name":"C1","raft_group":"S-R3F-x","leader":"a","replicas":[' +
    '{"name":"b","current":false,"offline":true,"active":11000000000,"lag":4,"peer":"BBBBBBBB"},' +
    '{"name":"Server name unknown at this time (peerID: CCCCCCCC)","current":false,"offline":true,"active":0,"peer":"CCCCCCCC"}]}');
  // Leaderless: this server is listed too, and there is no leader field.
  const nl = clusterInfo({ ...base, leader: '' });
  assert.equal(nl.leader, undefined);
  assert.deepEqual(nl.replicas!.map((r) => r.peer), ['AAAAAAAA', 'BBBBBBBB', 'CCCCCCCC']);
  assert.equal(clusterInfoJson(clusterInfoR1('C1', 'n1')), '{"name":"C1","leader":"n1"}');
  // Advisory replicas: everyone the server can name, leader included, active not clamped.
  const ar = advisoryReplicas(base.peers, base.lookup, nowNs);
  assert.deepEqual(ar.map((r) => [r.name, r.active]), [['a', 0n], ['b', 11_000_000_000n]]);
});

test('stepdown responses as captured; error form', () => {
  assert.equal(streamStepdownResponse(), loadVector('jsapi', 'js_stream_leader_stepdown').response.payload_text);
  assert.equal(consumerStepdownResponse(), loadVector('jsapi', 'js_consumer_leader_stepdown').response.payload_text);
  assert.equal(streamStepdownResponse(jsErr('ClusterNotAvail').toJSON()),
    '{"type":"io.nats.jetstream.api.v1.stream_leader_stepdown_response","error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}');
});
