// Creating, updating, recovering and deleting consumers of a stream, with
// nats-server's rules (addConsumerWithAssignmentAndMode in standalone mode):
// defaults and validation, create/update actions, max consumers, workqueue
// restrictions, naming, the consumer-state store, and interest-retention
// clean-up when a consumer goes away.

import type { JsAccount } from '../js-account.js';
import { EMPTY_BUFFER, InboundMsg } from '../../core/types.js';
import { encodeName } from '../../protocol/names.js';
import type { Account } from '../../core/account.js';
import type { Stream } from '../stream.js';
import type { ConsumerState } from '../store/types.js';
import type { StreamConfig } from '../api/types.js';
import { ApiError, jsErr, jsErrText, unlessApiError } from '../api/errors.js';
import { OverlapWorkExceeded, SubjectTrie } from '../subject-trie.js';
import { emptyConsumerState } from '../store/consumer-state-codec.js';
import { consumerRecoveryNote } from '../store/consumer-store.js';
import { stateAfterLostState } from './restart-point.js';
import {
  checkConsumerConfig, checkConsumerUpdate, consumerConfigsEqual, consumerConfigToJSON, decodeConsumerConfig,
  gatherFilters, isValidAssetName, setConsumerConfigDefaults, MAX_NAME_LEN, NO_LIMITS,
  type ConsumerAction, type ConsumerConfig, type ConsumerLimits, type StreamConfigView,
} from './config.js';
import { Consumer, StopReason, type ConsumerHost } from './consumer.js';
import { newConsumerName } from './advisories.js';
import { nowNs } from './go-format.js';

/** The stream config as consumer validation sees it. */
export function streamView(cfg: StreamConfig): StreamConfigView {
  return {
    name: cfg.name,
    subjects: cfg.subjects ?? [],
    retention: cfg.retention,
    num_replicas: cfg.num_replicas,
    max_msgs_per_subject: cfg.max_msgs_per_subject,
    max_consumers: cfg.max_consumers,
    consumer_limits: cfg.consumer_limits,
    placement: cfg.placement ?? null,
  };
}

/**
 * Publishes stream messages to consumers' deliver subjects / pull inboxes on the hot path:
 * routed on the destination, shown with the message's own subject (nats-server pa.deliver).
 * One InboundMsg is reused (delivery is synchronous and sinks copy what they keep), subject
 * bytes are cached, the ack reply comes as bytes (the consumer's AckReplyWriter).
 */
class Deliverer {
  private readonly msg: InboundMsg;
  private readonly subjects = new Map<string, Buffer>();

  constructor(private readonly account: Account) {
    this.msg = new InboundMsg({ cid: 0, account: account.name, kind: 'internal' });
  }

  private subjectBytes(subject: string): Buffer {
    let b = this.subjects.get(subject);
    if (b === undefined) {
      if (this.subjects.size >= 4096) this.subjects.clear();
      b = encodeName(subject); // the exact bytes the publisher sent (protocol/names.ts)
      this.subjects.set(subject, b);
    }
    return b;
  }

  deliver(dsubj: string, subject: string, reply: Buffer, headers: Buffer | undefined, payload: Buffer): number {
    const m = this.msg;
    m.subject = dsubj;
    m.subjectBytes = this.subjectBytes(subject);
    m.setReplyBytes(reply.length > 0 ? reply : null);
    if (headers !== undefined && headers.length > 0) {
      m.hdrLen = headers.length;
      m.data = payload.length > 0 ? Buffer.concat([headers, payload]) : headers;
    } else {
      m.hdrLen = -1;
      m.data = payload;
    }
    const stats = this.account.stats;
    stats.inMsgs++;
    stats.inBytes += m.data.length;
    const n = this.account.processMsg(m, null, false);
    // Drop references so stored buffers are not kept alive by the scratch message.
    m.data = EMPTY_BUFFER;
    m.setReplyBytes(null);
    return n;
  }
}

