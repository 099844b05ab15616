// NRG binary encodings (server/raft.go encode/decode functions), byte for byte as nats-server
// writes them. All integers are little-endian. Decoders never throw on bad
// input from the network: they return null (or a RaftError for AEs, whose
// callers want to know why) so a malformed message is dropped, not fatal.

import {
  type AppendEntry,
  type AppendEntryResponse,
  type Entry,
  ID_LEN,
  makeAppendEntry,
  type PeerState,
  RaftError,
  type VoteRequest,
  type VoteResponse,
} from './types.js';
import { putUvarint, uvarintLen } from '../protocol/varint.js';

export const VOTE_REQUEST_LEN = 24 + ID_LEN; // 32
export const VOTE_RESPONSE_LEN = 8 + 8 + 1; // 17
export const APPEND_ENTRY_BASE_LEN = ID_LEN + 4 * 8 + 2; // 42
export const APPEND_ENTRY_RESPONSE_LEN = 24 + 1; // 25
const TWO_32 = 0x1_0000_0000;
/** Highest hi-word that keeps a u64 inside Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HI = 0x1f_ffff;

export function writeU64(buf: Uint8Array, off: number, v: number): void {
  // A negative or fractional term/index is a bug upstream of the encoder.
  if (!(v >= 0) || v !== Math.floor(v)) throw new RangeError(`raft: cannot encode ${v} as u64`);
  const lo = v % TWO_32;
  const hi = (v - lo) / TWO_32;
  buf[off] = lo & 0xff;
  buf[off + 1] = (lo >>> 8) & 0xff;
  buf[off + 2] = (lo >>> 16) & 0xff;
  buf[off + 3] = lo >>> 24;
  buf[off + 4] = hi & 0xff;
  buf[off + 5] = (hi >>> 8) & 0xff;
  buf[off + 6] = (hi >>> 16) & 0xff;
  buf[off + 7] = hi >>> 24;
}

/** Reads a u64; returns -1 when it does not fit a safe JS integer. */
export function readU64(buf: Uint8Array, off: number): number {
  const lo = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)) + buf[off + 3] * 0x100_0000;
  const hi = (buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16)) + buf[off + 7] * 0x100_0000;
  if (hi > MAX_SAFE_HI) return -1;
  return hi * TWO_32 + lo;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16)) + buf[off + 3] * 0x100_0000;
}

/** Peer ids are ASCII; an absent id is written as zero bytes. */
function writeId(buf: Uint8Array, off: number, id: string): void {
  const n = id.length < ID_LEN ? id.length : ID_LEN;
  for (let i = 0; i < n; i++) buf[off + i] = id.charCodeAt(i) & 0xff;
  for (let i = n; i < ID_LEN; i++) buf[off + i] = 0;
}

function readId(buf: Uint8Array, off: number): string {
  let allZero = true;
  for (let i = 0; i < ID_LEN; i++) {
    if (buf[off + i] !== 0) {
      allZero = false;
      break;
    }
  }
  if (allZero) return '';
  return String.fromCharCode(
    buf[off], buf[off + 1], buf[off + 2], buf[off + 3],
    buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7],
  );
}

// ---- vote request (32 bytes) ----

export function encodeVoteRequest(vr: VoteRequest): Uint8Array {
  const buf = new Uint8Array(VOTE_REQUEST_LEN);
  writeU64(buf, 0, vr.term);
  writeU64(buf, 8, vr.lastTerm);
  writeU64(buf, 16, vr.lastIndex);
  writeId(buf, 24, vr.candidate);
  return buf;
}

export function decodeVoteRequest(msg: Uint8Array): VoteRequest | null {
  if (msg.length !== VOTE_REQUEST_LEN) return null;
  const term = readU64(msg, 0);
  const lastTerm = readU64(msg, 8);
  const lastIndex = readU64(msg, 16);
  if (term < 0 || lastTerm < 0 || lastIndex < 0) return null;
  return { term, lastTerm, lastIndex, candidate: readId(msg, 24) };
}

// ---- vote response (17 bytes) ----

