// The block record codec keeps its on-disk layout: timestamps and TTLs are written as the
// little-endian int64s Buffer's BigInt methods produce (files written before still replay), and
// read back exactly, including ns timestamps beyond 2^53 and the "never expires" TTL of -1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONTROL_LEN, encodeControl, encodeErased, encodeMsg, msgRecordLen, parseRecord, readU64, RecordView, REC_DEL, REC_ERASED, REC_FIXED, REC_MSG,
  writeU64,
} from '../../src/jetstream/store/record.js';

const TS = [0n, 1n, -1n, 1795738563295351081n, (1n << 63n) - 1n, -(1n << 63n), (1n << 53n) + 1n];
const TTL = [1, 60, -1, 2 ** 31, 2 ** 40 + 3, -(2 ** 33)];

test('record: MSG ts and ttl round-trip exactly and keep the int64 byte layout', () => {
  const subject = 'orders.eu';
  const hdr = Buffer.from('NATS/1.0\r\nA: b\r\n\r\n');
  const data = Buffer.from('payload');
  for (const ts of TS) {
    for (const ttl of TTL) {
      const len = msgRecordLen(subject.length, hdr.length, data.length, true);
      const buf = Buffer.alloc(len + 5);
      assert.equal(encodeMsg(buf, 5, 77, ts, subject, subject.length, hdr, data, ttl), len);
      assert.equal(buf.readBigInt64LE(5 + 16), ts, `ts bytes for ${ts}`);
      assert.equal(buf.readBigInt64LE(5 + REC_FIXED), BigInt(ttl), `ttl bytes for ${ttl}`);
      const v = new RecordView();
      assert.ok(parseRecord(buf, 5, 5 + len, v));
      assert.equal(v.type, REC_MSG);
      assert.equal(v.seq, 77);
      assert.equal(v.ts, ts);
      assert.equal(v.ttlSec, ttl);
      assert.equal(buf.toString('latin1', v.subjStart, v.subjStart + v.subjLen), subject);
      assert.deepEqual(buf.subarray(v.hdrStart, v.hdrStart + v.hdrLen), hdr);
      assert.deepEqual(buf.subarray(v.dataStart, v.dataStart + v.dataLen), data);
    }
  }
});

test('record: control and erased records carry their timestamp exactly', () => {
  for (const ts of TS) {
    const buf = Buffer.alloc(CONTROL_LEN);
    encodeControl(buf, 0, REC_DEL, 9, ts, 4);
    assert.equal(buf.readBigInt64LE(16), ts);
    const v = new RecordView();
    assert.ok(parseRecord(buf, 0, buf.length, v));
    assert.equal(v.ts, ts);
    assert.equal(v.value, 4);
    const erased = encodeErased(60, 12, ts);
    assert.ok(parseRecord(erased, 0, erased.length, v));
    assert.equal(v.type, REC_ERASED);
    assert.equal(v.ts, ts);
  }
});

test('record: u64 fields (seq, counts) keep the uint64 byte layout for every safe integer', () => {
  const values = [0, 1, 255, 0x7fffffff, 0xffffffff, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, 2 ** 52 + 7, Number.MAX_SAFE_INTEGER];
  for (const v of values) {
    const buf = Buffer.alloc(11);
    writeU64(buf, 3, v);
    assert.equal(buf.readBigUInt64LE(3), BigInt(v), `bytes of ${v}`);
    assert.equal(readU64(buf, 3), v);
  }
});
