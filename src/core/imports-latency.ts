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

/** The header lines of a NATS/1.0 header block, names lower-cased. */
function headerMap(hdr: Buffer): Map<string, string> {
  const h = new Map<string, string>();
  for (const line of hdr.toString('latin1').split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return h;
}

/** Trace headers that ask for (or refuse) sampling, nats-server shouldSample's order. */
function headerSampled(hdr: Buffer | undefined): boolean {
  if (hdr === undefined) return false;
  const h = headerMap(hdr);
  const uber = h.get('uber-trace-id');
  if (uber !== undefined) {
    const flags = uber.split(':')[3] ?? '';
    return flags.length > 0 && flags.length <= 2 && (parseInt(flags, 16) & 1) === 1;
  }
  const sampled = h.get('x-b3-sampled');
  if (sampled !== undefined) return sampled === '1';
  if (h.has('x-b3-traceid')) return true;
  const b3 = h.get('b3');
  if (b3 !== undefined) {
    const tk = b3.split('-');
    return !((tk.length > 2 && tk[2] === '0') || (tk.length === 1 && tk[0] === '0'));
  }
  const ctx = h.get('traceparent');
  if (ctx !== undefined) return (ctx.split('-')[3] ?? '') === '01';
  return false;
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
    if (!sampled && !headerSampled(hdr)) return null;
    return { exporter: this.exporter, subject: this.cfg.subject, requestorCid, share: this.share, startMs: Date.now() };
  }
}
