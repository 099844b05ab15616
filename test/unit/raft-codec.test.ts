// NRG encodings against bytes captured from nats-server 2.9.10
// (test/fixtures/vectors/nrg/*.json) and the encoding cases of nats-server's
// server/raft_test.go (TestNRGAppendEntryEncode, ...Decode, ...).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeAppendEntry,
  decodeAppendEntryResponse,
  decodePeerState,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodeAppendEntryResponse,
  encodePeerState,
  encodeVoteRequest,
  encodeVoteResponse,
  readU64,
  WireEntry,
  writeU64,
} from '../../src/raft/codec.js';
import { peerIdForServerName, groupName } from '../../src/raft/subjects.js';
import { type AppendEntry, EntryType, makeAppendEntry, RaftError } from '../../src/raft/types.js';
import { readVectorJson, vectorFiles } from '../helpers/vectors.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

interface Vector {
  name: string;
  kind: string;
  payload: Buffer;
  decoded: Record<string, unknown>;
}

function loadVectors(): Vector[] {
  return vectorFiles('nrg')
    .filter((f) => f !== 'groups_and_ids.json')
    .map((f) => {
      const d = readVectorJson<{
        payload_hex: string;
        decoded: Record<string, unknown> & { kind: string };
      }>('nrg', f);
      return { name: f, kind: d.decoded.kind, payload: hex(d.payload_hex), decoded: d.decoded };
    });
}

function roundTrip(kind: string, payload: Buffer): Uint8Array {
  switch (kind) {
    case 'vote_request': {
      const vr = decodeVoteRequest(payload);
      assert.ok(vr);
      return encodeVoteRequest(vr);
    }
    case 'vote_response': {
      const vr = decodeVoteResponse(payload);
      assert.ok(vr);
      return encodeVoteResponse(vr);
    }
    case 'append_entry_response': {
      const ar = decodeAppendEntryResponse(payload);
      assert.ok(ar);
      return encodeAppendEntryResponse(ar);
    }
    case 'append_entry':
    case 'append_entry_heartbeat': {
      const ae = decodeAppendEntry(payload);
      assert.ok(!(ae instanceof RaftError));
      // Re-encode from the decoded fields, not the cached buffer.
      return encodeAppendEntry({ ...ae, buf: undefined });
    }
    default:
      throw new Error(`unknown vector kind ${kind}`);
  }
}

test('every captured NRG payload decodes to the recorded fields and re-encodes byte for byte', () => {
  const vs = loadVectors();
  assert.ok(vs.length >= 25, `expected the captured vectors, found ${vs.length}`);
  for (const v of vs) {
    assert.deepEqual(Buffer.from(roundTrip(v.kind, v.payload)), v.payload, v.name);
    const d = v.decoded;
    switch (v.kind) {
      case 'vote_request': {
        const vr = decodeVoteRequest(v.payload)!;
        assert.equal(String(vr.term), d.term);
        assert.equal(String(vr.lastTerm), d.lastTerm);
        assert.equal(String(vr.lastIndex), d.lastIndex);
        assert.equal(vr.candidate, d.candidate);
        break;
      }
      case 'vote_response': {
        const vr = decodeVoteResponse(v.payload)!;
        assert.equal(String(vr.term), d.term, v.name);
        assert.equal(vr.peer, d.voter);
        assert.equal(vr.granted ? 1 : 0, d.granted_byte);
        break;
      }
      case 'append_entry_response': {
        const ar = decodeAppendEntryResponse(v.payload)!;
        assert.equal(String(ar.term), d.term);
        assert.equal(String(ar.index), d.index);
        assert.equal(ar.peer, d.follower);
        assert.equal(ar.success ? 1 : 0, d.success);
        break;
      }
      default: {
        const ae = decodeAppendEntry(v.payload) as AppendEntry;
        assert.equal(ae.leader, d.leader);
        assert.equal(String(ae.term), d.term);
        assert.equal(String(ae.commit), d.commit);
        assert.equal(String(ae.pterm), d.pterm);
        assert.equal(String(ae.pindex), d.pindex);
        assert.equal(ae.lterm, 0, '2.9.10 never sends the lterm trailer');
        const want = d.entries as { type: number; data_hex: string; peerState?: { clusterSize: number; peers: string[]; domainExt: number }; peer?: string }[];
        assert.equal(ae.entries.length, want.length, v.name);
        for (let i = 0; i < want.length; i++) {
          assert.equal(ae.entries[i].type, want[i].type);
          assert.equal(Buffer.from(ae.entries[i].data).toString('hex'), want[i].data_hex);
          if (want[i].peerState) {
            const ps = decodePeerState(ae.entries[i].data);
            assert.ok(!(ps instanceof RaftError));
            assert.equal(ps.clusterSize, want[i].peerState!.clusterSize);
            assert.deepEqual(ps.knownPeers, want[i].peerState!.peers);
            assert.equal(ps.domainExt, want[i].peerState!.domainExt);
            assert.deepEqual(Buffer.from(encodePeerState(ps)), Buffer.from(ae.entries[i].data));
          }
          if (want[i].peer) assert.equal(Buffer.from(ae.entries[i].data).toString('latin1'), want[i].peer);
        }
      }
    }
  }
});

