// Stream group entries: op 4 byte-for-byte against nats-server 2.9.10 captures (decoded from
// the AE payload with our raft codec, then re-encoded), flags, op 14 compression, skip entries,
// purge / delete / delete-range JSON, and hostile input that must throw StreamEntryError only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAppendEntry } from '../../src/raft/codec.js';
import { RaftError } from '../../src/raft/types.js';
import {
  COMPRESS_THRESHOLD, StreamEntryError, decodeDeleteRange, decodeMsgDelete, decodePurge, decodeStreamGroupEntry,
  decodeStreamMsg, decodeStreamMsgAt, encodeDeleteRange, encodeMsgDelete, encodePurge, encodeSkipEntry, encodeStreamMsg, isSkipEntry,
  isSourced,
} from '../../src/jetstream/cluster/stream-entry.js';
import { EntryOp } from '../../src/jetstream/cluster/ops.js';
import { loadVector } from './jsc-vectors.js';
import { seededRandom as rng } from '../helpers/wait.js';

const VECTORS = [
  'ae_stream_msg_plain', 'ae_stream_msg_with_msgid_header', 'ae_stream_msg_duplicate_msgid_still_proposed',
  'ae_stream_msg_wrong_expected_last_seq_still_proposed',
];

function entryOf(name: string): { data: Buffer; decoded: any } {
  const v = loadVector('nrg', name);
  const ae = decodeAppendEntry(Buffer.from(v.payload_hex, 'hex'));
  assert.ok(!(ae instanceof RaftError));
  assert.equal(ae.entries.length, 1);
  assert.equal(ae.entries[0]!.type, 0);
  const data = Buffer.from(ae.entries[0]!.data);
  assert.equal(data.toString('hex'), v.decoded.entries[0].data_hex);
  return { data, decoded: v.decoded.entries[0].op.msg };
}

for (const name of VECTORS) {
  test(`stream entry ${name}: decode matches the capture and re-encodes to the same bytes`, () => {
    const { data, decoded } = entryOf(name);
    const m = decodeStreamMsg(data);
    assert.equal(m.compressed, false);
    assert.equal(m.lseq, Number(decoded.lseq));
    assert.equal(m.ts, BigInt(decoded.ts));
    assert.equal(m.subject, decoded.subject);
    assert.equal(m.reply, decoded.reply);
    assert.equal(m.hdr ? m.hdr.toString('latin1') : '', decoded.hdr);
    assert.equal(m.msg ? m.msg.toString('latin1') : '', decoded.msg);
    assert.equal(m.flags, undefined, '2.9.10 writes no flags');
    assert.equal(isSourced(m), false);
    const again = encodeStreamMsg(m);
    assert.deepEqual(again, data);
  });
}

test('stream entry: plain vector has a null header, lseq 0 and a timestamp beyond 2^53 kept exactly', () => {
  const m = decodeStreamMsg(entryOf('ae_stream_msg_plain').data);
  assert.equal(m.hdr, null);
  assert.equal(m.lseq, 0);
  assert.equal(m.ts, 1795738563295351080n);
  assert.ok(m.ts > BigInt(Number.MAX_SAFE_INTEGER));
});

test('stream entry: flags uvarint is written when given and read back; sourced bit', () => {
  const base = { lseq: 7, ts: 123n, subject: 'a.b', reply: '', hdr: null, msg: Buffer.from('x') };
  const plain = encodeStreamMsg(base);
  const withFlags = encodeStreamMsg({ ...base, flags: 1 });
  assert.equal(withFlags.length, plain.length + 1);
  assert.equal(withFlags[withFlags.length - 1], 1);
  const d = decodeStreamMsg(withFlags);
  assert.equal(d.flags, 1);
  assert.equal(isSourced(d), true);
  const big = encodeStreamMsg({ ...base, flags: 300 });
  assert.equal(decodeStreamMsg(big).flags, 300);
  assert.equal(isSourced(decodeStreamMsg(big)), false);
  // Bytes after the flags varint are corruption.
  assert.throws(() => decodeStreamMsg(Buffer.concat([withFlags, Buffer.from([0])])), StreamEntryError);
  // An unterminated flags varint too.
  assert.throws(() => decodeStreamMsg(Buffer.concat([plain, Buffer.from([0x80])])), StreamEntryError);
});

