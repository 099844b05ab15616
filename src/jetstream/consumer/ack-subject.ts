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

/**
 * Subscription subject for a consumer's acks. nats-server subscribes the exact v1 shape
 * (five '*'); we take "<prefix>.>" and check the token count when parsing, which is
 * equivalent (a malformed ack is ignored either way) and much cheaper to match for the
 * per-ack unique subjects.
 */
export function ackSubscription(stream: string, consumer: string): string {
  return `$JS.ACK.${stream}.${consumer}.>`;
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

/** The numbers the ack path needs, parsed without allocating: [dc, sseq, dseq]. */
export interface AckNumbers {
  dc: number;
  sseq: number;
  dseq: number;
}

function parseRange(s: string, from: number, to: number): number {
  if (to <= from) return BAD_NUM;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return BAD_NUM;
    n = n * 10 + c;
  }
  return n;
}

/** Scratch for parseAckNumbers (single-threaded: no allocation per ack). */
const DOTS = new Int32Array(11);

/**
 * Hot-path form of parseAckSubject for a subject that arrived on the consumer's own ack
 * subscription (so the prefix and token count are right): fills `out` from the three
 * numeric tokens after the consumer name. Returns false when the subject is not 9 or
 * 11+ tokens long (nats-server then treats every number as 0).
 */
export function parseAckNumbers(subject: string, out: AckNumbers): boolean {
  // Token boundaries, counted from the start (names cannot contain dots).
  let dots = 0;
  const pos = DOTS;
  for (let i = 0; i < subject.length; i++) {
    if (subject.charCodeAt(i) === 46) {
      if (dots < 11) pos[dots] = i;
      dots++;
    }
  }
  const ntok = dots + 1;
  if (ntok !== 9 && ntok < 11) return false;
  // v1: $JS.ACK.<s>.<c>.<dc>.<sseq>.<dseq>.<ts>.<pending>; v2 has two more tokens in front.
  const t = ntok >= 11 ? 5 : 3; // index of the dot before <dc>
  out.dc = parseRange(subject, pos[t]! + 1, pos[t + 1]!);
  out.sseq = parseRange(subject, pos[t + 1]! + 1, pos[t + 2]!);
  out.dseq = parseRange(subject, pos[t + 2]! + 1, pos[t + 3]!);
  return true;
}