test('peer ids are the 8-char base62 SHA-256 hash of the server name (captured n1/n2/n3)', () => {
  assert.equal(peerIdForServerName('n1'), 'fjFyEjc1');
  assert.equal(peerIdForServerName('n2'), '44jzkV9D');
  assert.equal(peerIdForServerName('n3'), 'BXScrY9i');
  assert.match(groupName('S', 3, 'F', 'abc'), /^S-R3F-[0-9A-Za-z]{8}$/);
});

test('AppendEntryEncode: leader must be empty or 8 bytes; 65535 entries max', () => {
  const ae: AppendEntry = makeAppendEntry('foo_bar_baz', 1, 0, 0, 0, []);
  assert.throws(() => encodeAppendEntry(ae), (e: unknown) => e instanceof RaftError && e.code === 'leader_len');
  ae.leader = '';
  const empty = encodeAppendEntry(ae);
  assert.equal(empty.length, 42);
  assert.deepEqual(Buffer.from(empty.subarray(0, 8)), Buffer.alloc(8));
  assert.equal((decodeAppendEntry(empty) as AppendEntry).leader, '');
  ae.leader = 'DEREK123';
  assert.equal(encodeAppendEntry(ae).length, 42);
  for (let i = 0; i < 0x10000; i++) ae.entries.push({ type: EntryType.Normal, data: new Uint8Array(0) });
  assert.throws(() => encodeAppendEntry(ae), (e: unknown) => e instanceof RaftError && e.code === 'too_many_entries');
});

test('AppendEntryDecode: truncated buffers fail, header corruption decodes, entry-size corruption fails', () => {
  const ae: AppendEntry = makeAppendEntry('12345678', 1, 0, 0, 0, []);
  for (let i = 0; i < 0xffff; i++) ae.entries.push({ type: EntryType.Normal, data: new Uint8Array(0) });
  const buf = Buffer.from(encodeAppendEntry(ae));
  assert.ok(decodeAppendEntry(buf.subarray(0, buf.length - 1)) instanceof RaftError);
  assert.ok(decodeAppendEntry(buf.subarray(0, 41)) instanceof RaftError);
  for (let i = 0; i < 42; i++) {
    const c = Buffer.from(buf);
    c[i] = 0xff - c[i];
    // Flipping one of the top two bytes of a u64 leaves the safe integer
    // range (rejected); any other header byte still decodes.
    const r = decodeAppendEntry(c);
    const unsafe = i >= 8 && i < 40 && i % 8 >= 6;
    assert.equal(r instanceof RaftError, unsafe, `header byte ${i}`);
  }
  const c = Buffer.from(buf);
  c[42] = 0xff;
  c[43] = 0xff;
  c[44] = 0xff;
  c[45] = 0x7f;
  assert.ok(decodeAppendEntry(c) instanceof RaftError);
});

test('AppendEntryDecodeTruncatedEntryLength: 2 of 4 length bytes is an error, not a crash', () => {
  const b = Buffer.from(encodeAppendEntry(makeAppendEntry('abcdefgh', 1, 0, 0, 0, [{ type: 0, data: Buffer.from('x') }])));
  assert.ok(decodeAppendEntry(b.subarray(0, 44)) instanceof RaftError);
});

test('lterm trailer: written only when set, decoded when present, ignored by old layout', () => {
  const base: AppendEntry = makeAppendEntry('abcdefgh', 3, 2, 3, 7, [{ type: 0, data: Buffer.from('hi') }]);
  const plain = encodeAppendEntry(base);
  const withL = encodeAppendEntry({ ...base, lterm: 300 });
  assert.equal(withL.length, plain.length + 2);
  assert.deepEqual(Buffer.from(withL.subarray(0, plain.length)), Buffer.from(plain));
  assert.equal((decodeAppendEntry(withL) as AppendEntry).lterm, 300);
  assert.equal((decodeAppendEntry(plain) as AppendEntry).lterm, 0);
});