test('stream entry: op 14 only above the threshold and only when smaller', () => {
  const mk = (n: number, fill: (i: number) => number) => {
    const msg = Buffer.alloc(n);
    for (let i = 0; i < n; i++) msg[i] = fill(i);
    return { lseq: 41, ts: 1795738563295351080n, subject: 'big', reply: '_INBOX.x', hdr: Buffer.from('NATS/1.0\r\nA: b\r\n\r\n'), msg };
  };
  const fixed = 3 + 8 + 18; // subject + reply + hdr
  // Exactly at the threshold: never compressed, even if very compressible.
  const at = mk(COMPRESS_THRESHOLD - fixed, () => 0x61);
  assert.equal(encodeStreamMsg(at)[0], EntryOp.streamMsgOp);
  // One byte over: compressed, and decodes to the same message.
  const over = mk(COMPRESS_THRESHOLD - fixed + 1, () => 0x61);
  const c = encodeStreamMsg(over);
  assert.equal(c[0], EntryOp.compressedStreamMsgOp);
  assert.ok(c.length < 1000);
  const d = decodeStreamMsg(c);
  assert.equal(d.compressed, true);
  assert.equal(d.lseq, 41);
  assert.equal(d.ts, over.ts);
  assert.deepEqual(d.msg, over.msg);
  assert.deepEqual(d.hdr, over.hdr);
  assert.equal(d.reply, '_INBOX.x');
  // Re-encoding the decoded message gives the same compressed entry (deterministic encoder).
  assert.deepEqual(encodeStreamMsg(d), c);
  // Incompressible data stays op 4.
  const r = rng(5);
  const noise = mk(20000, () => Math.floor(r() * 256));
  const n = encodeStreamMsg(noise);
  assert.equal(n[0], EntryOp.streamMsgOp);
  assert.deepEqual(decodeStreamMsg(n).msg, noise.msg);
  // Compression can be turned off.
  assert.equal(encodeStreamMsg(over, { allowCompress: false })[0], EntryOp.streamMsgOp);
  // 2.9.10's lower threshold is a parameter.
  assert.equal(encodeStreamMsg(mk(5000, () => 0x61), { threshold: 4096 })[0], EntryOp.compressedStreamMsgOp);
});

test('stream entry: the apply decode (withReply false) reads every field but the reply, plain and op 14', () => {
  for (const name of VECTORS) {
    const { data } = entryOf(name);
    const full = decodeStreamMsg(data);
    const g = decodeStreamGroupEntry(data, false);
    assert.ok(g.op === EntryOp.streamMsgOp);
    assert.deepEqual(g.msg, { ...full, reply: '' }, name);
  }
  const big = { lseq: 7, ts: 5n, subject: 'big', reply: '_INBOX.y', hdr: null, msg: Buffer.alloc(COMPRESS_THRESHOLD + 1, 0x62) };
  const c = encodeStreamMsg(big);
  assert.equal(c[0], EntryOp.compressedStreamMsgOp);
  const g = decodeStreamGroupEntry(c, false);
  assert.ok(g.op === EntryOp.compressedStreamMsgOp);
  assert.equal(g.msg.reply, '');
  assert.equal(g.msg.subject, 'big');
  assert.deepEqual(g.msg.msg, big.msg);
  // The default still decodes the reply (catch-up, tests, tools).
  const withReply = decodeStreamGroupEntry(c);
  assert.ok(withReply.op === EntryOp.compressedStreamMsgOp);
  assert.equal(withReply.msg.reply, '_INBOX.y');
});

test('stream entry: decodeStreamMsgAt reads an entry in place inside a larger buffer, bounded by its end', () => {
  const big = { lseq: 7, ts: 5n, subject: 'big', reply: '_INBOX.y', hdr: null, msg: Buffer.alloc(COMPRESS_THRESHOLD + 1, 0x62) };
  const entries = [...VECTORS.map((n) => entryOf(n).data), encodeStreamMsg(big), encodeStreamMsg({ ...big, msg: Buffer.from('x'), flags: 3 })];
  for (const data of entries) {
    // The entry between other bytes, as one entry of an append entry's payload. The bytes after it
    // look like a flags varint and more: they must be neither read as flags nor reported as extra.
    const buf = Buffer.concat([Buffer.from([0xaa, 0xbb, 0xcc]), data, Buffer.from([0x05, 0x01, 0x02])]);
    const at = decodeStreamMsgAt(buf, 3, 3 + data.length, undefined, false);
    assert.deepEqual(at, { ...decodeStreamMsg(data), reply: '' });
    assert.deepEqual(decodeStreamMsgAt(buf, 3, 3 + data.length), decodeStreamMsg(data));
    // Every cut of the entry reads as the same cut on its own (refused, or, for a cut before the
    // flags, the entry without them), though the buffer goes on.
    for (let n = 0; n < data.length; n++) {
      let alone: unknown;
      try {
        alone = decodeStreamMsg(data.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof StreamEntryError);
        assert.throws(() => decodeStreamMsgAt(buf, 3, 3 + n), StreamEntryError, `cut at ${n}`);
        continue;
      }
      assert.deepEqual(decodeStreamMsgAt(buf, 3, 3 + n), alone, `cut at ${n}`);
    }
  }
});

