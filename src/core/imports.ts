// Account exports and imports from the configuration, applied (nats-server accounts.go model).
//
// Stream import (account B imports subject S of A, seen in B as L): every subscription in B
// that overlaps L gets a shadow subscription in A on the overlap mapped back to S. A message
// published in A (or routed to A) matches the shadow like any subscriber and is handed to the
// real subscription with its subject mapped to L. The shadow is ordinary interest of A, so
// routes and leaf nodes learn it as A's interest and bring A's messages here.
//
// Service import (B imports service S of A, seen in B as L): an internal subscription in B on
// L (local only: every server serves its own importers) republishes requests into A on S with
// the reply rewritten to a `_R_.<prefix>.<n>` subject of A. A's wildcard subscription on its
// `_R_.<prefix>.>` (announced to routes, so answers given on other servers come back here)
// takes the answers and publishes them into B on the original reply. A singleton mapping ends
// with its first answer; stream and chunked ones live until the export's response threshold
// passes without an answer (an empty message also ends them), as do unanswered singletons.
// A mapping also ends when nothing in the importing account listens on the reply subject any more.
//
// Accounts without imports pay one null check per subscription change and nothing per message.
import { randomBytes } from 'node:crypto';
import type { Account } from './account.js';
import type { InternalClient } from './internal-client.js';
import {
  ClientKind, InboundMsg, Subscription, type MsgOrigin, type MsgSink, type RouteSink,
} from './types.js';
import { sameSubject, subjectIsLiteral } from './subject.js';
import { SubjectMapping, isSubsetMatch, subjectIntersection } from './imports-subject.js';
import { encodeName } from '../protocol/names.js';
import { getHeader, setHeader } from '../protocol/headers.js';
import type { AccountConfig, ExportEntry } from '../config/options.js';
import {
  BAD_REQUEST, LatencySampler, REQUEST_TIMEOUT, SERVICE_TIMEOUT, SERVICE_UNAVAILABLE, type LatencyFailure, type LatencyReporter, type LatencyTrack,
} from './imports-latency.js';

/** nats-server DEFAULT_SERVICE_EXPORT_RESPONSE_THRESHOLD */
export const DEFAULT_RESPONSE_THRESHOLD_MS = 2 * 60_000;
/** JetStream acks keep their own reply subject: the importer imports `$JS.ACK` (nats-server's special case). */
const JS_ACK_PREFIX = '$JS.ACK.';

export type ResponseType = 'singleton' | 'stream' | 'chunked';

/** What the imports need from the server. */
export interface ImportsHost {
  lookupAccount(name: string): Account | undefined;
}

interface StreamImport {
  exporter: Account;
  /** subject pattern in the importing account */
  local: string;
  /** exporter subject -> importer subject */
  toLocal: SubjectMapping;
  /** importer subject -> exporter subject */
  toRemote: SubjectMapping;
}

/** nats-server's ClientInfo of a connection for the Nats-Request-Info header (`detailed`: the
 *  import shares the requester's details); null when `cid` is not a client connection. */
export type RequestInfo = (cid: number, detailed: boolean) => Record<string, unknown> | null;
/** nats-server ClientInfoHdr */
export const REQUEST_INFO_HDR = 'Nats-Request-Info';

export interface ServiceImport {
  importer: Account;
  share: boolean;
  exporter: Account;
  local: string;
  remote: string;
  toRemote: SubjectMapping;
  rt: ResponseType;
  thresholdMs: number;
  latency: LatencySampler | null;
}

/** The service export of `exporter` that covers `subject`, nats-server getServiceExport. */
export function findExport(cfg: AccountConfig | undefined, subject: string, kind: 'service' | 'stream'): ExportEntry | undefined {
  const all = (cfg?.exports ?? []).filter((e) => (kind === 'service' ? e.service : e.stream) !== undefined);
  return all.find((e) => (e.service ?? e.stream) === subject)
    ?? all.find((e) => isSubsetMatch(subject, (e.service ?? e.stream)!));
}