/** The consumer-facing services of one JetStream account (one per account, cached). */
const hosts = new WeakMap<JsAccount, ConsumerHost>();

export function consumerHostFor(acc: JsAccount, domain: string | undefined, warn: (m: string) => void): ConsumerHost {
  let h = hosts.get(acc);
  if (h === undefined) {
    const client = acc.client;
    const account = acc.account;
    const sublist = account.sublist;
    const deliverer = new Deliverer(account);
    h = {
      subscribe: (subject, handler) => client.subscribe(subject, handler),
      unsubscribe: (id) => client.unsubscribe(id),
      publish: (subject, reply, headers, payload) => client.publish(subject, reply, headers, payload),
      deliver: (dsubj, subject, reply, headers, payload) => deliverer.deliver(dsubj, subject, reply, headers, payload),
      hasInterest: (subject) => sublist.hasInterest(subject),
      watchInterest: (subject, cb) => account.watchInterest(subject, cb),
      domain,
      warn,
    };
    hosts.set(acc, h);
  }
  return h;
}

/** Server/account limits for consumer configs. */
export function consumerLimits(acc: JsAccount, serverMaxRequestBatch: number, serverMaxAckPending: number): ConsumerLimits {
  return {
    serverMaxRequestBatch: serverMaxRequestBatch > 0 ? serverMaxRequestBatch : 0,
    serverMaxAckPending: serverMaxAckPending > 0 ? serverMaxAckPending : 0,
    accountMaxAckPending: acc.limits.maxAckPending > 0 ? acc.limits.maxAckPending : 0,
  };
}

export function lookupConsumer(stream: Stream, name: string): Consumer | undefined {
  const c = stream.getConsumer(name);
  return c instanceof Consumer ? c : undefined;
}

/** Consumers visible through the API (direct consumers of mirrors/sources are internal). */
export function publicConsumers(stream: Stream): Consumer[] {
  const out: Consumer[] = [];
  for (const n of stream.consumerNames()) {
    const c = lookupConsumer(stream, n);
    if (c !== undefined && !c.isDirect) out.push(c);
  }
  return out;
}

export interface AddConsumerOptions {
  action: ConsumerAction;
  pedantic: boolean;
  limits: ConsumerLimits;
  /** Account max_consumers (<= 0 unlimited). */
  accountMaxConsumers: number;
}

/**
 * Does any other consumer of a workqueue stream overlap these filters? (nats-server
 * partitionUnique: an unfiltered other consumer overlaps everything.)
 */
function partitionUnique(stream: Stream, self: string, filters: string[]): boolean {
  if (filters.length === 0) return true;
  // These filters go into a trie once; each filter of the other consumers is one query.
  const trie = new SubjectTrie();
  try {
    filters.forEach((f, i) => trie.insert(f, i));
    for (const o of publicConsumers(stream)) {
      if (o.name === self) continue;
      const of = gatherFilters(o.cfg);
      if (of.length === 0) return false;
      for (const g of of) if (trie.collides(g)) return false;
    }
  } catch (e) {
    if (e instanceof OverlapWorkExceeded) throw jsErrText('ConsumerCreate', 'subject overlap check exceeded its work limit');
    throw e;
  }
  return true;
}

/**
 * Create a consumer or update an existing one (same name). Throws ApiError with the
 * code nats-server answers; plain reasons become 10012.
 */