test('stream entry: skip entries', () => {
  const s = encodeSkipEntry(9);
  assert.equal(s.length, 27);
  const d = decodeStreamMsg(s);
  assert.equal(d.lseq, 9);
  assert.equal(isSkipEntry(d), true);
  assert.equal(isSkipEntry(decodeStreamMsg(entryOf('ae_stream_msg_plain').data)), false);
  // A message with an empty subject but a payload is not a skip.
  assert.equal(isSkipEntry({ lseq: 1, ts: 0n, subject: '', reply: '', hdr: null, msg: Buffer.from('x') }), false);
});

test('stream entry: encode refuses what it cannot represent instead of clipping', () => {
  const base = { lseq: 1, ts: 1n, subject: 's', reply: '', hdr: null, msg: null };
  assert.throws(() => encodeStreamMsg({ ...base, subject: 'x'.repeat(65536) }), StreamEntryError);
  assert.throws(() => encodeStreamMsg({ ...base, hdr: Buffer.alloc(65536) }), StreamEntryError);
  assert.throws(() => encodeStreamMsg({ ...base, lseq: -1 }), StreamEntryError);
  assert.throws(() => encodeStreamMsg({ ...base, lseq: 2 ** 53 }), StreamEntryError);
  assert.throws(() => encodeStreamMsg({ ...base, ts: 1n << 63n }), StreamEntryError);
  // Largest lengths that fit are fine; multi-byte UTF-8 subjects count bytes.
  const ok = encodeStreamMsg({ ...base, subject: 'é'.repeat(100) });
  assert.equal(decodeStreamMsg(ok).subject, 'é'.repeat(100));
});

test('stream entry: every truncation of a captured entry throws StreamEntryError', () => {
  for (const name of VECTORS) {
    const { data } = entryOf(name);
    for (let n = 0; n < data.length; n++) {
      assert.throws(() => decodeStreamMsg(data.subarray(0, n)), StreamEntryError, `${name} cut at ${n}`);
    }
  }
});

test('stream entry: length fields pointing past the end throw', () => {
  const { data } = entryOf('ae_stream_msg_with_msgid_header');
  const offsets = [17, 1 + 18 + 4, 1 + 18 + 4 + 2 + 16]; // subject len, reply len, hdr len
  for (const off of offsets) {
    const bad = Buffer.from(data);
    bad.writeUInt16LE(0xffff, off);
    assert.throws(() => decodeStreamMsg(bad), StreamEntryError);
  }
  const bad = Buffer.from(data);
  bad.writeUInt32LE(0xffffffff, data.length - 12); // msg len of "dedup-me"
  assert.throws(() => decodeStreamMsg(bad), StreamEntryError);
  // lseq above 2^53 cannot be represented.
  const big = Buffer.from(data);
  big.writeBigUInt64LE(1n << 60n, 1);
  assert.throws(() => decodeStreamMsg(big), (e: unknown) => e instanceof StreamEntryError && e.code === 'range');
});

test('stream entry: op 14 with a corrupt or oversized S2 body throws StreamEntryError', () => {
  assert.throws(() => decodeStreamMsg(Buffer.from([EntryOp.compressedStreamMsgOp, 0xff, 0xff, 0xff, 0xff, 0x0f, 0])), StreamEntryError);
  assert.throws(() => decodeStreamMsg(Buffer.from([EntryOp.compressedStreamMsgOp])), StreamEntryError);
  const big = encodeStreamMsg({ lseq: 1, ts: 1n, subject: 's', reply: '', hdr: null, msg: Buffer.alloc(100000, 0x41) });
  assert.equal(big[0], EntryOp.compressedStreamMsgOp);
  assert.throws(() => decodeStreamMsg(big, 1000), (e: unknown) => e instanceof StreamEntryError && e.code === 'compressed');
  assert.throws(() => decodeStreamMsg(Buffer.from([EntryOp.purgeStreamOp, 0x7b, 0x7d])), StreamEntryError);
});

