// Service latency sampling (nats-server `latency: { sampling, subject }` on a service export):
// which requests through an import are measured. The metric itself (who asked, who answered,
// how long) is built and published in the exporting account by the monitor layer
// (src/monitor/service-latency.ts), installed with AccountImports.setLatencyReporter. Only
// singleton exports are tracked (the config loader refuses latency on the others, as nats-server).
import type { Account } from './account.js';

/** One sampled request, until its answer arrives. */
export interface LatencyTrack {
  exporter: Account;
  /** where the metric goes, in the exporting account */
  subject: string;
  requestorCid: number;
  /** the import shares the requester's details (`share: true`) */
  share: boolean;
  startMs: number;
  /** the trace headers that asked for this measurement (sampling by headers only) */
  header?: TraceHeader;
}

/** Why a measured request got no answer (nats-server's metric status and description):
 *  400 no reply subject, 408 the requester lost interest in the reply subject (unsubscribed or
 *  disconnected) before the answer came, 503 nobody in the exporter took it, 504 no answer within
 *  the threshold. */
export interface LatencyFailure { status: 400 | 408 | 503 | 504; description: string }
export const BAD_REQUEST: LatencyFailure = { status: 400, description: 'Bad Request' };
export const REQUEST_TIMEOUT: LatencyFailure = { status: 408, description: 'Request Timeout' };
export const SERVICE_UNAVAILABLE: LatencyFailure = { status: 503, description: 'Service Unavailable' };
export const SERVICE_TIMEOUT: LatencyFailure = { status: 504, description: 'Service Timeout' };

/** Publishes the metric of a measured request once its answer reached this server (responder
 *  `responderCid`), or once it is known that no answer will come (`failure`). */
export type LatencyReporter = (track: LatencyTrack, responderCid: number, endMs: number, failure?: LatencyFailure) => void;

/** Trace headers, as nats-server's `header` field of the metric shows them: canonical names
 *  (`X-B3-Traceid`), every value of each. */
export type TraceHeader = Record<string, string[]>;

/** Go's textproto.CanonicalMIMEHeaderKey: the first letter and each letter after a '-' upper case,
 *  the rest lower case; a name with a character outside the token set is left as it is. */
function canonicalKey(k: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) return k;
  let out = '';
  let upper = true;
  for (const ch of k) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** The fields of a NATS/1.0 header block as nats-server reads them (ReadMIMEHeader after the
 *  version line): canonical names, trimmed values, repeated names keeping every value in order.
 *  undefined when the block does not parse, which nats-server treats as no header. */
function parseHeader(hdr: Buffer): Map<string, string[]> | undefined {
  const h = new Map<string, string[]>();
  const lines = hdr.toString('latin1').split('\r\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') break;
    const c = line.indexOf(':');
    if (c < 0) return undefined;
    if (c === 0) continue;
    const key = canonicalKey(line.slice(0, c));
    const vals = h.get(key);
    const v = line.slice(c + 1).trim();
    if (vals) vals.push(v); else h.set(key, [v]);
  }
  return h;
}

/** The named fields of `h` that are present. */
function pick(h: Map<string, string[]>, keys: string[]): TraceHeader {
  const out: TraceHeader = {};
  for (const k of keys) { const v = h.get(k); if (v !== undefined) out[k] = v; }
  return out;
}

const B3_FIELDS = ['X-B3-Sampled', 'X-B3-Traceid', 'X-B3-Parentspanid', 'X-B3-Spanid'];

/** Whether the request's trace headers ask for sampling, in nats-server shouldSample's order
 *  (Jaeger, B3 multi-header, B3 single header, W3C trace context); when they do, the headers
 *  that made the decision, which the metric carries. null: not sampled. */
function traceSampled(hdr: Buffer | undefined): TraceHeader | null {
  if (hdr === undefined) return null;
  const h = parseHeader(hdr);
  if (h === undefined || h.size === 0) return null;
  const uber = h.get('Uber-Trace-Id');
  if (uber !== undefined && uber.length > 0) {
    const tk = uber[0]!.split(':');
    const flags = tk[3] ?? '';
    if (tk.length !== 4 || flags.length === 0 || flags.length > 2 || !/^[0-9a-fA-F]+$/.test(flags)) return null;
    if ((parseInt(flags, 16) & 1) !== 1) return null;
    const out: TraceHeader = { 'Uber-Trace-Id': uber };
    for (const [k, v] of h) if (k.startsWith('Uberctx-')) out[k] = v;
    return out;
  }
  const sampled = h.get('X-B3-Sampled');
  if (sampled !== undefined && sampled[0] === '1') return pick(h, B3_FIELDS);
  if (sampled !== undefined && sampled[0] === '0') return null;
  if (h.has('X-B3-Traceid')) return pick(h, B3_FIELDS);
  const b3 = h.get('B3');
  if (b3 !== undefined && b3.length > 0) {
    const tk = b3[0]!.split('-');
    if ((tk.length > 2 && tk[2] === '0') || (tk.length === 1 && tk[0] === '0')) return null;
    return { B3: b3 };
  }
  const ctx = h.get('Traceparent');
  if (ctx !== undefined && ctx.length > 0) {
    const tk = ctx[0]!.split('-');
    if (tk.length !== 4 || tk[3] !== '01') return null;
    return pick(h, ['Traceparent', 'Tracestate']);
  }
  return null;
}

export class LatencySampler {
  constructor(
    private readonly cfg: { subject: string; sampling: number | 'headers' },
    private readonly exporter: Account,
    private readonly share: boolean,
  ) {}

  /** Start a measurement for this request, or null when it is not sampled. */
  sample(hdr: Buffer | undefined, requestorCid: number): LatencyTrack | null {
    const s = this.cfg.sampling;
    const sampled = s !== 'headers' && (s >= 100 || Math.floor(Math.random() * 100) <= s);
    const track: LatencyTrack = { exporter: this.exporter, subject: this.cfg.subject, requestorCid, share: this.share, startMs: Date.now() };
    if (sampled) return track;
    // not picked by the percentage: the request's trace headers decide, and the metric shows them
    const header = traceSampled(hdr);
    if (header === null) return null;
    track.header = header;
    return track;
  }
}