export function encodeVoteResponse(vr: VoteResponse): Uint8Array {
  const buf = new Uint8Array(VOTE_RESPONSE_LEN);
  writeU64(buf, 0, vr.term);
  writeId(buf, 8, vr.peer);
  buf[16] = (vr.granted ? 1 : 0) | (vr.empty ? 2 : 0) | (vr.liveLeader ? 4 : 0);
  return buf;
}

export function decodeVoteResponse(msg: Uint8Array): VoteResponse | null {
  if (msg.length !== VOTE_RESPONSE_LEN) return null;
  const term = readU64(msg, 0);
  if (term < 0) return null;
  const flags = msg[16];
  const vr: VoteResponse = { term, peer: readId(msg, 8), granted: (flags & 1) !== 0, empty: (flags & 2) !== 0 };
  if ((flags & 4) !== 0) vr.liveLeader = true;
  return vr;
}

// ---- append entry response (25 bytes) ----

export function encodeAppendEntryResponse(ar: AppendEntryResponse, into?: Uint8Array): Uint8Array {
  const buf = into && into.length >= APPEND_ENTRY_RESPONSE_LEN ? into : new Uint8Array(APPEND_ENTRY_RESPONSE_LEN);
  writeU64(buf, 0, ar.term);
  writeU64(buf, 8, ar.index);
  writeId(buf, 16, ar.peer);
  buf[24] = ar.success ? 1 : 0;
  return buf.length === APPEND_ENTRY_RESPONSE_LEN ? buf : buf.subarray(0, APPEND_ENTRY_RESPONSE_LEN);
}

export function decodeAppendEntryResponse(msg: Uint8Array): AppendEntryResponse | null {
  if (msg.length !== APPEND_ENTRY_RESPONSE_LEN) return null;
  const term = readU64(msg, 0);
  const index = readU64(msg, 8);
  if (term < 0 || index < 0) return null;
  return { term, index, peer: readId(msg, 16), success: msg[24] === 1 };
}

// ---- append entry ----

/** Exact encoded size of an AE (used for buffers and catch-up flow control). */
export function appendEntrySize(ae: AppendEntry): number {
  let n = APPEND_ENTRY_BASE_LEN;
  const es = ae.entries;
  for (let i = 0; i < es.length; i++) n += 5 + entryLength(es[i]);
  if (ae.lterm !== 0) n += uvarintLen(ae.lterm);
  return n;
}

/** An entry's data length, without making a WireEntry's view. */
export function entryLength(e: Entry): number {
  return e instanceof WireEntry ? e.end - e.start : e.data.length;
}

/** Below this many bytes an entry is copied byte by byte (a view to copy from would cost more). */
const SMALL_ENTRY = 48;

/**
 * Encodes an AE. The newer `lterm` uvarint trailer is written only when
 * lterm != 0, so live AEs are byte-identical to nats-server 2.9.10's
 * (old decoders ignore trailing bytes either way).
 */
export function encodeAppendEntry(ae: AppendEntry): Uint8Array {
  if (ae.leader.length !== ID_LEN && ae.leader.length !== 0) throw new RaftError('leader_len');
  const es = ae.entries;
  if (es.length > 0xffff) throw new RaftError('too_many_entries');
  const buf = Buffer.allocUnsafe(appendEntrySize(ae));
  writeId(buf, 0, ae.leader);
  writeU64(buf, 8, ae.term);
  writeU64(buf, 16, ae.commit);
  writeU64(buf, 24, ae.pterm);
  writeU64(buf, 32, ae.pindex);
  buf[40] = es.length & 0xff;
  buf[41] = es.length >>> 8;
  let off = APPEND_ENTRY_BASE_LEN;
  for (let i = 0; i < es.length; i++) {
    const e = es[i];
    const len = entryLength(e);
    writeU32(buf, off, 1 + len);
    buf[off + 4] = e.type;
    if (e instanceof WireEntry && len < SMALL_ENTRY) {
      // Small ops proposed from a shared slab (consumer groups: two per consumed message).
      const src = e.src;
      for (let j = e.start, o = off + 5; j < e.end; j++, o++) buf[o] = src[j];
    } else {
      buf.set(e.data, off + 5);
    }
    off += 5 + len;
  }
  if (ae.lterm !== 0) putUvarint(buf, off, ae.lterm);
  return buf;
}

