// The clustered $JS.API: which server answers which request, and the meta leader's side
// of the meta operations (nats-server jsClusteredStreamRequest, jsClusteredStreamUpdateRequest,
// jsClusteredStreamDeleteRequest, jsClusteredConsumerRequest, jsLeaderStepDownRequest,
// jsLeaderServerRemoveRequest).
//
// Every server receives every request (the API subscription exists on all of them), so the
// rule that gives exactly one reply is decided here, on each server, from the same
// replicated state:
// * meta operations: the meta leader only; with no meta leader, the server the client is
//   connected to answers 10008 (nats-server lets every server answer that one; one answer
//   is enough and the client keeps only the first anyway);
// * stream / consumer requests: the server holding the R1 asset; when the asset is not
//   assigned at all, the meta leader answers (10059 / 10014).

import { randomFillSync } from 'node:crypto';
import type { InternalClient } from '../../core/internal-client.js';
import { peerIdForServerName } from '../../raft/index.js';
import type { ApiHandler, ApiRequest } from '../api/router.js';
import { ApiError, jsErr, jsErrText } from '../api/errors.js';
import { decodeBody, guarded, isEmptyBody, requireAccount, sendErr, sendOk, type JsApiContext } from '../api/context.js';
import {
  API_LIST_LIMIT, API_NAMES_LIMIT, ResponseType, encodeStreamConfig, streamCreateRequestSchema, streamNamesRequestSchema,
  type StreamConfigRequest, type StreamNamesRequest,
} from '../api/types.js';
import { decodeRequest, goJson, goTimeFromNanos, type Schema } from '../api/json.js';
import { assignedStreamConfig, checkStreamConfig, checkStreamUpdate } from '../stream-config.js';
import { subjectsCollide } from '../subjects.js';
import { accountInfo } from '../api/stream-api.js';
import { createConsumerTarget, decodeCreateConsumerBody } from '../consumer/create-request.js';
import { isEmptyRequest } from '../consumer/api.js';
import { nowNs } from '../consumer/go-format.js';
import {
  MetaOp, accountOf, encodeConsumerEntry, encodeStreamEntry,
  type ConsumerAssignment, type RaftGroupJson, type StreamAssignment, type StreamEntry,
} from './assignments.js';
import { holderOf, isReplicated, type ClusteredJetStream } from './js-cluster.js';
import { answerConsumerNames } from './consumer-names.js';
import { answerConsumerList, collectLeaderInfos, collectStreamInfos } from './list-collect.js';
import { consumerInfoSubject } from './leader-info.js';
import { randomCurrentPeer } from './stream-group.js';
import { consumerReplicaCount, createGroupForConsumer, createGroupForStream, stepDownPreferredPeer, type PlacementContext } from './placement.js';
import type { RaftGroup } from './meta-codec.js';
import { consumersAfterPeerRemoval, fillMissingPeer, placementConfigOf, remapGroup, scaleConsumerGroup, scaleGroup } from './peer-changes.js';
import { PEER_REMOVE_APPLY_MS, PEER_REMOVE_REFUSED, waitFor, waitRemovalSafe } from './peer-remove-guard.js';

const T = 'io.nats.jetstream.api.v1.';
const CONSUMER_CREATE = T + 'consumer_create_response';
const CONSUMER_INFO = T + 'consumer_info_response';
const CONSUMER_DELETE = T + 'consumer_delete_response';
const CONSUMER_LIST = T + 'consumer_list_response';
const CONSUMER_NAMES = T + 'consumer_names_response';
const META_STEPDOWN = T + 'meta_leader_stepdown_response';
const SERVER_REMOVE = T + 'meta_server_remove_response';

const ZERO_TIME = '0001-01-01T00:00:00Z';
/** How long the meta leader waits for a consumer leader to name itself (nats-server's sysRequest timeout). */
const CONSUMER_LEADER_ASK_MS = 2000;
const STEPDOWN_SCHEMA: Schema = {
  placement: { object: { cluster: 'string', tags: { array: 'string' }, preferred: 'string' }, name: 'Placement' },
};
const SERVER_REMOVE_SCHEMA: Schema = { peer: 'string', peer_id: 'string' };
const EMPTY_STATE = {
  messages: 0, bytes: 0, first_seq: 0, first_ts: ZERO_TIME, last_seq: 0, last_ts: ZERO_TIME, consumer_count: 0,
};

type Kind =
  | { k: 'meta'; type: string }
  | { k: 'stream'; type: string; stream: string }
  | { k: 'consumer'; type: string; stream: string; consumer: string }
  | { k: 'none' };

/** What a $JS.API subject is, from its tokens after "$JS.API.". */
export function classify(t: string[]): Kind {
  const [a, b, c] = t;
  if (a === 'INFO' && t.length === 1) return { k: 'meta', type: ResponseType.AccountInfo };
  if (a === 'STREAM') {
    if (t.length === 3 && b === 'CREATE') return { k: 'meta', type: ResponseType.StreamCreate };
    if (t.length === 3 && b === 'UPDATE') return { k: 'meta', type: ResponseType.StreamUpdate };
    if (t.length === 3 && b === 'DELETE') return { k: 'meta', type: ResponseType.StreamDelete };
    if (t.length === 2 && b === 'NAMES') return { k: 'meta', type: ResponseType.StreamNames };
    if (t.length === 2 && b === 'LIST') return { k: 'meta', type: ResponseType.StreamList };
    if (t.length === 3 && b === 'RESTORE') return { k: 'meta', type: ResponseType.StreamRestore };
    if (t.length === 3 && b === 'INFO') return { k: 'stream', type: ResponseType.StreamInfo, stream: c! };
    if (t.length === 3 && b === 'PURGE') return { k: 'stream', type: ResponseType.StreamPurge, stream: c! };
    if (t.length === 3 && b === 'SNAPSHOT') return { k: 'stream', type: ResponseType.StreamSnapshot, stream: c! };
    if (t.length === 4 && b === 'MSG' && c === 'GET') return { k: 'stream', type: ResponseType.StreamMsgGet, stream: t[3]! };
    if (t.length === 4 && b === 'MSG' && c === 'DELETE') return { k: 'stream', type: ResponseType.StreamMsgDelete, stream: t[3]! };
    if (t.length === 4 && b === 'LEADER' && c === 'STEPDOWN') return { k: 'stream', type: ResponseType.StreamLeaderStepdown, stream: t[3]! };
    // The meta leader changes a stream's peers (nats-server jsStreamRemovePeerRequest).
    if (t.length === 4 && b === 'PEER' && c === 'REMOVE') return { k: 'meta', type: ResponseType.StreamRemovePeer };
    return { k: 'none' };
  }
  if (a === 'CONSUMER') {
    if (b === 'CREATE' && t.length >= 3) return { k: 'meta', type: CONSUMER_CREATE };
    if (b === 'DURABLE' && c === 'CREATE') return { k: 'meta', type: CONSUMER_CREATE };
    if (b === 'DELETE' && t.length === 4) return { k: 'meta', type: CONSUMER_DELETE };
    if ((b === 'NAMES' || b === 'LIST') && t.length === 3) {
      return { k: 'stream', type: b === 'NAMES' ? CONSUMER_NAMES : CONSUMER_LIST, stream: c! };
    }
    if (b === 'INFO' && t.length === 4) return { k: 'consumer', type: CONSUMER_INFO, stream: c!, consumer: t[3]! };
    if (b === 'LEADER' && t[2] === 'STEPDOWN' && t.length === 5) {
      return { k: 'consumer', type: T + 'consumer_leader_stepdown_response', stream: t[3]!, consumer: t[4]! };
    }
  }
  return { k: 'none' };
}