test('stream entry: random mutations never throw anything but StreamEntryError', () => {
  const r = rng(42);
  const seeds = VECTORS.map((n) => entryOf(n).data);
  seeds.push(encodeStreamMsg({ lseq: 3, ts: 5n, subject: 'z', reply: '', hdr: null, msg: Buffer.alloc(9000, 0x42) }));
  for (let i = 0; i < 3000; i++) {
    const src = seeds[i % seeds.length]!;
    const b = Buffer.from(src);
    const flips = 1 + Math.floor(r() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    const cut = r() < 0.3 ? b.subarray(0, Math.floor(r() * b.length)) : b;
    try {
      const d = decodeStreamGroupEntry(cut);
      assert.ok(d.op >= 4);
    } catch (err) {
      assert.ok(err instanceof StreamEntryError, `unexpected ${(err as Error).name}: ${(err as Error).message}`);
    }
  }
});

test('purge entry (op 5): nats-server field names and order, optional client/request', () => {
  const e = encodePurge({ stream: 'T3', last_seq: 12, subject: '$JS.API.STREAM.PURGE.T3', reply: '_INBOX.1' });
  assert.equal(e[0], 5);
  assert.equal(e.toString('utf8', 1), '{"stream":"T3","last_seq":12,"subject":"$JS.API.STREAM.PURGE.T3","reply":"_INBOX.1"}\n');
  const full = encodePurge({
    client: { acc: 'APP', server: 'n1' }, stream: 'T3', last_seq: 12, subject: 's', reply: 'r',
    request: { filter: 'a.>', keep: 2 },
  });
  assert.equal(full.toString('utf8', 1),
    '{"client":{"acc":"APP","server":"n1"},"stream":"T3","last_seq":12,"subject":"s","reply":"r","request":{"filter":"a.\\u003e","keep":2}}\n');
  assert.deepEqual(decodePurge(full), {
    client: { acc: 'APP', server: 'n1' }, stream: 'T3', last_seq: 12, subject: 's', reply: 'r', request: { filter: 'a.>', keep: 2 },
  });
  // Go reads keys case-insensitively.
  assert.equal(decodePurge(Buffer.from('\x05{"Stream":"X","Last_Seq":3}', 'latin1')).last_seq, 3);
  assert.throws(() => decodePurge(Buffer.from('\x05{"stream":"X","last_seq":-1}', 'latin1')), StreamEntryError);
  assert.throws(() => decodePurge(Buffer.from('\x05[1]', 'latin1')), StreamEntryError);
  assert.throws(() => decodePurge(Buffer.from('\x05{', 'latin1')), StreamEntryError);
  assert.throws(() => decodePurge(Buffer.from('\x06{}', 'latin1')), StreamEntryError);
});

test('delete message entry (op 6): fields, no_erase omitted when false', () => {
  const e = encodeMsgDelete({ stream: 'T3', seq: 4, subject: '$JS.API.STREAM.MSG.DELETE.T3', reply: 'r' });
  assert.equal(e[0], 6);
  assert.equal(e.toString('utf8', 1), '{"stream":"T3","seq":4,"subject":"$JS.API.STREAM.MSG.DELETE.T3","reply":"r"}\n');
  const ne = encodeMsgDelete({ stream: 'T3', seq: 4, no_erase: true, subject: 's', reply: 'r' });
  assert.equal(ne.toString('utf8', 1), '{"stream":"T3","seq":4,"no_erase":true,"subject":"s","reply":"r"}\n');
  assert.deepEqual(decodeMsgDelete(ne), { stream: 'T3', seq: 4, no_erase: true, subject: 's', reply: 'r' });
  assert.throws(() => decodeMsgDelete(Buffer.from('\x06{"seq":"4"}', 'latin1')), StreamEntryError);
  assert.throws(() => decodeMsgDelete(Buffer.from('\x06{"seq":1,"no_erase":1}', 'latin1')), StreamEntryError);
});

test('delete range entry (op 15): Go writes capitalised keys and a newline, reads any case', () => {
  const e = encodeDeleteRange({ first: 100, num: 25 });
  assert.equal(e.toString('latin1'), '\x0f{"First":100,"Num":25}\n');
  assert.deepEqual(decodeDeleteRange(e), { first: 100, num: 25 });
  assert.deepEqual(decodeDeleteRange(Buffer.from('\x0f{"first":1,"num":2}', 'latin1')), { first: 1, num: 2 });
  const g = decodeStreamGroupEntry(e);
  assert.equal(g.op, EntryOp.deleteRangeOp);
  assert.throws(() => decodeDeleteRange(Buffer.from('\x0f{"first":1.5,"num":2}', 'latin1')), StreamEntryError);
  assert.throws(() => decodeDeleteRange(Buffer.from(`\x0f{"first":${2 ** 52},"num":${2 ** 52}}`, 'latin1')), StreamEntryError);
});

test('stream group dispatch: unknown ops and empty entries are typed errors', () => {
  assert.throws(() => decodeStreamGroupEntry(Buffer.alloc(0)), StreamEntryError);
  for (const op of [0, 1, 2, 3, 7, 8, 16, 200]) {
    assert.throws(() => decodeStreamGroupEntry(Buffer.from([op, 1, 2])), (e: unknown) => e instanceof StreamEntryError && e.code === 'bad_op');
  }
  const p = decodeStreamGroupEntry(encodePurge({ stream: 'S', last_seq: 0, subject: '', reply: '' }));
  assert.equal(p.op, EntryOp.purgeStreamOp);
});

// ---- a second capture: large messages, delete and purge entries (2.9.10, stream BIG) ----

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFixturesDir } from '../fixtures/cluster/locate.js';

