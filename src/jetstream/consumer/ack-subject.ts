// The ack reply subject a consumer stamps on every delivery:
//   v1 (all versions): $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts ns>.<pending>      (9 tokens)
//   v2 (newest, opt-in): $JS.ACK.<domain|_>.<acc hash>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[...]
// We send v1 (the default of every nats-server) and accept both when parsing.

import { writeUint } from '../../protocol/decimal.js';
import { encodeName } from '../../protocol/names.js';

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

/**
 * Writes each delivery's v1 ack reply as bytes into one scratch buffer: the prefix once, then
 * the numbers as digits. This is the hot path of every delivery: no string is built (sinks
 * write replyBytes; an InboundMsg decodes the text only when something reads it).
 */
export class AckReplyWriter {
  private readonly prefixLen: number;
  private readonly scratch: Buffer;
  /** The last view handed out: reused while the reply length stays the same. */
  private view: Buffer;

  constructor(stream: string, consumer: string) {
    const prefix = encodeName(ackPrefix(stream, consumer));
    this.prefixLen = prefix.length;
    // Four dots and five numbers: at most 16 digits for a safe integer, 20 for an int64 timestamp.
    this.scratch = Buffer.allocUnsafe(prefix.length + 4 + 4 * 16 + 20);
    prefix.copy(this.scratch, 0);
    this.view = this.scratch.subarray(0, 0);
  }

  /** The reply `<prefix><dc>.<sseq>.<dseq>.<ts>.<pending>`; valid until the next write (copy it to keep it). */
  write(dc: number, sseq: number, dseq: number, ts: bigint, pending: number): Buffer {
    const b = this.scratch;
    let off = writeUint(b, this.prefixLen, dc);
    b[off++] = DOT;
    off = writeUint(b, off, sseq);
    b[off++] = DOT;
    off = writeUint(b, off, dseq);
    b[off++] = DOT;
    // The digits of the int64 timestamp: BigInt's own conversion, copied in by hand (Buffer.write
    // is a call into C++ that cost several times the copy for these 19 characters).
    const t = ts.toString();
    for (let i = 0; i < t.length; i++) b[off++] = t.charCodeAt(i);
    b[off++] = DOT;
    off = writeUint(b, off, pending);
    if (this.view.length !== off) this.view = b.subarray(0, off);
    return this.view;
  }
}

const DOT = 46;

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
