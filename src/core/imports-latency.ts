// Service latency tracking (nats-server `latency: { sampling, subject }` on a service export):
// for a sampled request through an import, the exporting account gets one
// io.nats.server.metric.v1.service_latency message on the export's latency subject when the
// answer reaches the requester's server. Only singleton exports are tracked (the config loader
// refuses latency on the others, as nats-server does).
import { nuid } from '@nats-io/nuid';
import type { Account } from './account.js';
import type { Client } from './client.js';
import { goJson, goTime, nanos } from '../monitor/format.js';
import { clientInfoJson } from '../monitor/sys-events.js';

type Json = Record<string, unknown>;

export interface LatencyHost {
  readonly clients: ReadonlyMap<number, Client>;
  readonly serverName: string;
}

/** What the answer needs to finish a sampled request's measurement. */
export interface LatencyTrack {
  latency: ServiceLatency;
  requestor: Json;
  start: number;
}

/** Trace headers that decide sampling with `sampling: headers` (nats-server shouldSample). */
function headerSampled(hdr: Buffer | undefined): boolean {
  if (hdr === undefined) return false;
  const h = new Map<string, string>();
  for (const line of hdr.toString('latin1').split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
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

export class ServiceLatency {
  constructor(
    private readonly cfg: { subject: string; sampling: number | 'headers' },
    private readonly host: LatencyHost,
    private readonly exporter: Account,
    private readonly publish: (acc: Account, subject: string, body: string) => void,
    private readonly share: boolean,
  ) {}

  /** Start a measurement for this request, or null when it is not sampled. */
  sample(hdr: Buffer | undefined, requestorCid: number): LatencyTrack | null {
    const s = this.cfg.sampling;
    const sampled = s === 'headers' ? headerSampled(hdr) : s >= 100 || Math.floor(Math.random() * 100) <= s || headerSampled(hdr);
    if (!sampled) return null;
    return { latency: this, requestor: this.clientInfo(requestorCid, this.share), start: Date.now() };
  }

  /** The answer arrived: publish the metric in the exporting account. */
  report(track: LatencyTrack, responderCid: number): void {
    const now = Date.now();
    const responder = this.clientInfo(responderCid, true);
    const reqRtt = typeof track.requestor.rtt === 'number' ? track.requestor.rtt : 0;
    const respRtt = typeof responder.rtt === 'number' ? responder.rtt : 0;
    const serviceRtt = nanos(now - track.start);
    const metric: Json = {
      type: 'io.nats.server.metric.v1.service_latency',
      id: nuid.next(),
      timestamp: goTime(now),
      status: 200,
      requestor: track.requestor,
      responder,
      start: goTime(track.start - reqRtt / 1e6),
      service: Math.max(0, serviceRtt - respRtt),
      system: 0,
      total: Math.max(0, reqRtt + serviceRtt),
    };
    this.publish(this.exporter, this.cfg.subject, goJson(metric, false));
  }

  /** nats-server getClientInfo: the account and RTT, and with `detailed` who the client is. */
  private clientInfo(cid: number, detailed: boolean): Json {
    const c = this.host.clients.get(cid);
    if (c === undefined) return {};
    const rtt = c.rttMs > 0 ? nanos(c.rttMs) : 0;
    if (!detailed) return rtt > 0 ? { acc: c.account.name, rtt } : { acc: c.account.name };
    const info = clientInfoJson(c, false);
    if (rtt > 0) info.rtt = rtt;
    info.server = this.host.serverName;
    return info;
  }
}
