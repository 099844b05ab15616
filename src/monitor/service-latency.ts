// The io.nats.server.metric.v1.service_latency message of a measured service import request
// (nats-server sendTrackingLatency), published in the exporting account on the export's latency
// subject. The sampling and the timing live in src/core/imports*.ts; this builds the JSON.
import { nuid } from '@nats-io/nuid';
import type { Server } from '../server/server.js';
import type { LatencyReporter } from '../core/imports-latency.js';
import { goJson, goTime, nanos } from './format.js';
import { clientInfoJson } from './sys-events.js';

type Json = Record<string, unknown>;

/** nats-server getClientInfo: the account and RTT, and with `detailed` who the client is. */
export function clientInfo(server: Server, cid: number, detailed: boolean): Json {
  const c = server.clients.get(cid);
  if (c === undefined) return {};
  const rtt = c.rttMs > 0 ? nanos(c.rttMs) : 0;
  if (!detailed) return rtt > 0 ? { acc: c.account.name, rtt } : { acc: c.account.name };
  const info = clientInfoJson(c, false);
  if (rtt > 0) info.rtt = rtt;
  info.server = server.serverName;
  return info;
}

export function serviceLatencyReporter(server: Server): LatencyReporter {
  return (track, responderCid, endMs) => {
    const requestor = clientInfo(server, track.requestorCid, track.share);
    const responder = clientInfo(server, responderCid, true);
    const reqRtt = typeof requestor.rtt === 'number' ? requestor.rtt : 0;
    const respRtt = typeof responder.rtt === 'number' ? responder.rtt : 0;
    const serviceRtt = nanos(endMs - track.startMs);
    const metric: Json = {
      type: 'io.nats.server.metric.v1.service_latency',
      id: nuid.next(),
      timestamp: goTime(endMs),
      status: 200,
      requestor,
      responder,
      start: goTime(track.startMs - reqRtt / 1e6),
      service: Math.max(0, serviceRtt - respRtt),
      system: 0,
      total: reqRtt + serviceRtt,
    };
    server.imports.publishLater(track.exporter, track.subject, goJson(metric, false));
  };
}