/** `msg` routed on `subject` in another account (the buffers are shared, not copied). */
function copyMsg(msg: InboundMsg, subject: string, subjectBytes: Buffer, reply: string, replyBytes: Buffer | null, origin: MsgOrigin): InboundMsg {
  const m = new InboundMsg(origin);
  m.subject = subject;
  m.subjectBytes = subjectBytes;
  m.reply = reply;
  m.replyBytes = replyBytes;
  m.hdrLen = msg.hdrLen;
  m.data = msg.data;
  return m;
}

/** Hands a message matched by a shadow subscription in the exporter to the importer's subscription. */
class ShadowSink implements MsgSink {
  readonly kind = ClientKind.ACCOUNT;
  readonly cid: number;

  constructor(private readonly real: Subscription, private readonly im: StreamImport, private readonly importer: Account) {
    this.cid = real.owner.cid;
  }

  deliverMsg(_shadow: Subscription, msg: InboundMsg): boolean {
    const real = this.real;
    if (real.closed) return false;
    let m = msg;
    if (!this.im.toLocal.identity) {
      const local = this.im.toLocal.apply(msg.subject);
      // a JetStream delivery shows the stored message's subject: it stays as it is
      m = copyMsg(msg, local, sameSubject(msg.subjectBytes, msg.subject) ? encodeName(local) : msg.subjectBytes, msg.reply, msg.replyBytes, msg.origin);
    }
    const owner = real.owner;
    if (owner.kind === ClientKind.LEAF) {
      return (owner as RouteSink).forwardMsg(this.importer, m, real.queue !== undefined ? [real.queue] : null);
    }
    return owner.deliverMsg(real, m);
  }
}

/** The stream imports of one account and the shadow subscriptions of its subscriptions. */
export class StreamImports {
  private readonly shadows = new Map<Subscription, Subscription[]>();

  constructor(private readonly importer: Account, private readonly list: StreamImport[]) {}

  /** A subscription was added to the importing account. Routes' interest is the other servers'
   *  own business (they shadow it there); local-only and shadow subscriptions are internal. */
  added(sub: Subscription): void {
    if (sub.localOnly || sub.owner.kind === ClientKind.ROUTE || sub.owner instanceof ShadowSink) return;
    let made: Subscription[] | undefined;
    for (const im of this.list) {
      const overlap = subjectIntersection(sub.subject, im.local);
      if (overlap === null) continue;
      const shadow = new Subscription(im.toRemote.apply(overlap), sub.queue, sub.sid, new ShadowSink(sub, im, this.importer));
      if (!im.exporter.addSubscription(shadow)) continue;
      (made ??= []).push(shadow);
    }
    if (made !== undefined) this.shadows.set(sub, made);
  }

  removed(sub: Subscription): void {
    const made = this.shadows.get(sub);
    if (made === undefined) return;
    this.shadows.delete(sub);
    for (const s of made) s.account?.removeSubscription(s);
  }

  close(): void {
    if (this.importer.importObserver === this) this.importer.importObserver = null;
    for (const made of this.shadows.values()) for (const s of made) s.account?.removeSubscription(s);
    this.shadows.clear();
  }
}

interface ResponseEntry {
  /** the account the answer goes to, and the subject there */
  dest: Account;
  to: string;
  rt: ResponseType;
  thresholdMs: number;
  expiresAt: number;
  /** latency tracking of a sampled singleton request */
  track: LatencyTrack | null;
  /** stops watching the interest on `to` in `dest` */
  unwatch: (() => void) | null;
}

/** The `_R_` reply subjects of one account that lead answers back to importing accounts. Its
 *  subscription takes the message itself: a JetStream delivery (pull requests) is routed on the
 *  reply subject but shows the stored message's subject, and so must the answer in the importer. */
class ResponseRoutes implements MsgSink {
  readonly kind = ClientKind.ACCOUNT;
  readonly cid = 0;
  readonly prefix = `_R_.${randomBytes(4).toString('base64url').slice(0, 6)}.`;
  private readonly entries = new Map<string, ResponseEntry>();
  private seq = 0;
  private sub: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;

  constructor(private readonly imports: AccountImports, private readonly owner: Account) {}

