// Reading and writing NATS header blocks ("NATS/1.0[ status]\r\nKey: value\r\n...\r\n\r\n")
// for the JetStream publish headers. Only called for messages that carry headers, so
// the plain-publish hot path never parses anything.

export const HDR_MSG_ID = 'Nats-Msg-Id';
export const HDR_EXPECTED_STREAM = 'Nats-Expected-Stream';
export const HDR_EXPECTED_LAST_SEQ = 'Nats-Expected-Last-Sequence';
export const HDR_EXPECTED_LAST_SUBJ_SEQ = 'Nats-Expected-Last-Subject-Sequence';
export const HDR_EXPECTED_LAST_SUBJ_SEQ_SUBJ = 'Nats-Expected-Last-Subject-Sequence-Subject';
export const HDR_EXPECTED_LAST_MSG_ID = 'Nats-Expected-Last-Msg-Id';
export const HDR_ROLLUP = 'Nats-Rollup';
export const HDR_STREAM_SOURCE = 'Nats-Stream-Source';

/** The publish headers the stream looks at, read in one pass. */
export interface JsPubHeaders {
  msgId?: string;
  expectedStream?: string;
  expectedLastSeq?: number;
  expectedLastSubjSeq?: number;
  expectedLastSubjSeqSubject?: string;
  expectedLastMsgId?: string;
  rollup?: string;
}

const lower = (s: string): string => s.toLowerCase();
const KEYS: Record<string, keyof JsPubHeaders> = {
  [lower(HDR_MSG_ID)]: 'msgId',
  [lower(HDR_EXPECTED_STREAM)]: 'expectedStream',
  [lower(HDR_EXPECTED_LAST_SEQ)]: 'expectedLastSeq',
  [lower(HDR_EXPECTED_LAST_SUBJ_SEQ)]: 'expectedLastSubjSeq',
  [lower(HDR_EXPECTED_LAST_SUBJ_SEQ_SUBJ)]: 'expectedLastSubjSeqSubject',
  [lower(HDR_EXPECTED_LAST_MSG_ID)]: 'expectedLastMsgId',
  [lower(HDR_ROLLUP)]: 'rollup',
};

/** Iterate "Key: value" lines of a header block (skips the NATS/1.0 status line). */
export function forEachHeader(hdr: Buffer, fn: (key: string, value: string) => void): void {
  const text = hdr.toString('latin1');
  let pos = text.indexOf('\r\n');
  if (pos < 0) return;
  pos += 2;
  while (pos < text.length) {
    const end = text.indexOf('\r\n', pos);
    const line = end < 0 ? text.slice(pos) : text.slice(pos, end);
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon > 0) fn(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    if (end < 0) break;
    pos = end + 2;
  }
}

/** First value of header `name` (case-insensitive), or undefined. */
export function getHeader(hdr: Buffer | undefined, name: string): string | undefined {
  if (!hdr || hdr.length === 0) return undefined;
  const want = name.toLowerCase();
  let found: string | undefined;
  forEachHeader(hdr, (k, v) => {
    if (found === undefined && k.toLowerCase() === want) found = v;
  });
  return found;
}

/** Parse the JetStream publish headers. Numeric headers that do not parse become -1 (never matches), as in nats-server. */
export function parsePubHeaders(hdr: Buffer): JsPubHeaders | undefined {
  // Cheap pre-check: no "Nats-" at all means none of ours (case-insensitive 'nats-').
  const out: JsPubHeaders = {};
  let any = false;
  forEachHeader(hdr, (k, v) => {
    const field = KEYS[k.toLowerCase()];
    if (field === undefined || out[field] !== undefined) return;
    if (field === 'expectedLastSeq' || field === 'expectedLastSubjSeq') {
      if (v === '') return;
      // nats-server parses these with parseInt64, which yields -1 (as uint64: a sequence no
      // stream ever has) for anything but digits, so the expectation fails instead of being dropped.
      out[field] = /^\d+$/.test(v) ? Number(v) : -1;
    } else {
      if (v === '') return;
      (out as Record<string, string>)[field] = v;
    }
    any = true;
  });
  return any ? out : undefined;
}

/** Remove header `name` from a block; returns undefined if nothing is left but the status line. */
export function removeHeader(hdr: Buffer, name: string): Buffer | undefined {
  const want = name.toLowerCase();
  const text = hdr.toString('latin1');
  const first = text.indexOf('\r\n');
  if (first < 0) return hdr;
  const lines = text.slice(first + 2).split('\r\n').filter((l) => l !== '');
  const kept = lines.filter((l) => l.slice(0, Math.max(0, l.indexOf(':'))).trim().toLowerCase() !== want);
  if (kept.length === lines.length) return hdr;
  if (kept.length === 0 && text.slice(0, first) === 'NATS/1.0') return undefined;
  return Buffer.from(text.slice(0, first) + '\r\n' + kept.map((l) => l + '\r\n').join('') + '\r\n', 'latin1');
}

/** Append headers to a block (creating "NATS/1.0" when there is none). */
export function appendHeaders(hdr: Buffer | undefined, entries: Array<[string, string]>): Buffer {
  const add = entries.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  if (!hdr || hdr.length === 0) return Buffer.from(`NATS/1.0\r\n${add}\r\n`, 'latin1');
  // Drop the final CRLF of the block, add ours, close again.
  const body = hdr.subarray(0, hdr.length - 2);
  return Buffer.concat([body, Buffer.from(add + '\r\n', 'latin1')]);
}

/** A status-only header block, e.g. statusHeader(404, 'Message Not Found'). */
export function statusHeader(code: number, text: string, entries: Array<[string, string]> = []): Buffer {
  return Buffer.from(`NATS/1.0 ${code} ${text}\r\n${entries.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'latin1');
}