test('PeerStateDecodeTruncated: round trip; claimed peer with partial id is corrupt', () => {
  const ps = { knownPeers: ['aaaaaaaa', 'bbbbbbbb'], clusterSize: 2, domainExt: 0 };
  const enc = encodePeerState(ps);
  assert.deepEqual(decodePeerState(enc), ps);
  const bad = Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 0x61, 0x62, 0x63]);
  const r = decodePeerState(bad);
  assert.ok(r instanceof RaftError && r.code === 'corrupt_peers');
  assert.ok(decodePeerState(Buffer.alloc(3)) instanceof RaftError);
});

test('VoteResponseEncoding: flag byte 0..3 for granted/empty (4: live leader) and back', () => {
  const cases = [
    { granted: false, empty: false, b: 0 },
    { granted: true, empty: false, b: 1 },
    { granted: false, empty: true, b: 2 },
    { granted: true, empty: true, b: 3 },
  ];
  for (const c of cases) {
    const vr = { term: 1, peer: 'S1Nunr6R', granted: c.granted, empty: c.empty };
    const enc = encodeVoteResponse(vr);
    assert.equal(enc[16], c.b);
    assert.deepEqual(decodeVoteResponse(enc), vr);
  }
  // Bit 4: a pre-vote refused for a live leader (only in answers to our own probes).
  const live = { term: 1, peer: 'S1Nunr6R', granted: false, empty: true, liveLeader: true };
  const enc = encodeVoteResponse(live);
  assert.equal(enc[16], 6);
  assert.deepEqual(decodeVoteResponse(enc), live);
});

test('messages of the wrong length are rejected (MalformedAppendEntryResponse)', () => {
  assert.equal(decodeAppendEntryResponse(Buffer.alloc(24)), null);
  assert.equal(decodeAppendEntryResponse(Buffer.alloc(26)), null);
  assert.equal(decodeVoteRequest(Buffer.alloc(31)), null);
  assert.equal(decodeVoteResponse(Buffer.alloc(18)), null);
});

test('u64 helpers cover the safe integer range and reject larger values', () => {
  const b = Buffer.alloc(8);
  for (const v of [0, 1, 255, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
    writeU64(b, 0, v);
    assert.equal(b.readBigUInt64LE(0), BigInt(v));
    assert.equal(readU64(b, 0), v);
  }
  b.writeBigUInt64LE(2n ** 63n);
  assert.equal(readU64(b, 0), -1);
});

test('decoded entries are WireEntry: src[start, end) holds the bytes, data is one view made when first read', () => {
  const sent = [Buffer.from('alpha'), Buffer.alloc(0), Buffer.from([7, 1, 2, 3])];
  const msg = Buffer.from(encodeAppendEntry(makeAppendEntry('abcdefgh', 3, 2, 3, 7, sent.map((data, i) => ({ type: i, data })))));
  const ae = decodeAppendEntry(msg) as AppendEntry;
  assert.equal(ae.entries.length, sent.length);
  ae.entries.forEach((e, i) => {
    assert.ok(e instanceof WireEntry);
    assert.equal(e.type, i);
    assert.equal(e.src, msg);
    assert.deepEqual(msg.subarray(e.start, e.end), sent[i]);
    const view = e.data;
    assert.deepEqual(Buffer.from(view), sent[i]);
    assert.equal(view.buffer, msg.buffer, 'a view, not a copy');
    assert.equal(e.data, view, 'the view is made once');
  });
  // Re-encoding decoded entries (catch-up sends stored AEs again) gives the same bytes.
  assert.deepEqual(Buffer.from(encodeAppendEntry(ae)), msg);
});

test('encodeAppendEntry copies WireEntry ranges (small ones byte by byte) as it copies plain entries', () => {
  const slab = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
  const ranges: [number, number][] = [[0, 0], [3, 4], [10, 57], [57, 58], [100, 147], [147, 300]];
  const wire = ranges.map(([s, e]) => new WireEntry(EntryType.Normal, slab, s, e));
  const plain = ranges.map(([s, e]) => ({ type: EntryType.Normal, data: Buffer.from(slab.subarray(s, e)) }));
  const a = encodeAppendEntry(makeAppendEntry('abcdefgh', 4, 3, 4, 9, wire));
  const b = encodeAppendEntry(makeAppendEntry('abcdefgh', 4, 3, 4, 9, plain));
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
  const back = decodeAppendEntry(a) as AppendEntry;
  assert.deepEqual(back.entries.map((e) => Buffer.from(e.data)), plain.map((e) => e.data));
});