  /** A new reply subject in the owner account for an answer that goes to `dest` on `to`. */
  add(dest: Account, to: string, rt: ResponseType, thresholdMs: number, track: ResponseEntry['track']): string {
    if (this.sub === null) {
      this.sub = new Subscription(`${this.prefix}>`, undefined, 'responses', this);
      this.owner.addSubscription(this.sub);
    }
    const reply = this.prefix + (++this.seq).toString(36);
    const expiresAt = Date.now() + thresholdMs;
    const e: ResponseEntry = { dest, to, rt, thresholdMs, expiresAt, track, unwatch: null };
    this.entries.set(reply, e);
    // nats-server's reverse response map: once nothing in `dest` listens on `to` any more (the
    // requester unsubscribed its inbox or disconnected) the mapping goes, and a measured request
    // reports 408. The watcher also fires on additions; those leave interest in place.
    if (subjectIsLiteral(to)) e.unwatch = dest.watchInterest(to, () => this.interestChanged(reply, e));
    // one timer for all: moved earlier when this mapping expires before the one it waits for
    if (this.timer === null || expiresAt < this.timerDue) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = this.schedule(thresholdMs);
    }
    return reply;
  }

  /** Drop a mapping whose request nobody took (a measured one reports 503). */
  remove(reply: string): void {
    const e = this.entries.get(reply);
    if (e === undefined) return;
    this.drop(reply, e);
    if (e.track) this.imports.reportLatency(e.track, 0, SERVICE_UNAVAILABLE);
  }

  private drop(reply: string, e: ResponseEntry): void {
    this.entries.delete(reply);
    e.unwatch?.();
    e.unwatch = null;
  }

  /** A subscription that can match the requester's reply subject came or went. */
  private interestChanged(reply: string, e: ResponseEntry): void {
    if (this.entries.get(reply) !== e || e.dest.sublist.hasInterest(e.to)) return;
    this.drop(reply, e);
    if (e.track !== null) this.imports.reportLatency(e.track, 0, REQUEST_TIMEOUT);
  }

  deliverMsg(_sub: Subscription, msg: InboundMsg): boolean {
    const subject = msg.subject;
    const e = this.entries.get(subject);
    if (e === undefined) return false;
    const reply = msg.reply;
    let nrr = '';
    if (reply !== '') {
      // an answer that wants an answer itself: map its reply back into this account
      nrr = reply.startsWith(JS_ACK_PREFIX) ? reply
        : this.imports.responsesOf(e.dest).add(this.owner, reply, 'singleton', e.thresholdMs, null);
    }
    if (e.track !== null) {
      this.imports.reportLatency(e.track, msg.origin.cid);
      // answered: a requester that unsubscribes on this answer (max 1) is no lost interest
      e.track = null;
    }
    const shown = sameSubject(msg.subjectBytes, subject) ? encodeName(e.to) : msg.subjectBytes;
    const m = copyMsg(msg, e.to, shown, nrr, nrr === '' ? null : encodeName(nrr), { cid: msg.origin.cid, account: e.dest.name, kind: 'internal' });
    e.dest.stats.inMsgs++;
    e.dest.stats.inBytes += m.data.length;
    const n = e.dest.processMsg(m, null, false);
    const eof = m.data.length === 0;
    if (n === 0 || e.rt === 'singleton' || eof) this.drop(subject, e);
    else e.expiresAt = Date.now() + e.thresholdMs;
    return true;
  }

  private schedule(ms: number): NodeJS.Timeout {
    this.timerDue = Date.now() + ms;
    const t = setTimeout(() => this.sweep(), ms);
    t.unref();
    return t;
  }

  private sweep(): void {
    this.timer = null;
    const now = Date.now();
    let next = Infinity;
    for (const [reply, e] of this.entries) {
      if (e.expiresAt <= now) {
        this.drop(reply, e);
        // a measured request that was never answered
        if (e.track !== null) this.imports.reportLatency(e.track, 0, SERVICE_TIMEOUT);
      } else next = Math.min(next, e.expiresAt);
    }
    if (next !== Infinity) this.timer = this.schedule(Math.max(1, next - now));
  }

  close(): void {
    if (this.sub !== null) this.owner.removeSubscription(this.sub);
    this.sub = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const e of this.entries.values()) e.unwatch?.();
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `o` with `key` set, placed right after `after` (Go's ClientInfo field order). */
function insertAfter(o: Record<string, unknown>, after: string, key: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === key) continue;
    out[k] = v;
    if (k === after) out[key] = value;
  }
  if (!(key in out)) out[key] = value;
  return out;
}

