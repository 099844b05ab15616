// The io.nats.server.metric.v1.service_latency message of a measured service import request
// (nats-server sendTrackingLatency), published in the exporting account on the export's latency
// subject. The sampling and the timing live in src/core/imports*.ts; this builds the JSON.
import { nuid } from '@nats-io/nuid';
import type { Server } from '../server/server.js';
import type { LatencyReporter } from '../core/imports-latency.js';
import { goJson, goTime, nanos } from './format.js';
import { clientInfoJson } from './sys-events.js';
import { decodeJwt } from '../config/jwt-lib.js';

type Json = Record<string, unknown>;

/** nats-server getClientInfo: the account and RTT, and with `detailed` who the client is. */
export function clientInfo(server: Server, cid: number, detailed: boolean): Json {
  const c = server.clients.get(cid);
  if (c === undefined) return {};
  const rtt = c.rttMs > 0 ? nanos(c.rttMs) : 0;
  if (!detailed) return rtt > 0 ? { acc: c.account.name, rtt } : { acc: c.account.name };
  const { kind, client_type: clientType, ...info } = clientInfoJson(c, false);
  if (rtt > 0) info.rtt = rtt;
  info.server = server.serverName;
  Object.assign(info, jwtUserInfo(c.opts.jwt, c.account.name));
  return { ...info, kind, client_type: clientType };
}

/** The user JWT fields of ClientInfo (operator mode): the JWT, who signed it (the account, or
 *  its signing key), the user's name and tags. */
function jwtUserInfo(jwt: string | undefined, account: string): Json {
  if (!jwt) return {};
  try {
    const uc = decodeJwt<{ issuer_account?: string; tags?: string[] }>(jwt);
    const out: Json = { jwt, issuer_key: uc.nats?.issuer_account ? uc.iss : account };
    if (uc.name) out.name_tag = uc.name;
    if (Array.isArray(uc.nats?.tags) && uc.nats.tags.length > 0) out.tags = uc.nats.tags;
    return out;
  } catch {
    return { jwt };
  }
}

/** The metric's `header` field (the trace headers that asked for it), its names sorted as Go
 *  encodes a map; absent when the request was sampled by percentage. */
function headerField(h: Record<string, string[]> | undefined): Json {
  if (h === undefined) return {};
  const sorted: Record<string, string[]> = {};
  for (const k of Object.keys(h).sort()) sorted[k] = h[k]!;
  return Object.keys(sorted).length > 0 ? { header: sorted } : {};
}

export function serviceLatencyReporter(server: Server): LatencyReporter {
  return (track, responderCid, endMs, failure) => {
    const requestor = clientInfo(server, track.requestorCid, track.share);
    if (failure !== undefined) {
      // no responder: nats-server leaves it out and reports no durations
      const rtt = typeof requestor.rtt === 'number' ? requestor.rtt : 0;
      const start = failure.status === 400 ? endMs : track.startMs;
      const metric: Json = {
        type: 'io.nats.server.metric.v1.service_latency', id: nuid.next(), timestamp: goTime(endMs),
        status: failure.status, description: failure.description, requestor,
        ...headerField(track.header),
        start: goTime(start - rtt / 1e6), service: 0, system: 0, total: 0,
      };
      server.imports.publishLater(track.exporter, track.subject, goJson(metric, false));
      return;
    }
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
      ...headerField(track.header),
      start: goTime(track.startMs - reqRtt / 1e6),
      service: Math.max(0, serviceRtt - respRtt),
      system: 0,
      total: reqRtt + serviceRtt,
    };
    server.imports.publishLater(track.exporter, track.subject, goJson(metric, false));
  };
}