function bigCapture(): { big: Buffer; noise: Buffer; entry: (k: string) => Buffer } {
  const d = JSON.parse(readFileSync(join(clusterFixturesDir(), 'stream-entries-2.9.10.json'), 'utf8'));
  return {
    big: Buffer.from(d.big_hex, 'hex'),
    noise: Buffer.from(d.noise_hex, 'hex'),
    entry: (k: string) => {
      const ae = decodeAppendEntry(Buffer.from(d.entries[k].payload_hex, 'hex'));
      assert.ok(!(ae instanceof RaftError));
      assert.equal(ae.entries.length, 1);
      return Buffer.from(ae.entries[0]!.data);
    },
  };
}

test('stream entry (2.9.10 capture): 12000- and 9000-byte proposals decode and re-encode exactly', () => {
  const c = bigCapture();
  const e1 = c.entry('msg_12000_compressible_with_reply');
  const m1 = decodeStreamMsg(e1);
  assert.equal(m1.subject, 'big.a');
  assert.deepEqual(m1.msg, c.big);
  assert.equal(m1.lseq, 0);
  // 2.9.10 sent it uncompressed; so do we when compression is off, byte for byte.
  assert.deepEqual(encodeStreamMsg(m1, { allowCompress: false }), e1);
  // With compression on (the newest default for bodies over 8 KiB) it becomes op 14 and
  // decodes back to the same message.
  const c1 = encodeStreamMsg(m1);
  assert.equal(c1[0], EntryOp.compressedStreamMsgOp);
  assert.ok(c1.length < e1.length / 10);
  const back = decodeStreamMsg(c1);
  assert.deepEqual({ ...back, compressed: false }, m1);
  const e2 = c.entry('msg_9000_incompressible_with_msgid');
  const m2 = decodeStreamMsg(e2);
  assert.deepEqual(m2.msg, c.noise);
  assert.equal(m2.hdr!.toString(), 'NATS/1.0\r\nNats-Msg-Id: big-1\r\n\r\n');
  assert.equal(m2.lseq, 1);
  assert.deepEqual(encodeStreamMsg(m2, { allowCompress: false }), e2);
  // (The capture script's "noise" has short-period structure, so S2 still shrinks it.)
  assert.deepEqual({ ...decodeStreamMsg(encodeStreamMsg(m2)), compressed: false }, m2);
  const e3 = c.entry('msg_small');
  assert.deepEqual(encodeStreamMsg(decodeStreamMsg(e3)), e3);
});

test('delete and purge entries (2.9.10 capture) decode and re-encode byte for byte', () => {
  const c = bigCapture();
  const del = c.entry('delete_msg_erase');
  const d = decodeMsgDelete(del);
  assert.equal(d.stream, 'BIG');
  assert.equal(d.seq, 3);
  assert.equal(d.no_erase, undefined);
  assert.equal(d.subject, '$JS.API.STREAM.MSG.DELETE.BIG');
  assert.equal((d.client as { acc: string }).acc, 'APP');
  assert.deepEqual(encodeMsgDelete(d), del);
  const pur = c.entry('purge_filter');
  const p = decodePurge(pur);
  assert.equal(p.stream, 'BIG');
  assert.equal(p.last_seq, 3);
  assert.deepEqual(p.request, { filter: 'big.a' });
  assert.deepEqual(encodePurge(p), pur);
});