/** nats-server's errRespDelay: an error answer that gives a live leader the chance to answer first. */
const ERR_RESPONSE_DELAY_MS = 500;

/** A consumer create asking for `direct: true` (checked on the decoded body: the text may vary). */
function isDirectCreate(payload: Buffer): boolean {
  if (!payload.includes('"direct"')) return false;
  try {
    const body = JSON.parse(payload.toString()) as { config?: { direct?: unknown } };
    return body.config?.direct === true;
  } catch {
    return false;
  }
}

const key = (account: string, name: string): string => `${account}\u0000${name}`;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// One randomFillSync serves 64 tokens: a randomBytes call per token cost the meta leader tens of
// µs on each create's path (a stream's sync subject).
const randomPool = Buffer.alloc(512);
let randomAt = randomPool.length;
function rand8(): string {
  if (randomAt + 8 > randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  let s = '';
  for (let i = 0; i < 8; i++) s += BASE62[randomPool[randomAt++]! % 62];
  return s;
}

/**
 * Replica changes tsnats carries out: any change between 1 and the configured maximum (up from
 * one replica the old server seeds the new ones: stream-membership.ts).
 */
export function scalingSupported(from: number, to: number): boolean {
  return from >= 1 && to >= 1;
}

/** Assignment times with nanoseconds, as nats-server's time.Now().UTC(). */
const nowGo = (): string => goTimeFromNanos(nowNs());

/** A placed group as the meta state carries it. */
function groupJson(g: RaftGroup): RaftGroupJson {
  const out: RaftGroupJson = { name: g.name, peers: g.peers, store: g.store };
  if (g.cluster) out.cluster = g.cluster;
  if (g.preferred) out.preferred = g.preferred;
  return out;
}

interface Inflight {
  cfg: string;
  /** Repeats of the proposed request: answered as idempotent creates once it applied. */
  waiters: ApiRequest[];
  /** Other requests for the same consumer: decided again once it applied (they see its result). */
  after?: ApiRequest[];
  /** The proposed request (consumers only: answered here if its stream went away first). */
  req?: ApiRequest;
}

export class ClusterApi {
  private readonly c: ClusteredJetStream;
  /** Proposed, not yet applied stream assignments (leader only): repeated creates wait here. */
  private readonly inflightStreams = new Map<string, Inflight>();
  private readonly inflightConsumers = new Map<string, Inflight>();
  /** Last good assignment before an update, to restore if the holder rejects it. */
  private readonly beforeUpdate = new Map<string, StreamAssignment>();
  /** Consumers this leader proposed as new (removed again if their holder fails to create them). */
  private readonly newConsumers = new Map<string, ConsumerAssignment | null>();
  /** SERVER.REMOVE requests waiting for the EntryRemovePeer to commit. */
  private readonly pendingRemovals = new Map<string, string[]>();
  /** STREAM.PEER.REMOVE under way per stream (the next one of the same stream waits for it). */
  private readonly peerRemovals = new Map<string, Promise<void>>();
  private sysClient: InternalClient | undefined;
  /** Error answers waiting out ERR_RESPONSE_DELAY_MS (answerOffline). */
  private readonly delayed = new Set<NodeJS.Timeout>();

  constructor(c: ClusteredJetStream) {
    this.c = c;
  }

  private get ctx(): JsApiContext {
    return this.c.js.api;
  }

  stop(): void {
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    this.inflightStreams.clear();
    this.inflightConsumers.clear();
  }

  // ------------------------------------------------------------------ routing

  route(req: ApiRequest, handler: ApiHandler | undefined): void {
    const kind = classify(req.tokens);
    if (kind.k === 'none') {
      // Not a clustered operation we know: answer only where the client is, if at all.
      if (handler && req.origin.kind !== 'route') this.run(req, handler);
      return;
    }
    const c = this.c;
    if (kind.type === CONSUMER_CREATE && isDirectCreate(req.payload)) {
      this.directCreate(req, handler);
      return;
    }
    if (kind.k === 'meta') {
      if (!c.hasLeader()) {
        if (req.origin.kind !== 'route' && c.isLeaderless()) this.unavailable(req, kind.type);
        return;
      }
      if (!c.isLeader) {
        if (c.isGoPeer(c.node.leaderId, req.accountName)) c.forwardAsImport(req);
        return;
      }
      this.leaderHandle(req, handler);
      return;
    }
    if (kind.type === CONSUMER_INFO && !isEmptyRequest(req.payload)) {
      // 2.9.10 refuses a body before it looks anything up, on the client's own server.
      if (req.origin.kind !== 'route') void guarded(this.ctx, req, CONSUMER_INFO, () => { throw jsErr('NotEmptyRequest'); });
      return;
    }
    const entry = c.state.stream(req.accountName, kind.stream);
    if (!entry) {
      if (c.isLeader && handler) {
        // 2.9.10's meta leader: LIST of a missing stream is an empty list, NAMES a 10059 with the paging fields.
        if (kind.type === CONSUMER_LIST) answerConsumerList(c, this.ctx, req, kind.stream, []).catch(() => undefined);
        else if (kind.type === CONSUMER_NAMES) answerConsumerNames(this.ctx, req, undefined).catch(() => undefined);
        else this.answerNotFound(req, kind.type, 'StreamNotFound');
      } else if (!c.hasLeader() && req.origin.kind !== 'route' && c.isLeaderless()) {
        this.unavailable(req, kind.type);
      } else if (!c.isLeader && c.isGoPeer(c.node.leaderId, req.accountName)) {
        c.forwardAsImport(req);
      }
      return;
    }
    if (this.answerOffline(req, kind, entry)) return;
    const holder = holderOf(entry.sa.group);
    if (isReplicated(entry.sa)) {
      // Replicated streams: the stream group's leader answers (stream-group.ts), a consumer's
      // requests its consumer group's leader. A nats-server group leader only hears them in the
      // system account (go-import.ts), and CONSUMER.NAMES is 2.9.10's meta leader's.
      if (this.routeToGoLeader(req, kind, entry)) return;
      if (kind.k === 'stream') {
        c.streamGroups.get(req.accountName, kind.stream)?.handleApi(req, kind.type, handler);
        return;
      }
      if (kind.k === 'consumer') {
        if (!entry.consumers.has(kind.consumer)) {
          if (c.isLeader) this.answerNotFound(req, kind.type, 'ConsumerNotFound');
          return;
        }
        c.streamGroups.get(req.accountName, kind.stream)?.consumers.get(kind.consumer)?.handleApi(req, handler);
        return;
      }
      if (c.isLeader) this.answerReplicated(req, kind, entry);
      return;
    }
    if (kind.type === CONSUMER_NAMES && c.hasLeader()) {
      // 2.9.10's meta leader answers CONSUMER.NAMES (consumer-names.ts).
      if (c.isGoPeer(c.node.leaderId, req.accountName)) {
        c.forwardAsImport(req);
        return;
      }
      if (c.isLeader && holder !== c.id && c.isGoPeer(holder, req.accountName)) {
        answerConsumerNames(this.ctx, req, entry.consumers.keys()).catch(() => undefined);
        return;
      }
    }
    if (kind.type === CONSUMER_LIST && c.isLeader && holder !== c.id && c.isGoPeer(holder, req.accountName)) {
      // A nats-server holder leaves CONSUMER.LIST to the meta leader, which gathers it on $JSC.CI.
      answerConsumerList(c, this.ctx, req, entry.sa.stream.name, entry.consumers.values()).catch(() => undefined);
      return;
    }
    if (kind.k === 'consumer' && !entry.consumers.has(kind.consumer)) {
      if (c.isLeader) this.answerNotFound(req, kind.type, 'ConsumerNotFound');
      return;
    }
    if (holder !== c.id || !handler) {
      if (holder !== c.id && c.isGoPeer(holder, req.accountName)) c.forwardAsImport(req);
      return;
    }
    if (kind.type === ResponseType.StreamLeaderStepdown || kind.type === T + 'consumer_leader_stepdown_response') {
      // An R1 asset has no group whose leader could step down: nats-server answers success (its
      // holder's standalone handler would say "clustering support required").
      sendOk(this.ctx, req, kind.type, { success: true });
      return;
    }
    // Consumer infos get the cluster block (those in a LIST each); the LIST / NAMES bodies have none of their own.
    if (kind.k === 'consumer' || kind.type === CONSUMER_LIST) req.onRespond = (b) => c.withConsumerCluster(b, kind.type === CONSUMER_LIST);
    this.run(req, handler);
  }

  /**
   * A `direct` consumer (a mirror's or source's, sourcing): not replicated and not in the meta
   * group. The origin stream's leader creates it on its own replica and answers; every other
   * server stays silent (nats-server jsConsumerCreateRequest: only the stream leader), except
   * that a local requester's create for a stream led by a nats-server is passed on to it.
   */
  private directCreate(req: ApiRequest, handler: ApiHandler | undefined): void {
    const c = this.c;
    const name = req.tokens[2];
    const entry = name === undefined ? undefined : c.state.stream(req.accountName, name);
    if (!entry) return;
    const sg = isReplicated(entry.sa) ? c.streamGroups.get(req.accountName, name!) : undefined;
    const leaderId = sg ? sg.node?.leaderId : holderOf(entry.sa.group);
    if (leaderId === c.id && (!sg || sg.isLeader)) {
      if (handler) this.run(req, handler);
    } else if (leaderId && c.isGoPeer(leaderId, req.accountName)) {
      // A nats-server leader hears the request only through the system account's import.
      c.forwardAsImport(req);
    }
  }

  /**
   * A request for a replicated stream or consumer whose answering server is a nats-server
   * (docs/interop.md): a local client's request is passed on as its service import would, and
   * nobody here answers. CONSUMER.NAMES / LIST of a replicated stream are the meta leader's.
   */
  private routeToGoLeader(req: ApiRequest, kind: Kind, entry: StreamEntry): boolean {
    const c = this.c;
    if (kind.k !== 'stream' && kind.k !== 'consumer') return false;
    // CONSUMER.NAMES / LIST are 2.9.10's meta leader's (it gathers LIST on $JSC.CI, leader-info.ts).
    const metaOnly = kind.type === CONSUMER_NAMES || kind.type === CONSUMER_LIST;
    if (metaOnly && c.hasLeader()) {
      if (c.isGoPeer(c.node.leaderId, req.accountName)) {
        c.forwardAsImport(req);
        return true;
      }
      // As 2.9.10: only the meta leader answers, from the assignments (NAMES, so also while the
      // stream group has no leader) or with each consumer leader's live info (LIST, $JSC.CI).
      if (c.isLeader) {
        const p = kind.type === CONSUMER_NAMES
          ? answerConsumerNames(this.ctx, req, entry.consumers.keys())
          : answerConsumerList(c, this.ctx, req, entry.sa.stream.name, entry.consumers.values());
        p.catch(() => undefined);
      }
      return true;
    }
    const sg = c.streamGroups.get(req.accountName, kind.stream);
    const leaderId = kind.k === 'stream' ? sg?.node?.leaderId : sg?.consumers.get(kind.consumer)?.node?.leaderId;
    if (leaderId === undefined || leaderId === '' || leaderId === c.id || !c.isGoPeer(leaderId, req.accountName)) return false;
    c.forwardAsImport(req);
    return true;
  }

  /**
   * STREAM.INFO / CONSUMER.INFO of an asset none of whose servers is online (nats-server
   * jsStreamInfoRequest / jsConsumerInfoRequest with allPeersOffline): nobody holds it to answer,
   * so the meta leader answers 10118 / 10119, or with no meta leader the client's server 10008,
   * after nats-server's errRespDelay. Returns true when the request is settled here.
   */
  private answerOffline(req: ApiRequest, kind: Kind, entry: StreamEntry): boolean {
    if (kind.k !== 'stream' && kind.k !== 'consumer') return false;
    if (kind.type !== ResponseType.StreamInfo && kind.type !== CONSUMER_INFO) return false;
    const group = kind.k === 'consumer' ? entry.consumers.get(kind.consumer)?.group : entry.sa.group;
    if (group === undefined) return false;
    const online = this.c.onlinePeers();
    if (group.peers.length === 0 || group.peers.some((p) => online.has(p))) return false;
    const c = this.c;
    let err: ApiError | undefined;
    if (c.isLeader) err = jsErr(kind.type === CONSUMER_INFO ? 'ConsumerOffline' : 'StreamOffline');
    else if (!c.hasLeader() && req.origin.kind !== 'route' && c.isLeaderless()) err = jsErr('ClusterNotAvail');
    if (err === undefined) return true;
    const answer = err;
    const t = setTimeout(() => {
      this.delayed.delete(t);
      sendErr(this.ctx, req, kind.type, answer, this.extraFor(kind.type));
    }, ERR_RESPONSE_DELAY_MS);
    t.unref();
    this.delayed.add(t);
    return true;
  }

  private run(req: ApiRequest, handler: ApiHandler): void {
    try {
      const r = handler(req);
      if (r instanceof Promise) r.catch((e) => this.c.server.log.error(`JetStream API ${req.subject}: ${String(e)}`));
    } catch (e) {
      this.c.server.log.error(`JetStream API ${req.subject}: ${String(e)}`);
    }
  }

  /** 10008 for any API request this layer knows (used before the meta group exists). */
  unavailableFor(req: ApiRequest): void {
    const kind = classify(req.tokens);
    if (kind.k !== 'none') this.unavailable(req, kind.type);
  }

  private unavailable(req: ApiRequest, type: string): void {
    if (!this.ctx.jsAccount(req.accountName)) return;
    sendErr(this.ctx, req, type, jsErr('ClusterNotAvail'), this.extraFor(type));
  }

  private answerNotFound(req: ApiRequest, type: string, err: 'StreamNotFound' | 'ConsumerNotFound'): void {
    void guarded(this.ctx, req, type, () => {
      requireAccount(this.ctx, req);
      throw jsErr(err);
    }, this.extraFor(type));
  }

  /** Success-shape fields nats-server still sends with some errors. */
  private extraFor(type: string): Record<string, unknown> {
    if (type === ResponseType.StreamInfo) return { total: 0, offset: 0, limit: 0 };
    if (type === ResponseType.StreamPurge) return { purged: 0 };
    if (type === ResponseType.StreamNames || type === ResponseType.StreamList) return { total: 0, offset: 0, limit: 0, streams: null };
    return {};
  }

  private leaderHandle(req: ApiRequest, handler: ApiHandler | undefined): void {
    const t = req.tokens;
    this.c.relayReply(req);
    let p: Promise<void>;
    if (t[0] === 'INFO') p = this.accountInfo(req);
    else if (t[0] === 'STREAM' && t[1] === 'CREATE') p = this.streamCreate(req);
    else if (t[0] === 'STREAM' && t[1] === 'UPDATE') p = this.streamUpdate(req);
    else if (t[0] === 'STREAM' && t[1] === 'DELETE') p = this.streamDelete(req);
    else if (t[0] === 'STREAM' && (t[1] === 'NAMES' || t[1] === 'LIST')) p = this.streamNames(req, t[1] === 'LIST');
    else if (t[0] === 'STREAM' && t[1] === 'PEER') p = this.streamPeerRemove(req);
    else if (t[0] === 'CONSUMER' && t[1] === 'DELETE') p = this.consumerDelete(req);
    else if (t[0] === 'CONSUMER') p = this.consumerCreate(req);
    else {
      if (handler) this.run(req, handler);
      return;
    }
    p.catch((e) => this.c.server.log.error(`JetStream API ${req.subject}: ${String(e)}`));
  }

  // ------------------------------------------------------------------ meta leader: streams

  private clientInfo(req: ApiRequest): Record<string, unknown> {
    return { acc: req.accountName, server: this.c.server.serverName, cluster: this.c.clusterName };
  }

  private accountInfo(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, ResponseType.AccountInfo, () => {
      const acc = requireAccount(this.ctx, req);
      const info = accountInfo(this.ctx, acc);
      const streams = this.c.state.streamsOf(acc.name);
      info.streams = streams.length;
      info.consumers = streams.reduce((n, e) => n + e.consumers.size, 0);
      sendOk(this.ctx, req, ResponseType.AccountInfo, info);
    });
  }

  private streamCreate(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, ResponseType.StreamCreate, () => {
      const acc = requireAccount(this.ctx, req);
      const body = decodeBody<StreamConfigRequest>(this.ctx, req, streamCreateRequestSchema, 'StreamConfigRequest');
      const name = req.tokens[2]!;
      if (name !== (body.name ?? '')) throw jsErr('StreamMismatch');
      if (/[\\/]/.test(name)) throw jsErr('StreamNameContainsPathSeparators');
      if (body.sealed) throw jsErrText('StreamInvalidConfig', 'stream configuration for create can not be sealed');
      if (body.mirror_direct && !body.mirror) throw jsErrText('StreamInvalidConfig', 'stream has no mirror but does have mirror direct');
      const storage = body.storage === 'memory' ? 'memory' : 'file';
      const cfg = checkStreamConfig(body, { ...acc.configContext(storage), clustered: true }, body.pedantic === true);
      const cfgJson = encodeStreamConfig(cfg) as StreamAssignment['stream'];
      const cfgText = JSON.stringify(cfgJson);
      const k = key(acc.name, name);
      const existing = this.c.state.stream(acc.name, name);
      const inflight = this.inflightStreams.get(k);
      if (existing || inflight) {
        if ((existing ? JSON.stringify(existing.sa.stream) : inflight!.cfg) !== cfgText) throw jsErr('StreamNameExist');
        // Idempotent create: the holder answers it as it would on a single server.
        if (inflight) inflight.waiters.push(req);
        else this.forwardToHolder(existing!, req);
        return;
      }
      const subjects = (cfgJson.subjects as string[] | undefined) ?? [];
      // Against the assigned streams through the state's subject index, then the few in flight.
      if (subjects.some((s) => this.c.state.subjectOverlaps(acc.name, s))) throw jsErr('StreamSubjectOverlap');
      let count = this.c.state.streamCount(acc.name);
      for (const [ik, f] of this.inflightStreams) {
        if (!ik.startsWith(acc.name + '\u0000')) continue;
        count++;
        const parsed = JSON.parse(f.cfg) as { name: string; subjects?: string[] };
        if (parsed.name === name) continue;
        if (subjects.some((s) => (parsed.subjects ?? []).some((x) => subjectsCollide(s, x)))) throw jsErr('StreamSubjectOverlap');
      }
      const max = acc.limits.maxStreams;
      if (max > 0 && count >= max) throw jsErr('MaximumStreamsLimit');
      const group = this.placeStream({ num_replicas: cfg.num_replicas, storage, max_bytes: cfg.max_bytes, placement: cfg.placement ?? undefined });
      const sa: StreamAssignment = {
        client: this.clientInfo(req), created: nowGo(), stream: cfgJson, group,
        sync: `$JSC.SYNC.${rand8()}`, subject: req.subject, reply: req.reply,
      };
      if (!this.c.propose(encodeStreamEntry(MetaOp.assignStream, sa))) throw jsErr('ClusterNotLeader');
      this.inflightStreams.set(k, { cfg: cfgText, waiters: [] });
    });
  }

  /** Placement (nats-server createGroupForStream) over the meta peers this leader knows. */
  /** What placement knows now: the meta peers with their info, and every stream's group. */
  placementContext(): PlacementContext {
    const c = this.c;
    const members = new Set(c.node.peers());
    members.add(c.id);
    return {
      peers: c.peerInfo.placementPeers(c.id, members, c.onlinePeers(), (id) => c.serverNameOf(id)),
      assignments: [],
      load: c.state.peerLoad(),
      uniqueTag: c.js.options.jetstream.uniqueTag || undefined,
      random: Math.random,
    };
  }

  private placeStream(cfg: { num_replicas: number; storage: 'file' | 'memory'; max_bytes: number; placement?: { cluster?: string; tags?: string[] } }): RaftGroupJson {
    const c = this.c;
    const ctx = this.placementContext();
    const r = createGroupForStream({ cluster: c.clusterName }, {
      num_replicas: cfg.num_replicas || 1, storage: cfg.storage, max_bytes: cfg.max_bytes, placement: cfg.placement,
    }, ctx);
    if (!r.ok) throw r.error;
    return groupJson(r.group);
  }

  private forwardToHolder(entry: StreamEntry, req: ApiRequest): void {
    if (isReplicated(entry.sa)) {
      this.respondFromAssignment(req, entry.sa, ResponseType.StreamCreate, false);
      return;
    }
    this.c.forward(holderOf(entry.sa.group), req, true);
  }

  private streamUpdate(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, ResponseType.StreamUpdate, async () => {
      const acc = requireAccount(this.ctx, req);
      const body = decodeBody<StreamConfigRequest>(this.ctx, req, streamCreateRequestSchema, 'StreamConfigRequest');
      const name = req.tokens[2]!;
      const storage = body.storage === 'memory' ? 'memory' : 'file';
      const ctx = { ...acc.configContext(storage), clustered: true };
      const requested = checkStreamConfig(body, ctx, body.pedantic === true);
      if (name !== requested.name) throw jsErr('StreamMismatch');
      const entry = this.c.state.stream(acc.name, name);
      if (!entry) throw jsErr('StreamNotFound');
      // The single server's update rules, against the assigned config, before anything is
      // proposed: a replica cannot take a change of storage type (say), and an assignment it cannot
      // take would have every replica rebuild its store empty at the next restart.
      const cfg = checkStreamUpdate(assignedStreamConfig(entry.sa.stream as Record<string, unknown>), body, ctx, body.pedantic === true);
      const cfgJson = encodeStreamConfig(cfg) as StreamAssignment['stream'];
      const oldReplicas = Number(entry.sa.stream.num_replicas ?? 1) || 1;
      const newReplicas = cfg.num_replicas || 1;
      if (newReplicas !== oldReplicas && !scalingSupported(oldReplicas, newReplicas)) throw jsErr('StreamReplicasNotUpdatable');
      for (const e of this.c.state.streamsOf(acc.name)) {
        if (e.sa.stream.name === name) continue;
        const theirs = (e.sa.stream.subjects as string[] | undefined) ?? [];
        if ((cfg.subjects ?? []).some((s) => theirs.some((x) => subjectsCollide(s, x)))) throw jsErr('StreamSubjectOverlap');
      }
      let group = { ...entry.sa.group };
      let consumers: ConsumerAssignment[] = [];
      if (newReplicas !== oldReplicas) {
        const leader = newReplicas < Math.max(oldReplicas, entry.sa.group.peers.length) ? await this.streamLeaderOf(acc.name, entry) : '';
        // Only the stream leader surely holds every acknowledged message: without one, a
        // scale-down to one replica could keep a replica that misses some (nats-server would
        // keep the first online peer).
        if (newReplicas === 1 && leader === '') throw jsErr('ClusterNotAvail');
        const online = this.c.onlinePeers();
        const r = scaleGroup(entry, newReplicas, { num_replicas: newReplicas, storage, max_bytes: cfg.max_bytes, placement: cfg.placement ?? undefined },
          this.c.clusterName, this.placementContext(), leader, (p) => online.has(p));
        if (!r.ok) throw r.error;
        group = r.group;
        consumers = r.consumers;
      } else {
        // Other updates leave the next leader to the group (nats-server clears preferred).
        delete group.preferred;
      }
      if (!this.c.isLeader) throw jsErr('ClusterNotLeader');
      const sa: StreamAssignment = { ...entry.sa, group, stream: cfgJson, subject: req.subject, reply: req.reply };
      if (!this.c.propose(encodeStreamEntry(MetaOp.updateStream, sa))) throw jsErr('ClusterNotLeader');
      for (const ca of consumers) this.c.propose(encodeConsumerEntry(MetaOp.assignConsumer, ca));
      this.beforeUpdate.set(key(acc.name, name), entry.sa);
    });
  }

  /**
   * The stream's current leader (peer id, '' when unknown): from the local group when this
   * server is a peer, else from a peer's STREAM.INFO (nats-server asks the stream leader).
   */
  private async streamLeaderOf(account: string, entry: StreamEntry): Promise<string> {
    const local = this.c.streamGroups.get(account, entry.sa.stream.name);
    if (local?.node?.leaderId) return local.node.leaderId;
    const online = this.c.onlinePeers();
    const peer = entry.sa.group.peers.find((p) => p !== this.c.id && online.has(p));
    if (!peer || this.c.isGoPeer(peer, account)) return '';
    const inbox = `_INBOX.JSC.${rand8()}`;
    let unsub: () => void = () => {};
    const answer = new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(''), 2000);
      unsub = this.ctx.subscribe(account, inbox, (_s, _r, _h, payload) => {
        clearTimeout(timer);
        try {
          const leader = (JSON.parse(payload.toString()) as { cluster?: { leader?: string } }).cluster?.leader;
          resolve(leader ? peerIdForServerName(leader) : '');
        } catch {
          resolve('');
        }
      });
    });
    const fake: ApiRequest = {
      accountName: account, subject: `$JS.API.STREAM.INFO.${entry.sa.stream.name}`, tokens: [], reply: inbox,
      headers: undefined, payload: Buffer.alloc(0), origin: { cid: 0, account, kind: 'internal' },
    };
    this.c.forward(peer, fake);
    const leader = await answer;
    unsub();
    return leader;
  }

  /**
   * STREAM.PEER.REMOVE (meta leader): the peer is replaced by a placed one, or only dropped (10075);
   * refused (10051) while the peers that would stay do not hold the stream's data.
   */
  private streamPeerRemove(req: ApiRequest): Promise<void> {
    const type = ResponseType.StreamRemovePeer;
    return guarded(this.ctx, req, type, async () => {
      const acc = requireAccount(this.ctx, req);
      if (isEmptyRequest(req.payload)) throw jsErr('BadRequest');
      let body: { peer?: unknown };
      try {
        body = JSON.parse(req.payload.toString()) as { peer?: unknown };
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
        if (body.peer !== undefined && body.peer !== null && typeof body.peer !== 'string') throw new Error('peer is not a string');
      } catch {
        throw new ApiError(400, 10025, 'invalid JSON'); // 2.9.10's text has no detail here
      }
      const peerName = typeof body.peer === 'string' ? body.peer : '';
      if (peerName === '') throw jsErr('BadRequest');
      const entry = this.c.state.stream(acc.name, req.tokens[3]!);
      if (!entry) throw jsErr('StreamNotFound');
      const peer = peerIdForServerName(peerName);
      if (!entry.sa.group.peers.includes(peer)) throw jsErr('ClusterPeerNotMember');
      // One removal of a stream's peer at a time: each decides against the group the previous left.
      const k = key(acc.name, entry.sa.stream.name);
      const run = (this.peerRemovals.get(k) ?? Promise.resolve()).then(() => this.removePeerWhenSafe(acc.name, entry.sa.stream.name, peer));
      // The next removal waits until this one's group is applied (or it was refused); the client not.
      const tail = run.then((r) => r.applied, () => undefined);
      this.peerRemovals.set(k, tail);
      void tail.then(() => { if (this.peerRemovals.get(k) === tail) this.peerRemovals.delete(k); });
      if (!(await run).replaced) throw jsErr('PeerRemap');
      sendOk(this.ctx, req, type, { success: true });
    });
  }

  /**
   * Remove `peer` from a replicated stream once the peers that stay hold its data (peer-remove-guard.ts),
   * else refuse with nothing changed. `replaced`: the peer was replaced, not only dropped (nats-server's
   * 10075, answered by the caller); `applied` resolves once the meta state shows the new group.
   */
  private async removePeerWhenSafe(account: string, name: string, peer: string): Promise<{ replaced: boolean; applied: Promise<void> }> {
    const current = (): StreamAssignment | undefined => this.c.state.stream(account, name)?.sa;
    const sa = current();
    if (!sa) throw jsErr('StreamNotFound');
    if (!sa.group.peers.includes(peer)) throw jsErr('ClusterPeerNotMember');
    if (!(await this.removalSafe(account, name, peer))) throw jsErrText('StreamGeneral', PEER_REMOVE_REFUSED);
    if (!this.c.isLeader) throw jsErr('ClusterNotLeader');
    const entry = this.c.state.stream(account, name);
    if (!entry) throw jsErr('StreamNotFound');
    if (!entry.sa.group.peers.includes(peer)) throw jsErr('ClusterPeerNotMember');
    const replaced = this.removePeerFromStream(entry, peer);
    return { replaced, applied: waitFor(() => !this.c.isLeader || !(current()?.group.peers.includes(peer) ?? false), PEER_REMOVE_APPLY_MS) };
  }

  /**
   * Whether the stream's data survives `peer` leaving its group (peer-remove-guard.ts), waiting a
   * little for a seed or a catch-up about to finish. An R1 stream moves as in nats-server; groups
   * with nats-server peers cannot be asked.
   */
  private async removalSafe(account: string, name: string, peer: string): Promise<boolean> {
    const current = (): StreamAssignment | undefined => this.c.state.stream(account, name)?.sa;
    const sa = current();
    if (!sa || !isReplicated(sa) || sa.group.peers.some((p) => this.c.isGoPeer(p, account))) return true;
    const newPeers = (s: StreamAssignment): string[] => remapGroup(s, peer, this.c.clusterName, this.placementContext()).group.peers;
    return waitRemovalSafe(this.c, current, newPeers);
  }

  /**
   * nats-server removePeerFromStreamLocked: propose the stream's group with `peer` replaced
   * (or only dropped) and its consumers following. False when no replacement was found.
   */
  removePeerFromStream(entry: StreamEntry, peer: string): boolean {
    const { group, replaced } = remapGroup(entry.sa, peer, this.c.clusterName, this.placementContext());
    if (!replaced) this.c.server.log.warn(`JetStream cluster could not replace peer for stream '${accountOf(entry.sa.client)} > ${entry.sa.stream.name}'`);
    this.c.propose(encodeStreamEntry(MetaOp.assignStream, { ...entry.sa, group, subject: '', reply: '' }));
    const { assign, remove } = consumersAfterPeerRemoval(entry, peer, group.peers);
    for (const ca of assign) this.c.propose(encodeConsumerEntry(MetaOp.assignConsumer, ca));
    for (const ca of remove) this.c.propose(encodeConsumerEntry(MetaOp.removeConsumer, ca));
    return replaced;
  }

  private streamDelete(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, ResponseType.StreamDelete, () => {
      const acc = requireAccount(this.ctx, req);
      if (!isEmptyBody(req.payload)) throw jsErr('NotEmptyRequest');
      const entry = this.c.state.stream(acc.name, req.tokens[2]!);
      if (!entry) throw jsErr('StreamNotFound');
      const sa: StreamAssignment = { ...entry.sa, subject: req.subject, reply: req.reply };
      if (!this.c.propose(encodeStreamEntry(MetaOp.removeStream, sa))) throw jsErr('ClusterNotLeader');
    });
  }

  private streamNames(req: ApiRequest, list: boolean): Promise<void> {
    const type = list ? ResponseType.StreamList : ResponseType.StreamNames;
    const limit = list ? API_LIST_LIMIT : API_NAMES_LIMIT;
    return guarded(this.ctx, req, type, async () => {
      const acc = requireAccount(this.ctx, req);
      let offset = 0;
      let filter = '';
      if (req.payload.length && /^\s*[{[]/.test(req.payload.toString('latin1', 0, 64))) {
        const body = decodeBody<StreamNamesRequest>(this.ctx, req, streamNamesRequestSchema,
          list ? 'JSApiStreamListRequest' : 'JSApiStreamNamesRequest');
        offset = Math.max(body.offset ?? 0, 0);
        filter = body.subject ?? '';
      }
      let entries = this.c.state.streamsOf(acc.name);
      if (filter) entries = entries.filter((e) => ((e.sa.stream.subjects as string[] | undefined) ?? []).some((x) => subjectsCollide(filter, x)));
      entries.sort((a, b) => (a.sa.stream.name < b.sa.stream.name ? -1 : a.sa.stream.name > b.sa.stream.name ? 1 : 0));
      const total = entries.length;
      offset = Math.min(offset, total);
      const page = entries.slice(offset, offset + limit);
      if (!list) {
        sendOk(this.ctx, req, type, { total, offset, limit, streams: page.length ? page.map((e) => e.sa.stream.name) : null });
        return;
      }
      const { infos, missing } = await this.gatherInfos(acc.name, page);
      const fields: Record<string, unknown> = { total, offset, limit, streams: infos };
      if (missing.length) fields.missing = missing;
      sendOk(this.ctx, req, type, fields);
    }, this.extraFor(type));
  }

  /**
   * STREAM.LIST: replicated streams and nats-server-held ones from their leaders on $JSC.SI
   * (list-collect.ts); tsnats R1 holders, which have no stream group, are asked STREAM.INFO.
   */
  private async gatherInfos(account: string, page: StreamEntry[]): Promise<{ infos: unknown[]; missing: string[] }> {
    const results = new Map<string, unknown>();
    const inbox = `_INBOX.JSC.${rand8()}`;
    const viaLeader = page.filter((e) => isReplicated(e.sa) || this.c.isGoPeer(holderOf(e.sa.group), account));
    const collected = collectStreamInfos(this.c, account, viaLeader);
    const remote = page.filter((e) => !viaLeader.includes(e) && holderOf(e.sa.group) !== this.c.id);
    let done: () => void = () => {};
    const all = new Promise<void>((r) => { done = r; });
    const unsub = remote.length ? this.ctx.subscribe(account, `${inbox}.*`, (subject, _r, _h, payload) => {
      const i = Number(subject.slice(inbox.length + 1));
      const e = page[i];
      if (!e) return;
      try {
        const j = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (j.error) return;
        delete j.type; delete j.total; delete j.offset; delete j.limit;
        results.set(e.sa.stream.name, j);
      } catch { /* ignored: counted as missing */ }
      if (remote.every((x) => results.has(x.sa.stream.name))) done();
    }) : () => {};
    page.forEach((e, i) => {
      if (!remote.includes(e)) return;
      const fake: ApiRequest = {
        accountName: account, subject: `$JS.API.STREAM.INFO.${e.sa.stream.name}`, tokens: [], reply: `${inbox}.${i}`,
        headers: undefined, payload: Buffer.alloc(0), origin: { cid: 0, account, kind: 'internal' },
      };
      this.c.forward(holderOf(e.sa.group), fake);
    });
    if (remote.length) {
      const timer = setTimeout(done, 2000);
      await all;
      clearTimeout(timer);
      unsub();
    }
    const led = await collected;
    const infos: unknown[] = [];
    const missing: string[] = [];
    for (const e of page) {
      const name = e.sa.stream.name;
      if (viaLeader.includes(e)) {
        const si = led.infos.get(name);
        if (si) infos.push(si);
        if (led.missing.has(name)) missing.push(name);
      } else if (holderOf(e.sa.group) === this.c.id) {
        const s = this.c.js.jsAccount(account)?.streams.get(name);
        if (s) infos.push(s.info().info);
        else missing.push(name);
      } else if (results.has(name)) infos.push(results.get(name));
      else missing.push(name);
    }
    return { infos, missing };
  }

  private infoFromAssignment(sa: StreamAssignment): Record<string, unknown> {
    const replicas = sa.group.peers.map((p) => ({ name: this.c.serverNameOf(p), current: false, active: 0, peer: p }));
    return { config: sa.stream, created: sa.created, state: { ...EMPTY_STATE }, cluster: { name: this.c.clusterName, replicas } };
  }

  private respondFromAssignment(req: ApiRequest, sa: StreamAssignment, type: string, created: boolean): void {
    const info = this.infoFromAssignment(sa);
    const fields: Record<string, unknown> = type === ResponseType.StreamInfo ? { total: 0, offset: 0, limit: 0, ...info } : info;
    if (created) fields.did_create = true;
    sendOk(this.ctx, req, type, fields);
  }

  // ------------------------------------------------------------------ meta leader: consumers

  private consumerCreate(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, CONSUMER_CREATE, async () => {
      const body = decodeCreateConsumerBody(this.ctx, req);
      const acc = requireAccount(this.ctx, req);
      const { config, streamName, consumerName } = createConsumerTarget(body, req.tokens);
      let name = consumerName;
      const entry = this.c.state.stream(acc.name, streamName);
      if (!entry) throw jsErr('StreamNotFound');
      // Checked here, as nats-server's meta leader does, before placement takes a subset of peers.
      if (config.num_replicas > placementConfigOf(entry.sa).num_replicas) throw jsErr('ConsumerReplicasExceedsStream');
      if (name === '') name = rand8();
      const cfgJson = { ...(body.config ?? {}), name };
      const cfgText = JSON.stringify(cfgJson);
      const k = key(acc.name, `${streamName}\u0000${name}`);
      const existing = entry.consumers.get(name);
      const inflight = this.inflightConsumers.get(k);
      const action = body.action ?? '';
      if (inflight) {
        if (inflight.cfg === cfgText) inflight.waiters.push(req);
        // A create must not change a consumer, and the one in flight exists with another config.
        else if (action === 'create') throw jsErr('ConsumerAlreadyExists');
        // An update (or create-or-update) waits for the proposal in flight, as nats-server's
        // pending assignment makes the next request build on it: decided then against its result.
        else (inflight.after ??= []).push(req);
        return;
      }
      if (existing) {
        const same = JSON.stringify({ ...existing.consumer, name }) === cfgText;
        if (!same && action === 'create') throw jsErr('ConsumerAlreadyExists');
        if (same) {
          this.forwardToConsumer(entry, req);
          return;
        }
      } else if (action === 'update') {
        throw jsErr('ConsumerDoesNotExist');
      }
      const streamCfg = placementConfigOf(entry.sa);
      const retention = String(entry.sa.stream.retention ?? 'limits');
      let group: RaftGroupJson;
      const replicas = consumerReplicaCount(config, streamCfg.num_replicas, retention);
      if (existing && existing.group.peers.length === replicas) {
        // An update keeps the group, and with it the consumer's delivery and ack state (nats-server
        // copies the assignment's group; ConsumerGroup.reassign applies the new config).
        group = { ...existing.group, peers: [...existing.group.peers] };
      } else if (existing) {
        // A new replica count keeps the group too, with other peers (peer-changes.ts); the group's
        // servers then change its raft membership (stream-membership.ts) and the state stays.
        const leader = await this.consumerLeaderOf(acc.name, entry, existing);
        // The state may have moved on while the leader was asked: decide again from the new one.
        if (this.c.state.stream(acc.name, streamName)?.consumers.get(name) !== existing || this.inflightConsumers.has(k)) {
          return this.consumerCreate(req);
        }
        if (!this.c.isLeader) throw jsErr('ClusterNotLeader');
        const online = this.c.onlinePeers();
        const scaled = scaleConsumerGroup(existing.group, entry.sa.group.peers, replicas, leader, (p) => online.has(p));
        if (!scaled) throw jsErr('ClusterNotAvail');
        group = scaled;
      } else {
        // Placement as nats-server's: the stream's peers (or a subset), a random preferred leader.
        const placed = createGroupForConsumer(config, { group: entry.sa.group, config: { retention, storage: streamCfg.storage } }, this.placementContext());
        if (!placed.ok) throw placed.error;
        group = groupJson(placed.group);
      }
      const ca: ConsumerAssignment = {
        client: this.clientInfo(req), created: existing?.created ?? nowGo(), name, stream: streamName, consumer: cfgJson,
        group, subject: req.subject, reply: req.reply,
      };
      if (!this.c.propose(encodeConsumerEntry(MetaOp.assignConsumer, ca))) throw jsErr('ClusterNotLeader');
      this.inflightConsumers.set(k, { cfg: cfgText, waiters: [], req });
      this.newConsumers.set(k, existing ?? null);
    });
  }

  /**
   * The consumer's current leader (peer id, '' when unknown): from the local group when this
   * server is a peer, else from the leader's answer on `$JSC.CI` (nats-server asks it the same way).
   */
  private async consumerLeaderOf(account: string, entry: StreamEntry, ca: ConsumerAssignment): Promise<string> {
    const local = this.c.streamGroups.get(account, entry.sa.stream.name)?.consumers.get(ca.name);
    if (local && !local.stopped && local.node?.leaderId) return local.node.leaderId;
    const online = this.c.onlinePeers();
    if (!ca.group.peers.some((p) => p === this.c.id || online.has(p))) return '';
    const ask = { key: ca.name, subject: consumerInfoSubject(account, entry.sa.stream.name, ca.name) };
    const info = (await collectLeaderInfos(this.c, [ask], CONSUMER_LEADER_ASK_MS)).get(ca.name);
    const leader = (info?.cluster as { leader?: string } | undefined)?.leader;
    return leader ? peerIdForServerName(leader) : '';
  }

  private consumerDelete(req: ApiRequest): Promise<void> {
    return guarded(this.ctx, req, CONSUMER_DELETE, () => {
      const acc = requireAccount(this.ctx, req);
      if (!isEmptyRequest(req.payload)) throw jsErr('NotEmptyRequest');
      const entry = this.c.state.stream(acc.name, req.tokens[2]!);
      if (!entry) throw jsErr('StreamNotFound');
      const ca = entry.consumers.get(req.tokens[3]!);
      if (!ca) throw jsErr('ConsumerNotFound');
      if (!this.c.propose(encodeConsumerEntry(MetaOp.removeConsumer, { ...ca, subject: req.subject, reply: req.reply }))) {
        throw jsErr('ClusterNotLeader');
      }
    });
  }

  // ------------------------------------------------------------------ apply-side notifications

  /** A stream assignment was applied: repeated creates that waited go to the holder now. */
  streamAssigned(entry: StreamEntry, _replaced: boolean): void {
    const k = key(accountOf(entry.sa.client), entry.sa.stream.name);
    const f = this.inflightStreams.get(k);
    if (!f) return;
    this.inflightStreams.delete(k);
    for (const w of f.waiters) this.forwardToHolder(entry, w);
  }

  /** An idempotent create: the holder answers (replicated: every peer gets it, the consumer's leader answers). */
  private forwardToConsumer(entry: StreamEntry, req: ApiRequest): void {
    if (isReplicated(entry.sa)) for (const p of entry.sa.group.peers) this.c.forward(p, req);
    else this.c.forward(holderOf(entry.sa.group), req);
  }

  /**
   * A consumer assignment was applied, or skipped (`applied` false) because its stream was gone
   * by then: the requests that waited for it go on. Without this a skipped one stayed in flight,
   * and every later create of the name waited for good.
   */
  consumerApplied(account: string, stream: string, name: string, applied: boolean): void {
    const k = key(account, `${stream}\u0000${name}`);
    const f = this.inflightConsumers.get(k);
    if (!f) return;
    this.inflightConsumers.delete(k);
    const entry = this.c.state.stream(account, stream);
    if (applied && entry) {
      for (const w of f.waiters) this.forwardToConsumer(entry, w);
    } else {
      this.newConsumers.delete(k);
      // nats-server leaves these unanswered; decided again they get the stream's 10059.
      for (const w of [...(f.req ? [f.req] : []), ...f.waiters]) void this.consumerCreate(w);
    }
    for (const w of f.after ?? []) void this.consumerCreate(w);
  }

  private answerReplicated(req: ApiRequest, kind: Kind, entry: StreamEntry): void {
    if (kind.k === 'stream' && kind.type === ResponseType.StreamInfo) {
      this.respondFromAssignment(req, entry.sa, ResponseType.StreamInfo, false);
      return;
    }
    if (kind.k === 'stream' || kind.k === 'consumer') sendErr(this.ctx, req, kind.type, jsErr('ClusterNotLeader'), this.extraFor(kind.type));
  }

  leaderChanged(isLeader: boolean): void {
    // nats-server clears in-flight proposal tracking on every meta leader change.
    this.inflightStreams.clear();
    this.inflightConsumers.clear();
    this.beforeUpdate.clear();
    this.newConsumers.clear();
    if (!isLeader) this.pendingRemovals.clear();
    // A server removed while another server led (or a leader that removed itself) may still
    // hold assets: the new leader re-places them.
    if (isLeader) setImmediate(() => this.replaceRemovedPeers());
  }

  /** Streams placed on servers no longer in the meta group get their peers replaced. */
  private replaceRemovedPeers(): void {
    if (!this.c.isLeader) return;
    const members = new Set(this.c.node.peers());
    for (const [, e] of [...this.c.state.all()]) {
      for (const p of e.sa.group.peers) {
        if (members.has(p)) continue;
        this.removePeerFromStream(e, p);
        break; // one peer per proposal: the next is handled once this one applied
      }
    }
  }

  /** Member -> leader: a create or update failed on the holder (the holder already answered the client). */
  onStreamResult(payload: Buffer, local = false): void {
    if (!this.c.isLeader) return;
    if (!local && payload.length === 0) return;
    let r: { account?: string; stream?: string; create_response?: { error?: unknown }; is_update?: boolean };
    try {
      r = JSON.parse(payload.toString()) as typeof r;
    } catch {
      return;
    }
    if (!r.account || !r.stream || !r.create_response?.error) return;
    const entry = this.c.state.stream(r.account, r.stream);
    if (!entry) return;
    const k = key(r.account, r.stream);
    if (r.is_update) {
      const prev = this.beforeUpdate.get(k);
      this.beforeUpdate.delete(k);
      if (prev) this.c.propose(encodeStreamEntry(MetaOp.updateStream, { ...prev, subject: '', reply: '' }));
      return;
    }
    this.c.propose(encodeStreamEntry(MetaOp.removeStream, { ...entry.sa, subject: '', reply: '' }));
  }

  onConsumerResult(payload: Buffer): void {
    if (!this.c.isLeader) return;
    let r: { account?: string; stream?: string; consumer?: string; response?: { error?: unknown } };
    try {
      r = JSON.parse(payload.toString()) as typeof r;
    } catch {
      return;
    }
    if (!r.account || !r.stream || !r.consumer || !r.response?.error) return;
    const k = key(r.account, `${r.stream}\u0000${r.consumer}`);
    if (!this.newConsumers.has(k)) return;
    const prev = this.newConsumers.get(k);
    this.newConsumers.delete(k);
    const cur = this.c.state.stream(r.account, r.stream)?.consumers.get(r.consumer);
    if (!cur) return;
    if (prev) this.c.propose(encodeConsumerEntry(MetaOp.assignConsumer, { ...prev, subject: '', reply: '' }));
    else this.c.propose(encodeConsumerEntry(MetaOp.removeConsumer, { ...cur, subject: '', reply: '' }));
  }

  // ------------------------------------------------------------------ system account API

  /** META.LEADER.STEPDOWN and SERVER.REMOVE live in the system account (leader answers). */
  subscribeSystemApi(sys: InternalClient): void {
    this.sysClient = sys;
    sys.subscribe('$JS.API.META.LEADER.STEPDOWN', (_s, reply, _h, payload, origin) => this.metaStepdown(reply, payload, origin.kind));
    sys.subscribe('$JS.API.SERVER.REMOVE', (_s, reply, _h, payload, origin) => this.serverRemove(reply, payload, origin.kind));
  }

  private sysReply(reply: string, body: Record<string, unknown>): void {
    if (reply) this.sysClient?.publish(reply, '', undefined, goJson(body));
  }

  private sysError(reply: string, type: string, err: ApiError): void {
    this.sysReply(reply, { type, error: err.toJSON() });
  }

  private metaStepdown(reply: string, payload: Buffer, origin: string): void {
    const c = this.c;
    if (!c.isLeader) {
      if (!c.hasLeader() && origin !== 'route' && c.isLeaderless()) this.sysError(reply, META_STEPDOWN, jsErr('ClusterNotAvail'));
      return;
    }
    let preferred: string | undefined;
    if (payload.length > 0 && !isEmptyRequest(payload)) {
      let body: { placement?: { cluster?: string; preferred?: string; tags?: string[] } };
      try {
        body = decodeRequest<typeof body>(payload, STEPDOWN_SCHEMA, 'JSApiLeaderStepDownRequest', c.js.options.jetstream.strict);
      } catch (e) {
        this.sysError(reply, META_STEPDOWN, jsErr('InvalidJSON', { err: (e as Error).message }));
        return;
      }
      const members = c.node.peers();
      const choice = stepDownPreferredPeer(members, c.id, body.placement,
        c.peerInfo.placementPeers(c.id, members, c.onlinePeers(), (id) => c.serverNameOf(id)), Math.random);
      if (!choice.ok) {
        this.sysError(reply, META_STEPDOWN, choice.error);
        return;
      }
      if (choice.preferred) preferred = choice.preferred;
    }
    this.sysReply(reply, { type: META_STEPDOWN, success: true });
    // No placement: a random current peer, as nats-server's StepDown (the first of a Go map). The
    // raft library's own choice, the first caught-up peer in its order, could alternate between
    // the same two servers for ever (seen in a mixed cluster after a member was replaced).
    c.node.stepDown(preferred ?? randomCurrentPeer(c.node));
  }

  private serverRemove(reply: string, payload: Buffer, origin: string): void {
    const c = this.c;
    if (!c.isLeader) {
      if (!c.hasLeader() && origin !== 'route' && c.isLeaderless()) this.sysError(reply, SERVER_REMOVE, jsErr('ClusterNotAvail'));
      return;
    }
    let body: { peer?: string; peer_id?: string };
    try {
      body = decodeRequest<typeof body>(payload, SERVER_REMOVE_SCHEMA, 'JSApiMetaServerRemoveRequest', c.js.options.jetstream.strict);
    } catch (e) {
      this.sysError(reply, SERVER_REMOVE, jsErr('InvalidJSON', { err: (e as Error).message }));
      return;
    }
    if (!body.peer && !body.peer_id) {
      this.sysError(reply, SERVER_REMOVE, jsErr('BadRequest'));
      return;
    }
    const id = body.peer_id || peerIdForServerName(body.peer!);
    if (!c.node.peers().includes(id)) {
      this.sysError(reply, SERVER_REMOVE, jsErr('ClusterServerNotMember'));
      return;
    }
    void this.serverRemoveWhenSafe(reply, id);
  }

  /**
   * Every stream the server holds gets another peer once it is gone (peerRemoved): refused, as
   * STREAM.PEER.REMOVE is, while the replicas that stay of any of them lack its data. nats-server
   * 2.9.10 removes the server whatever its streams' replicas hold.
   */
  private async serverRemoveWhenSafe(reply: string, id: string): Promise<void> {
    const c = this.c;
    const held = [...c.state.all()].filter(([, e]) => e.sa.group.peers.includes(id))
      .map(([, e]) => ({ account: accountOf(e.sa.client), name: e.sa.stream.name }));
    const safe = await Promise.all(held.map((h) => this.removalSafe(h.account, h.name, id)));
    const unsafe = held.find((_h, i) => !safe[i]);
    if (unsafe) {
      this.sysError(reply, SERVER_REMOVE, jsErrText('StreamGeneral', `${PEER_REMOVE_REFUSED} (stream '${unsafe.account} > ${unsafe.name}')`));
      return;
    }
    if (!c.isLeader) return; // the next leader answers a repeated request
    if (!c.node.peers().includes(id)) {
      this.sysError(reply, SERVER_REMOVE, jsErr('ClusterServerNotMember'));
      return;
    }
    try {
      c.node.proposeRemovePeer(id);
    } catch (e) {
      this.sysError(reply, SERVER_REMOVE, jsErrText('ClusterNoPeers', (e as Error).message));
      return;
    }
    const list = this.pendingRemovals.get(id) ?? [];
    list.push(reply);
    this.pendingRemovals.set(id, list);
  }

  /**
   * EntryRemovePeer committed: answer the SERVER.REMOVE requests that asked for it; a live meta
   * leader re-places every stream the removed server held (nats-server processRemovePeer).
   */
  peerRemoved(id: string, live: boolean): void {
    const list = this.pendingRemovals.get(id);
    if (list) {
      this.pendingRemovals.delete(id);
      for (const r of list) this.sysReply(r, { type: SERVER_REMOVE, success: true });
    }
    if (live && id === this.c.id) this.c.removedFromCluster();
    if (!live || !this.c.node.isLeader) return;
    for (const [, e] of [...this.c.state.all()]) if (e.sa.group.peers.includes(id)) this.removePeerFromStream(e, id);
  }

  /** EntryAddPeer committed: a live meta leader gives the new server to streams missing a peer (processAddPeer). */
  peerAdded(id: string, live: boolean): void {
    if (!live || !this.c.node.isLeader) return;
    const info = this.c.peerInfo.placementPeers(this.c.id, [id], this.c.onlinePeers(), (x) => this.c.serverNameOf(x))[0];
    if (!info?.cluster) return;
    for (const [, e] of [...this.c.state.all()]) {
      const fill = fillMissingPeer(e, id, info.cluster, this.c.clusterName);
      if (!fill) continue;
      this.c.propose(encodeStreamEntry(MetaOp.assignStream, fill.sa));
      for (const ca of fill.consumers) this.c.propose(encodeConsumerEntry(MetaOp.assignConsumer, ca));
    }
  }
}