/**
 * An entry whose bytes are `src[start, end)`; `data` (a view of them) is made only when read.
 * Decoded AEs hold these: a follower stores the AE's own bytes and an upper layer may decode an
 * entry from `src` directly (consumer groups do, two entries per consumed message), so most
 * entries never need a view object of their own. A leader may propose them too (proposeEntry):
 * many small ops written into one shared buffer cost one object each instead of two.
 */
export class WireEntry implements Entry {
  private view: Uint8Array | undefined;
  constructor(readonly type: number, readonly src: Uint8Array, readonly start: number, readonly end: number) {}

  get data(): Uint8Array {
    return (this.view ??= this.src.subarray(this.start, this.end));
  }
}

/**
 * Decodes an AE. Entry data are subarrays of `msg` (zero copy, made when read: WireEntry): the
 * caller must own `msg` for as long as the AE lives. Corrupt header values below byte 42 still
 * decode (as upstream); bad entry framing fails.
 */
export function decodeAppendEntry(msg: Uint8Array): AppendEntry | RaftError {
  if (msg.length < APPEND_ENTRY_BASE_LEN) return new RaftError('bad_append_entry');
  const term = readU64(msg, 8);
  const commit = readU64(msg, 16);
  const pterm = readU64(msg, 24);
  const pindex = readU64(msg, 32);
  if (term < 0 || commit < 0 || pterm < 0 || pindex < 0) return new RaftError('bad_append_entry');
  const ne = msg[40] | (msg[41] << 8);
  const entries: Entry[] = new Array(ne);
  const max = msg.length;
  let ri = APPEND_ENTRY_BASE_LEN;
  for (let i = 0; i < ne; i++) {
    if (max - ri < 4) return new RaftError('bad_append_entry');
    const ml = readU32(msg, ri);
    ri += 4;
    if (ml <= 0 || ri + ml > max) return new RaftError('bad_append_entry');
    entries[i] = new WireEntry(msg[ri], msg, ri + 1, ri + ml);
    ri += ml;
  }
  let lterm = 0;
  if (ri < max) {
    // uvarint; ignored if malformed (old servers never write it).
    let v = 0;
    let mul = 1;
    for (let i = ri; i < max && i < ri + 10; i++) {
      const b = msg[i];
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (Number.isSafeInteger(v)) lterm = v;
        break;
      }
      mul *= 128;
    }
  }
  return makeAppendEntry(readId(msg, 0), term, commit, pterm, pindex, entries, lterm, msg);
}

// ---- peer state ----

export function encodePeerState(ps: PeerState): Uint8Array {
  const buf = new Uint8Array(4 + 4 + ID_LEN * ps.knownPeers.length + 2);
  writeU32(buf, 0, ps.clusterSize);
  writeU32(buf, 4, ps.knownPeers.length);
  let wi = 8;
  for (const p of ps.knownPeers) {
    writeId(buf, wi, p);
    wi += ID_LEN;
  }
  buf[wi] = ps.domainExt & 0xff;
  buf[wi + 1] = (ps.domainExt >>> 8) & 0xff;
  return buf;
}

export function decodePeerState(buf: Uint8Array): PeerState | RaftError {
  if (buf.length < 8) return new RaftError('corrupt_peers');
  const clusterSize = readU32(buf, 0);
  const expected = readU32(buf, 4);
  const knownPeers: string[] = [];
  let ri = 8;
  for (let i = 0; i < expected && ri + ID_LEN <= buf.length; i++) {
    knownPeers.push(readId(buf, ri));
    ri += ID_LEN;
  }
  if (knownPeers.length !== expected) return new RaftError('corrupt_peers');
  let domainExt = 0;
  if (buf.length - ri >= 2) domainExt = buf[ri] | (buf[ri + 1] << 8);
  return { knownPeers, clusterSize, domainExt };
}

/** Helper for EntryAddPeer / EntryRemovePeer / EntryLeaderTransfer payloads. */
export function encodePeerId(id: string): Uint8Array {
  const b = new Uint8Array(ID_LEN);
  writeId(b, 0, id);
  return b;
}

export function decodePeerId(data: Uint8Array): string | null {
  if (data.length !== ID_LEN) return null;
  return readId(data, 0);
}