export function addConsumer(stream: Stream, host: ConsumerHost, config: ConsumerConfig, opts: AddConsumerOptions): Consumer {
  if (stream.isClosed) throw jsErr('StreamInvalid');
  const scfg = stream.config;
  const view = streamView(scfg);
  let err: ApiError | undefined = setConsumerConfigDefaults(config, view, opts.limits, opts.pedantic);
  if (err) throw err;
  err = checkConsumerConfig(config, view, opts.limits);
  if (err) throw err;

  const cName = config.durable_name !== '' ? config.durable_name : config.name;
  if (cName !== '') {
    const existing = lookupConsumer(stream, cName);
    if (existing !== undefined) {
      if (opts.action === 'create' && !consumerConfigsEqual(config, existing.cfg)) throw jsErr('ConsumerAlreadyExists');
      if (scfg.retention === 'workqueue' && !partitionUnique(stream, cName, gatherFilters(config))) {
        throw jsErr('ConsumerWQConsumerNotUnique');
      }
      const check = checkConsumerUpdate(existing.cfg, config, (s) => host.hasInterest(s));
      if (check instanceof ApiError) throw check;
      if (typeof check === 'string') throw jsErrText('ConsumerCreate', check);
      existing.updateConfig(config);
      return existing;
    }
  }
  if (opts.action === 'update') throw jsErr('ConsumerDoesNotExist');

  let maxc = scfg.max_consumers;
  if (maxc <= 0 || (opts.accountMaxConsumers > 0 && opts.accountMaxConsumers < maxc)) maxc = opts.accountMaxConsumers;
  if (maxc > 0 && publicConsumers(stream).length >= maxc) throw jsErr('MaximumConsumersLimit');

  if (scfg.retention === 'workqueue' && !config.direct) {
    if (config.ack_policy !== 'explicit') throw jsErr('ConsumerWQRequiresExplicitAck');
    if (config.deliver_policy !== 'all') throw jsErr('ConsumerWQConsumerNotDeliverAll');
    if (publicConsumers(stream).length > 0) {
      const filters = gatherFilters(config);
      if (filters.length === 0) throw jsErr('ConsumerWQMultipleUnfiltered');
      if (!partitionUnique(stream, cName, filters)) throw jsErr('ConsumerWQConsumerNotUnique');
    }
  }

  let name: string;
  if (config.durable_name !== '') {
    if (config.durable_name.length > MAX_NAME_LEN) throw jsErr('ConsumerNameTooLong', { max: MAX_NAME_LEN });
    name = config.durable_name;
  } else if (config.name !== '') {
    name = config.name;
  } else {
    do name = newConsumerName(); while (stream.getConsumer(name) !== undefined);
    config.name = name;
  }
  if (!isValidAssetName(name)) throw jsErr('ConsumerBadDurableName');
  if (stream.getConsumer(name) !== undefined) throw jsErr('ConsumerNameExist');

  const createdNs = stream.assignedConsumerCreatedNs?.(name) ?? nowNs();
  let cstore;
  if (!config.direct) {
    try {
      cstore = stream.openConsumerStore(name, consumerConfigToJSON(config), Number(createdNs / 1_000_000n));
      // A brand-new consumer never inherits state left by an earlier one of the same name.
      if (cstore.hasState()) cstore.forceUpdate(emptyConsumerState());
    } catch (e) {
      // nats-server answers 10012 with no detail (the cause, with its path, goes to the log).
      host.warn(`JetStream consumer '${stream.name} > ${name}': error creating store: ${e instanceof Error ? e.message : String(e)}`);
      throw jsErrText('ConsumerCreate', 'error creating store for consumer');
    }
  }
  const c = new Consumer(stream, host, config, name, createdNs, cstore);
  stream.attachConsumer(c);
  try {
    c.start();
  } catch (e) {
    void c.shutdown(StopReason.Deleted, true);
    throw unlessApiError('ConsumerCreate', e);
  }
  c.onSelfDelete = (gone) => cleanupAfterDelete(stream, gone);
  c.sendCreateAdvisory();
  return c;
}

/**
 * The consumers a stream recovered in standby (Stream.consumersStandby) when it turns out to be
 * served here alone (its assignment is R1): started for real from the state they loaded.
 */
export async function wakeStandbyConsumers(stream: Stream, host: ConsumerHost): Promise<void> {
  if (!stream.consumersStandby) return;
  stream.consumersStandby = false;
  for (const name of stream.consumerNames()) await stream.getConsumer(name)?.stop(false);
  recoverConsumers(stream, host);
}

/**
 * Bring back the consumers the stream's store recovered from disk (restart).
 * Their configs were validated when they were created; a config that no longer
 * decodes is skipped with a warning.
 */
