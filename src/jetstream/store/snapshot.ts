// Self-describing snapshot of a store (messages and optionally consumer states)
// for backups and catch-up, and its restore. Layout: "TSNSNAP1", then frames
// [u8 type][u32 length][payload]: META (JSON first/last seq), MSG records,
// CONSUMER (JSON header + encoded state), END. Restore replays the messages
// with storeRawMsg and recreates gaps with skipMsgs, so sequences, timestamps
// and interior deletes come back identical.

import { decodeConsumerState, encodeConsumerState } from './consumer-state-codec.js';
import { decodeName, encodeName } from '../../protocol/names.js';
import { StoreError } from './errors.js';
import type { ConsumerState, ConsumerStore, StreamStore } from './types.js';

const MAGIC = Buffer.from('TSNSNAP1');
const F_META = 1;
const F_MSG = 2;
const F_CONSUMER = 3;
const F_END = 4;
const CHUNK_BYTES = 128 * 1024;
const NO_HDR = 0xffffffff;

interface SnapConsumer {
  name: string;
  store: ConsumerStore;
  createdMs: number;
}

function frame(type: number, payload: Buffer): Buffer {
  const h = Buffer.allocUnsafe(5);
  h[0] = type;
  h.writeUInt32LE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export async function* snapshotStore(store: StreamStore, consumers: SnapConsumer[]): AsyncGenerator<Buffer> {
  const st = store.fastState();
  const parts: Buffer[] = [MAGIC, frame(F_META, Buffer.from(JSON.stringify({
    firstSeq: st.firstSeq, lastSeq: st.lastSeq, lastTs: st.lastTs.toString(),
  })))];
  let pending = parts[0].length + parts[1].length;
  let seq = st.firstSeq;
  while (seq <= st.lastSeq) {
    const m = store.loadNextMsg('', seq);
    if (!m || m.seq > st.lastSeq) break;
    seq = m.seq + 1;
    const subj = encodeName(m.subject);
    const hdrLen = m.headers ? m.headers.length : 0;
    const p = Buffer.allocUnsafe(8 + 8 + 2 + 4 + subj.length + hdrLen + m.data.length);
    p.writeBigUInt64LE(BigInt(m.seq), 0);
    p.writeBigInt64LE(m.ts, 8);
    p.writeUInt16LE(subj.length, 16);
    p.writeUInt32LE(m.headers ? hdrLen : NO_HDR, 18);
    let off = 22;
    off += subj.copy(p, off);
    if (m.headers) off += m.headers.copy(p, off);
    m.data.copy(p, off);
    const f = frame(F_MSG, p);
    parts.push(f);
    pending += f.length;
    if (pending >= CHUNK_BYTES) {
      yield Buffer.concat(parts.splice(0));
      pending = 0;
    }
  }
  for (const c of consumers) {
    const head = Buffer.from(JSON.stringify({ name: c.name, config: c.store.config(), createdMs: c.createdMs }));
    const state = encodeConsumerState(c.store.state());
    const p = Buffer.allocUnsafe(4 + head.length + state.length);
    p.writeUInt32LE(head.length, 0);
    head.copy(p, 4);
    state.copy(p, 4 + head.length);
    parts.push(frame(F_CONSUMER, p));
  }
  parts.push(frame(F_END, Buffer.alloc(0)));
  yield Buffer.concat(parts);
}

export interface RestoredConsumer {
  name: string;
  config: unknown;
  createdMs: number;
  state: ConsumerState;
}

/** Replay a snapshot into an empty store. Consumer states are recreated through store.consumerStore()
 *  and also returned. Throws ErrCorruptStreamState on malformed or incomplete input. */
export async function restoreSnapshot(store: StreamStore, chunks: AsyncIterable<Buffer> | Iterable<Buffer>):
  Promise<RestoredConsumer[]> {
  let buf: Buffer = Buffer.alloc(0);
  let sawMagic = false;
  let ended = false;
  let meta: { firstSeq: number; lastSeq: number; lastTs: string } | undefined;
  const consumers: RestoredConsumer[] = [];
  const bad = (): never => {
    throw new StoreError('ErrCorruptStreamState');
  };
  const apply = (type: number, p: Buffer): void => {
    if (type === F_META) {
      meta = JSON.parse(p.toString());
      const first = meta!.firstSeq;
      const st = store.fastState();
      if (first > st.lastSeq + 1) store.skipMsgs(st.lastSeq + 1, first - st.lastSeq - 1);
    } else if (type === F_MSG) {
      if (p.length < 22) bad();
      const seq = Number(p.readBigUInt64LE(0));
      const ts = p.readBigInt64LE(8);
      const sl = p.readUInt16LE(16);
      const hl = p.readUInt32LE(18);
      let off = 22;
      const subject = decodeName(p, off, off + sl);
      off += sl;
      let hdr: Buffer | undefined;
      if (hl !== NO_HDR) {
        hdr = p.subarray(off, off + hl);
        off += hl;
      }
      if (off > p.length) bad();
      const last = store.fastState().lastSeq;
      if (seq <= last) bad();
      if (seq > last + 1) store.skipMsgs(last + 1, seq - last - 1);
      store.storeRawMsg(subject, hdr, p.subarray(off), seq, ts);
    } else if (type === F_CONSUMER) {
      const hl = p.readUInt32LE(0);
      const head = JSON.parse(p.toString('utf8', 4, 4 + hl)) as { name: string; config: unknown; createdMs: number };
      const state = decodeConsumerState(p.subarray(4 + hl));
      const cs = store.consumerStore(head.name, head.config, head.createdMs);
      cs.forceUpdate(state);
      consumers.push({ name: head.name, config: head.config, createdMs: head.createdMs, state });
    } else if (type === F_END) {
      ended = true;
    } else bad();
  };
  for await (const chunk of chunks) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    let off = 0;
    if (!sawMagic) {
      if (buf.length < MAGIC.length) continue;
      if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) bad();
      sawMagic = true;
      off = MAGIC.length;
    }
    while (buf.length - off >= 5) {
      const len = buf.readUInt32LE(off + 1);
      if (buf.length - off - 5 < len) break;
      apply(buf[off], buf.subarray(off + 5, off + 5 + len));
      off += 5 + len;
    }
    buf = buf.subarray(off);
  }
  if (!ended || !meta) bad();
  const st = store.fastState();
  if (meta!.lastSeq > st.lastSeq) store.skipMsgs(st.lastSeq + 1, meta!.lastSeq - st.lastSeq);
  return consumers;
}
