// A deterministic batch of random store operations, run both by a crash-test child (on a file store)
// and by the parent (on memory stores, as the reference) so both see the same operations.
import type { StreamStore } from '../../src/jetstream/store/index.js';

export const opsPayload = (seq: number, salt: number): string => `<${seq}|${salt}>` + 'o'.repeat((seq * 31 + salt) % 150);

/** mulberry32, state carried by the caller. */
export function nextRandom(state: { a: number }): number {
  state.a = (state.a + 0x6d2b79f5) >>> 0;
  let t = state.a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Apply batch number `batch` of random operations to s (its choices depend only on rnd and s's state). */
export function runOpsBatch(s: StreamStore, rnd: { a: number }, batch: number): void {
  const r = (n: number): number => Math.floor(nextRandom(rnd) * n);
  const n = 20 + r(40);
  for (let i = 0; i < n; i++) {
    const op = r(100);
    const st = s.fastState();
    if (op < 60 || st.msgs === 0) {
      const seq = st.lastSeq + 1;
      // Mostly churn on few keys (per-subject limit 2), sometimes a key written once.
      const subject = r(10) === 0 ? `once.${seq}` : `k.${r(6)}`;
      s.storeMsg(subject, undefined, Buffer.from(opsPayload(seq, batch)));
    } else if (op < 75) {
      const from = st.firstSeq + r(st.lastSeq - st.firstSeq + 1);
      const m = s.loadNextMsg('', from);
      if (m) s.removeMsg(m.seq);
    } else if (op < 82) {
      const from = st.firstSeq + r(st.lastSeq - st.firstSeq + 1);
      const m = s.loadNextMsg('', from);
      if (m) s.eraseMsg(m.seq);
    } else if (op < 86) {
      s.purgeEx(`k.${r(6)}`, 0, r(2));
    } else if (op < 90) {
      s.skipMsgs(st.lastSeq + 1, 1 + r(3));
    } else {
      const seq = st.lastSeq + 1;
      s.storeMsg(`k.${r(6)}`, undefined, Buffer.from(opsPayload(seq, batch)));
    }
  }
}