/** Service imports in flight on the (synchronous) delivery path: a request that comes back to
 *  an import it already went through is a cycle and is dropped, as nats-server does. */
const inFlight = new Set<ServiceImport>();

/** All exports and imports of the configured accounts. */
export class AccountImports {
  private readonly clients = new Map<Account, InternalClient>();
  private readonly responses = new Map<Account, ResponseRoutes>();
  private readonly streamImports: StreamImports[] = [];
  /** the service imports' subscriptions: [client, sid] */
  private readonly serviceSubs: Array<[InternalClient, number]> = [];
  private readonly configs = new Map<string, AccountConfig>();
  private latencyReporter: LatencyReporter | null = null;
  private clientInfo: RequestInfo | null = null;

  constructor(private readonly host: ImportsHost) {}

  /** Apply the exports and imports of `accounts` (replacing what was applied before; response
   *  mappings of requests in flight stay). The configuration loader has already rejected
   *  unauthorized imports and cycles; operator mode marks the ones no longer authorized `invalid`. */
  configure(accounts: readonly AccountConfig[]): void {
    this.detach();
    this.configs.clear();
    for (const a of accounts) this.configs.set(a.name, a);
    const byName = this.configs;
    for (const cfg of accounts) {
      const importer = this.host.lookupAccount(cfg.name);
      if (importer === undefined) continue;
      const streams: StreamImport[] = [];
      for (const imp of cfg.imports) {
        const src = imp.stream ?? imp.service;
        if (imp.invalid) {
          // a service import no longer authorized keeps its interest and drops what it gets (a
          // requester times out, as with nats-server); an invalid stream import shadows nothing
          if (imp.service) this.serviceSubs.push([this.clientOf(importer), this.clientOf(importer).subscribe(imp.to ?? imp.service.subject, () => {}, undefined, true)]);
          continue;
        }
        const exporter = src && this.host.lookupAccount(src.account);
        if (src === undefined || exporter === undefined) continue;
        if (imp.stream) {
          const local = imp.prefix ? `${imp.prefix.replace(/\.$/, '')}.${src.subject}` : imp.to ?? src.subject;
          streams.push({
            exporter, local,
            toLocal: new SubjectMapping(src.subject, local),
            toRemote: new SubjectMapping(local, src.subject),
          });
        } else {
          const local = imp.to ?? src.subject;
          const exp = findExport(byName.get(src.account), src.subject, 'service');
          const rt = exp?.responseType ?? 'singleton';
          const si: ServiceImport = {
            importer, exporter, share: imp.share === true, local, remote: src.subject,
            toRemote: new SubjectMapping(local, src.subject),
            rt, thresholdMs: exp?.responseThresholdMs ?? DEFAULT_RESPONSE_THRESHOLD_MS,
            latency: exp?.latency && rt === 'singleton'
              ? new LatencySampler(exp.latency, exporter, imp.share === true)
              : null,
          };
          const c = this.clientOf(importer);
          this.serviceSubs.push([c, c.subscribe(local, (subject, reply, hdr, payload, origin) => {
            // the publisher's own server moved it into the exporter already (a routed copy is
            // for the importer's subscribers here; nats-server ignores it for the import too)
            if (origin.kind === 'route') return;
            this.request(si, subject, reply, hdr, payload, origin.cid);
          }, undefined, true)]);
        }
      }
      if (streams.length > 0) {
        const si = new StreamImports(importer, streams);
        this.streamImports.push(si);
        importer.importObserver = si;
        // subscriptions made before (a reload) get their shadows now
        for (const sub of importer.sublist.all()) si.added(sub);
      }
    }
  }

