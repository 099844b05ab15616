// Acknowledgements of one consumer: the ack subject ($JS.ACK...), +ACK / +NXT /
// -NAK (with delay) / +WPI / +TERM bodies, the ack floors, and the advisories
// acks cause (nats-server consumer.go processAck and friends).

import type { StreamConsumer } from '../stream.js';
import type { PendingInfo } from '../store/types.js';
import { parseAckNumbers, BAD_NUM } from './ack-subject.js';
import { parseGoDuration } from './go-format.js';
import {
  ackMetric, ackMetricSubject, maxDeliverAdvisory, maxDeliveriesSubject, nakAdvisory, nakedSubject, terminatedAdvisory,
  terminatedSubject,
} from './advisories.js';
import { ACK_ACK, ACK_NAK, ACK_NEXT, ACK_OK, ACK_PROGRESS, ACK_TERM, isBody, startsWith } from './ack-bodies.js';
import { NS_PER_MS } from './consumer-base.js';
import { ConsumerPersistence } from './consumer-persistence.js';

export abstract class ConsumerAcks extends ConsumerPersistence implements StreamConsumer {
  // The stream's view of a consumer, and the delivery side (consumer.ts).
  abstract isInterested(subject: string): boolean;
  abstract needsAck(seq: number, subject: string): boolean;
  abstract stop(deleting: boolean): Promise<void>;
  abstract processNextMsgRequest(reply: string, body: Buffer): void;
  abstract kick(): void;
  protected abstract resetAckTimer(delayMs: number): void;

  /** A message on the ack subject $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>. */
  processAck(subject: string, reply: string, _hdr: Buffer | undefined, payload: Buffer): void {
    if (this.closed) return;
    const a = this.ackNums;
    if (!parseAckNumbers(subject, a)) {
      a.dc = 0;
      a.sseq = 0;
      a.dseq = 0;
    }
    const { sseq, dseq, dc } = a;
    let skipAckReply = sseq === 0;
    const len = payload.length;
    const c0 = len > 0 ? payload[0] : 0;
    if (len === 0 || isBody(payload, ACK_ACK) || isBody(payload, ACK_OK)) {
      if (!this.processAckMsg(sseq, dseq, dc, true)) skipAckReply = true;
    } else if (c0 === 0x2b /* + */ && startsWith(payload, ACK_NEXT)) {
      this.processAckMsg(sseq, dseq, dc, true);
      this.processNextMsgRequest(reply, payload.subarray(4));
      skipAckReply = true;
    } else if (c0 === 0x2d /* - */ && startsWith(payload, ACK_NAK)) {
      this.processNak(sseq, dseq, dc, payload);
    } else if (isBody(payload, ACK_PROGRESS)) {
      this.progressUpdate(sseq);
    } else if (c0 === 0x2b && startsWith(payload, ACK_TERM)) {
      const reason = payload.subarray(5).toString('utf8').trim();
      if (!this.processTerm(sseq, dseq, dc, reason)) skipAckReply = true;
    }
    if (reply !== '' && !skipAckReply) this.replyOnceStored(reply);
  }

