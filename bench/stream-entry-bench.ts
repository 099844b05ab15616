// Per-message CPU of the replicated stream's entry work, outside any server: what the leader
// does to propose a publish (sequence it and encode the entry) and what every replica does to
// apply one (decode the committed entry as the apply path does; the leader also formats the
// PubAck). Process CPU time per message, so a shared machine distorts it less than wall time.
//
//   node dist/bench/stream-entry-bench.js [--count 400000] [--rounds 5]
//
// The R3 publish benchmark (`npm run bench -- cluster-r3`) spends about 60 µs of server CPU per
// message over three servers; this isolates the part src/jetstream/cluster owns.
import { MAX_DECOMPRESSED_BODY, decodeStreamMsg, encodeStreamMsg, asBuffer } from '../src/jetstream/cluster/stream-entry.js';
import { ProposalSequencer, StreamApplier, pubAckFor, type ApplyStore } from '../src/jetstream/cluster/stream-apply.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : def;
};
const COUNT = arg('count', 400_000);
const ROUNDS = arg('rounds', 5);
const IN_FLIGHT = 256;

const payload = Buffer.alloc(128, 'x');
// Reply subjects as the JetStream clients make them: one inbox, a token per publish.
const replies = Array.from({ length: 1024 }, (_, i) => `_INBOX.Vq2bQy4N8zL1xW7cR5tY0u.${i}`);

function usPerMsg(fn: () => void): number {
  const t = process.cpuUsage();
  fn();
  const u = process.cpuUsage(t);
  return (u.user + u.system) / COUNT;
}

/** Leader: sequence and encode COUNT publishes, IN_FLIGHT at a time, then mark them applied. */
function propose(): void {
  let lastSeq = 0;
  const store: ApplyStore = {
    state: () => ({ msgs: lastSeq, firstSeq: 1, lastSeq }),
    lastSeq: () => lastSeq,
    storeRaw: () => { lastSeq++; return undefined; },
    skipMsg: () => undefined,
    compact: () => undefined,
    lastSeqForSubject: () => 0,
  };
  const seq = new ProposalSequencer(new StreamApplier(store, { stream: 'R3', duplicateWindowNs: 120_000_000_000n }));
  const inFlight: number[] = [];
  let ts = 1_795_738_563_295_351_080n;
  for (let k = 0; k < COUNT; k++) {
    const d = seq.propose('r3.x', replies[k & 1023]!, null, payload, ts++, true);
    if (d.kind !== 'propose') throw new Error(`unexpected ${d.kind}`);
    inFlight.push(d.lseq);
    if (inFlight.length === IN_FLIGHT) {
      for (const l of inFlight) { seq.applied(l); lastSeq++; }
      inFlight.length = 0;
    }
  }
}

/** Replica: decode committed entries as StreamGroup.applyNormal does; the leader's PubAck text. */
function decodeAndAck(entries: Buffer[]): void {
  let sink = 0;
  for (let k = 0; k < COUNT; k++) {
    // A message entry (op 4) is decoded without the op wrapper, as applyNormal does.
    const m = decodeStreamMsg(asBuffer(entries[k % entries.length]!), MAX_DECOMPRESSED_BODY, false);
    sink += pubAckFor('R3', { kind: 'stored', seq: m.lseq + 1 })!.length;
  }
  if (sink === 0) throw new Error('nothing decoded');
}

const entries = Array.from({ length: 1024 }, (_, i) =>
  encodeStreamMsg({ lseq: i, ts: 1_795_738_563_295_351_080n + BigInt(i), subject: 'r3.x', reply: replies[i]!, hdr: null, msg: payload }));
const p: number[] = [];
const a: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  p.push(usPerMsg(propose));
  a.push(usPerMsg(() => decodeAndAck(entries)));
}
const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`${COUNT} x 128 B, ${ROUNDS} rounds, median process CPU per message:`);
console.log(`  leader propose (sequence + encode + applied): ${med(p).toFixed(2)} µs  [${p.map((x) => x.toFixed(2)).join(', ')}]`);
console.log(`  replica apply decode + PubAck text:          ${med(a).toFixed(2)} µs  [${a.map((x) => x.toFixed(2)).join(', ')}]`);
