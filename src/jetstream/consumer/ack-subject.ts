// The ack reply subject a consumer stamps on every delivery:
//   v1 (all versions): $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts ns>.<pending>      (9 tokens)
//   v2 (newest, opt-in): $JS.ACK.<domain|_>.<acc hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[...]
// We send v1 (the default of every nats-server) and accept both when parsing.

/** Parsed numbers of an ack subject. Unparseable numbers become NaN-free sentinels (see BAD_NUM). */
export interface AckInfo {
  stream: string;
  consumer: string;
  /** delivery count */
  dc: number;
  sseq: number;
  dseq: number;
  /** message timestamp, ns since epoch (kept as text; the server never needs the value) */
  ts: string;
  pending: number;
}

/** nats-server parses bad numbers as -1 and reinterprets them as uint64: far beyond any real sequence. */
export const BAD_NUM = Number.MAX_SAFE_INTEGER;

/** Prefix "$JS.ACK.<stream>.<consumer>." built once per consumer. */
export function ackPrefix(stream: string, consumer: string): string {
  return `$JS.ACK.${stream}.${consumer}.`;
}

/** Subscription subject for a consumer's acks (v1). */
export function ackSubscription(stream: string, consumer: string): string {
  return `$JS.ACK.${stream}.${consumer}.*.*.*.*.*`;
}

export function encodeAckSubject(prefix: string, dc: number, sseq: number, dseq: number, ts: bigint, pending: number): string {
  return prefix + dc + '.' + sseq + '.' + dseq + '.' + ts + '.' + pending;
}

function parseNum(t: string): number {
  if (t.length === 0) return BAD_NUM;
  let n = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return BAD_NUM;
    n = n * 10 + c;
  }
  return n;
}

/** Parse an ack subject (v1 or v2). undefined when it is not one (wrong token count or prefix). */
export function parseAckSubject(subject: string): AckInfo | undefined {
  const toks = subject.split('.');
  if ((toks.length !== 9 && toks.length < 11) || toks[0] !== '$JS' || toks[1] !== 'ACK') return undefined;
  const off = toks.length >= 11 ? 4 : 2;
  return {
    stream: toks[off]!,
    consumer: toks[off + 1]!,
    dc: parseNum(toks[off + 2]!),
    sseq: parseNum(toks[off + 3]!),
    dseq: parseNum(toks[off + 4]!),
    ts: toks[off + 5]!,
    pending: parseNum(toks[off + 6]!),
  };
}