  /** The internal client of `acc` that publishes imported requests and answers into it. */
  clientOf(acc: Account): InternalClient {
    let c = this.clients.get(acc);
    if (c === undefined) this.clients.set(acc, c = acc.createInternalClient('imports'));
    return c;
  }

  responsesOf(acc: Account): ResponseRoutes {
    let r = this.responses.get(acc);
    if (r === undefined) this.responses.set(acc, r = new ResponseRoutes(this, acc));
    return r;
  }

  /** Who publishes service latency metrics (the monitor layer); none: requests are not measured. */
  setLatencyReporter(r: LatencyReporter | null): void {
    this.latencyReporter = r;
  }

  /** Who describes requesters for the Nats-Request-Info header (the monitor layer). */
  setRequestInfo(fn: RequestInfo | null): void {
    this.clientInfo = fn;
  }

  /**
   * The request's headers with Nats-Request-Info (nats-server processServiceImport): the
   * requester's account and RTT (its details with `share`). A request that already went through
   * an import keeps its requester and names the account it is in now as `svc`.
   */
  private withRequestInfo(si: ServiceImport, hdr: Buffer | undefined, cid: number): Buffer | undefined {
    const ci = this.clientInfo?.(cid, si.share) ?? null;
    if (ci !== null) return setHeader(hdr, REQUEST_INFO_HDR, JSON.stringify(ci));
    const prev = getHeader(hdr, REQUEST_INFO_HDR);
    if (prev === undefined) return hdr;
    try {
      const info = JSON.parse(prev) as Record<string, unknown>;
      return setHeader(hdr, REQUEST_INFO_HDR, JSON.stringify(insertAfter(info, 'acc', 'svc', si.importer.name)));
    } catch {
      return hdr;
    }
  }

  reportLatency(track: LatencyTrack, responderCid: number, failure?: LatencyFailure): void {
    this.latencyReporter?.(track, responderCid, Date.now(), failure);
  }

  /** Publish outside the delivery path (nats-server sends its internal account messages from a queue). */
  publishLater(acc: Account, subject: string, body: string): void {
    setImmediate(() => this.clients.get(acc)?.publish(subject, '', undefined, body));
  }

  /** Pending response mappings of `acc` (tests, monitoring). */
  pendingResponses(acc: Account): number {
    return this.responses.get(acc)?.size ?? 0;
  }

  /** A request published in the importing account on the import's local subject. */
  private request(si: ServiceImport, subject: string, reply: string, hdr: Buffer | undefined, payload: Buffer, cid: number): void {
    if (inFlight.has(si)) return;
    inFlight.add(si);
    try {
      let nrr = '';
      const track = this.latencyReporter !== null ? si.latency?.sample(hdr, cid) ?? null : null;
      if (reply !== '') {
        nrr = reply.startsWith(JS_ACK_PREFIX) ? reply
          : this.responsesOf(si.exporter).add(si.importer, reply, si.rt, si.thresholdMs, track);
      } else if (track !== null) {
        // a measured request that cannot be answered
        this.reportLatency(track, 0, BAD_REQUEST);
      }
      const n = this.clientOf(si.exporter).publish(si.toRemote.apply(subject), nrr, this.withRequestInfo(si, hdr, cid), payload);
      // nobody in the exporting account took it: no answer will come
      if (n === 0 && nrr !== '' && nrr !== reply) this.responsesOf(si.exporter).remove(nrr);
    } finally {
      inFlight.delete(si);
    }
  }

  /** The account configuration applied last for `name` (config or account JWT), for /accountz. */
  configOf(name: string): AccountConfig | undefined {
    return this.configs.get(name);
  }

  /** Remove the applied imports (the response mappings stay). */
  private detach(): void {
    for (const si of this.streamImports) si.close();
    this.streamImports.length = 0;
    for (const [c, sid] of this.serviceSubs) c.unsubscribe(sid);
    this.serviceSubs.length = 0;
  }

  /** Remove everything applied (shutdown). */
  close(): void {
    this.detach();
    this.configs.clear();
    for (const r of this.responses.values()) r.close();
    this.responses.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