export function recoverConsumers(stream: Stream, host: ConsumerHost): Consumer[] {
  const out: Consumer[] = [];
  for (const r of stream.store.recoveredConsumers()) {
    if (stream.getConsumer(r.name) !== undefined) continue;
    // Damage the store found in this consumer's files, and what it kept (store/consumer-store.ts).
    const note = consumerRecoveryNote(r.state);
    for (const m of note?.messages ?? []) host.warn(`JetStream consumer '${stream.name} > ${r.name}': ${m}`);
    if (note?.metaUnreadable) continue;
    let cfg: ConsumerConfig;
    try {
      cfg = decodeConsumerConfig(r.config as Record<string, unknown>, false);
    } catch (e) {
      host.warn(`JetStream consumer '${stream.name} > ${r.name}' has an unreadable config, skipped: ${String(e)}`);
      continue;
    }
    try {
      const cstore = stream.store.consumerStore(r.name, r.config, r.createdMs);
      const c = new Consumer(stream, host, cfg, r.name, BigInt(r.createdMs) * 1_000_000n, cstore);
      stream.attachConsumer(c);
      if (note?.restart === 'beginning') {
        const st = stateAfterLostState(stream.store, cfg, r.createdMs, stream.config.max_msgs_per_subject);
        cstore.forceUpdate(st);
        c.start(st, true, stream.consumersStandby);
      } else {
        c.start(r.state, false, stream.consumersStandby);
      }
      c.onSelfDelete = (gone) => cleanupAfterDelete(stream, gone);
      out.push(c);
    } catch (e) {
      host.warn(`JetStream consumer '${stream.name} > ${r.name}' could not be recovered: ${String(e)}`);
    }
  }
  return out;
}

/**
 * Run a consumer here from a state held elsewhere (a replicated consumer whose stream was scaled
 * down to this one server): its store gets that state and the consumer starts from it.
 */
export function resumeConsumer(
  stream: Stream, host: ConsumerHost, name: string, config: Record<string, unknown>, createdMs: number, state: ConsumerState,
): Consumer {
  const cfg = decodeConsumerConfig(config, false);
  // An assignment's config holds what the client sent: fill in the defaults a create applies.
  const err = setConsumerConfigDefaults(cfg, streamView(stream.config), NO_LIMITS, false);
  if (err) throw err;
  const cstore = stream.store.consumerStore(name, consumerConfigToJSON(cfg), createdMs);
  cstore.forceUpdate(state);
  const c = new Consumer(stream, host, cfg, name, BigInt(createdMs) * 1_000_000n, cstore);
  stream.attachConsumer(c);
  c.start(state);
  c.onSelfDelete = (gone) => cleanupAfterDelete(stream, gone);
  return c;
}

/** CONSUMER.DELETE: stop, remove state, advisory, then interest clean-up. */
export async function deleteConsumer(stream: Stream, c: Consumer): Promise<void> {
  await c.stop(true);
  cleanupAfterDelete(stream, c);
}

/**
 * Interest retention: messages only this consumer still needed go with it
 * (nats-server cleanupNoInterestMessages; with no consumers left the stream is purged).
 */
function cleanupAfterDelete(stream: Stream, gone: Consumer): void {
  if (stream.isClosed || stream.config.retention !== 'interest') return;
  const store = stream.store;
  if (stream.consumerCount === 0) {
    stream.purge({}, true);
    return;
  }
  const st = store.fastState();
  const start = Math.max(gone.ackFloorStreamSeq, st.firstSeq);
  // A very long scan is left to normal acks (nats-server bails out at 100k too).
  if (st.lastSeq - start > 100_000) return;
  const others = publicConsumers(stream);
  for (let seq = start; seq <= st.lastSeq; seq++) {
    const subject = store.subjectForSeq(seq);
    if (subject === undefined) continue;
    if (!others.some((o) => o.needsAck(seq, subject))) store.removeMsg(seq);
  }
}