  /**
   * nats-server processAckMsg. Returns whether the ack was handled so that an ack-sync
   * reply is due: false for acks beyond what we delivered and for ack policy none on a
   * limits stream (nats-server answers neither).
   */
  protected processAckMsg(sseq: number, dseq: number, dc: number, doSample: boolean): boolean {
    if (this.closed) return false;
    if (sseq >= this.sseq) {
      // Beyond what we delivered: ignore (never move our pointer on a foreign ack).
      if (sseq !== BAD_NUM && sseq > this.stream.store.fastState().lastSeq) {
        this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' ACK sequence ${sseq} past last stream sequence`);
      }
      return false;
    }
    const retention = this.stream.config.retention;
    let needSignal = false;
    let ackAll: number[] | undefined;
    switch (this.cfg.ack_policy) {
      case 'explicit': {
        const p = this.pending.get(sseq);
        if (p !== undefined) {
          if (doSample && this.sampleFreq > 0) this.sampleAck(sseq, dseq, dc, p);
          if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) needSignal = true;
          this.pending.delete(sseq);
          dseq = p.seq;
          this.moveAckFloor(dseq, sseq);
        }
        this.rdc.delete(sseq);
        this.rdq.remove(sseq);
        break;
      }
      case 'all': {
        if (dseq <= this.adflr || sseq <= this.asflr) return true;
        if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) needSignal = true;
        this.adflr = dseq;
        this.asflr = sseq;
        if (retention !== 'limits') ackAll = [];
        for (const seq of [...this.pending.keys()]) {
          if (seq <= sseq) {
            if (ackAll !== undefined && seq !== sseq) ackAll.push(seq);
            this.pending.delete(seq);
            this.rdc.delete(seq);
            this.rdq.remove(seq);
          }
        }
        for (const seq of [...this.rdc.keys()]) if (seq <= sseq) this.rdc.delete(seq);
        break;
      }
      case 'none':
        return retention !== 'limits';
    }
    this.storeUpdateAcks(dseq, sseq);
    this.lastAckMs = Date.now();
    if (retention !== 'limits') {
      this.stream.ackMsg(this, sseq);
      if (ackAll !== undefined) for (const s of ackAll) this.stream.ackMsg(this, s);
    }
    if (needSignal) this.kick();
    return true;
  }

  /** nats-server moveAckFloor: advance the floor past contiguous acks. */
  protected moveAckFloor(dseq: number, sseq: number): void {
    if (this.pending.size === 0) {
      this.adflr = this.dseq - 1;
      this.asflr = this.sseq - 1;
    } else if (dseq === this.adflr + 1) {
      this.adflr = dseq;
      this.asflr = sseq;
      // The next floor is just below the lowest outstanding delivery.
      for (let ss = sseq + 1; ss < this.sseq; ss++) {
        const p = this.pending.get(ss);
        if (p !== undefined) {
          if (p.seq > 0) {
            this.adflr = p.seq - 1;
            this.asflr = ss - 1;
          }
          break;
        }
      }
    }
  }

  protected processNak(sseq: number, dseq: number, dc: number, payload: Buffer): void {
    if (dseq <= this.adflr || dseq > this.dseq) return;
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    this.advise(nakedSubject(this.streamName, this.name),
      () => nakAdvisory(this.streamName, this.name, dseq, sseq, dc, this.host.domain));
    if (payload.length > 4) {
      const arg = payload.subarray(4).toString('utf8').trim();
      if (arg.length > 0) {
        let delayNs: number | undefined;
        if (arg[0] === '{') {
          try {
            const o = JSON.parse(arg) as { delay?: unknown };
            if (o !== null && typeof o === 'object') {
              const d = (o as { delay?: unknown }).delay;
              if (d === undefined || d === null) delayNs = 0;
              else if (typeof d === 'number' && Number.isInteger(d)) delayNs = d;
            }
          } catch { /* bad JSON: a plain NAK */ }
        } else {
          const d = parseGoDuration(arg);
          if (d !== undefined) delayNs = Number(d);
        }
        if (delayNs === undefined) {
          this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' bad NAK delay value: ${JSON.stringify(arg)}`);
        } else {
          // Redeliver after the delay: pretend the delivery happened so that ack wait ends then.
          this.rdq.remove(sseq);
          p.tsMs = Date.now() - this.cfg.ack_wait / NS_PER_MS + delayNs / NS_PER_MS;
          this.storeUpdateDelivered(p.seq, sseq, dc, p.tsMs);
          if (this.ackTimer !== undefined) this.resetAckTimer(10);
          else this.resetAckTimer(Math.max(10, delayNs / NS_PER_MS));
          return;
        }
      }
    }
    this.rdq.add(sseq);
    this.kick();
  }

  /** +TERM: like an ack (no more redeliveries) plus the MSG_TERMINATED advisory. */
  protected processTerm(sseq: number, dseq: number, dc: number, reason: string): boolean {
    const handled = this.processAckMsg(sseq, dseq, dc, false);
    this.advise(terminatedSubject(this.streamName, this.name),
      () => terminatedAdvisory(this.streamName, this.name, dseq, sseq, dc, reason, this.host.domain));
    return handled;
  }

  protected progressUpdate(sseq: number): void {
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    p.tsMs = Date.now();
    this.storeUpdateDelivered(p.seq, sseq, 1, p.tsMs);
  }

  protected sampleAck(sseq: number, dseq: number, dc: number, p: PendingInfo): void {
    if (this.sampleFreq < 100 && Math.floor(Math.random() * 100) > this.sampleFreq) return;
    const ackTimeNs = Math.max(0, (Date.now() - p.tsMs) * NS_PER_MS);
    this.advise(ackMetricSubject(this.streamName, this.name),
      () => ackMetric(this.streamName, this.name, dseq, sseq, ackTimeNs, dc, this.host.domain));
  }

  protected notifyDeliveryExceeded(sseq: number, dc: number): void {
    this.advise(maxDeliveriesSubject(this.streamName, this.name),
      () => maxDeliverAdvisory(this.streamName, this.name, sseq, dc, this.host.domain));
  }

  /** Publish an advisory only when someone listens (JSON is built lazily). */
  protected advise(subject: string, body: () => string): void {
    if (!this.host.hasInterest(subject)) return;
    this.host.publish(subject, '', undefined, body());
  }
}
