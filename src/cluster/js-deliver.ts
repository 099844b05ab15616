// JetStream deliveries across a route, the nats-server way.
//
// A JetStream delivery is matched on one subject (the push consumer's deliver subject or
// the pull requester's inbox: InboundMsg.subject) but shown to the client with another
// (the stream message's subject: InboundMsg.subjectBytes). RMSG has a single subject, so
// nats-server routes on the matched subject and appends `@<shown subject>` to the
// `$JS.ACK.…` reply; the receiving server cuts it off again and delivers the message with
// the shown subject. We do the same in both directions so mixed clusters interoperate.

import { sameSubject } from '../core/subject.js';
import type { InboundMsg } from '../core/types.js';
import type { RoutedMsgArgs } from '../protocol/route-parser.js';

const ACK_PREFIX = Buffer.from('$JS.ACK.');
const AT = 64;
const DOT = 46;

/**
 * Index of the `@` that separates `$JS.ACK.<8+ tokens>` from the delivered subject in a
 * routed reply, or -1. Stream and consumer names may contain `@`, so only an `@` after the
 * eighth dot counts (the ack reply has at least nine tokens).
 */
export function jsAckDeliverIdx(reply: Buffer): number {
  return jsAckDeliverAt(reply, 0, reply.length);
}

/** jsAckDeliverIdx of the reply `buf[start, end)`: the index in `buf`, or -1. */
function jsAckDeliverAt(buf: Buffer, start: number, end: number): number {
  if (end - start <= ACK_PREFIX.length) return -1;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (buf[start + i] !== ACK_PREFIX[i]) return -1;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === DOT) dots++;
    else if (c === AT && dots >= 8) return i;
  }
  return -1;
}

/**
 * Fill `msg`'s shown subject and reply from a received RMSG/LMSG: a `$JS.ACK…@<subject>` reply
 * is a JetStream delivery, shown with the subject after the `@` (the matched subject stays
 * msg.subject). No view is made: the message carries ranges of the read buffer (InboundMsg
 * setSubjectRange / setReplyRange), which a client's MSG frame is written from; a sink that
 * reads subjectBytes or replyBytes gets a view then.
 */
export function takeRoutedReply(msg: InboundMsg, args: RoutedMsgArgs): void {
  const rs = args.replyStart;
  if (rs >= 0) {
    const src = args.src;
    const re = args.replyEnd;
    const at = jsAckDeliverAt(src, rs, re);
    if (at > rs && at < re - 1) {
      msg.setSubjectRange(src, at + 1, re);
      msg.setReplyRange(src, rs, at);
      return;
    }
  }
  const own = args.subjectBuf;
  if (own !== null) msg.subjectBytes = own;
  else msg.setSubjectRange(args.src, args.subjectStart, args.subjectEnd);
  // The reply's text is decoded only if a sink reads it (InboundMsg.reply).
  if (rs < 0) msg.setReplyBytes(null);
  else msg.setReplyRange(args.src, rs, args.replyEnd);
}

/**
 * Rewrites a JetStream delivery for a route or leaf link: after `prepare(msg)` returned true, `subject`
 * (the matched subject) and `reply` (`<reply>@<shown subject>`) are views into a scratch
 * buffer, valid until the next call. Returns false for every other message (the common case,
 * decided with one property read for client publishes).
 */
export class RoutedDeliverSubject {
  subject: Buffer = ACK_PREFIX;
  reply: Buffer = ACK_PREFIX;
  private scratch = Buffer.allocUnsafe(1024);
  /**
   * The matched subject last written at the start of `scratch` (`subject` is its view) and its
   * length in bytes: a pull batch goes to one inbox, so it is encoded once per batch rather than
   * once per message.
   */
  private matchedInScratch: string | undefined;
  private matchedLen = 0;
  /** `reply`'s place in `scratch` when it is a view of it: kept while a batch's replies have one length. */
  private replyAt = -1;
  private replyEnd = -1;

  prepare(msg: InboundMsg): boolean {
    // Only internal publishers (the JetStream deliverer) set a shown subject of their own.
    if (msg.origin.kind !== 'internal') return false;
    const shown = msg.subjectBytes;
    const matched = msg.subject;
    if (sameSubject(shown, matched)) return false;
    const reply = msg.replyBytes;
    const replyLen = reply === null ? 0 : reply.length;
    const need = 3 * matched.length + replyLen + 1 + shown.length;
    if (need > this.scratch.length) {
      this.scratch = Buffer.allocUnsafe(Math.max(need, 2 * this.scratch.length));
      this.matchedInScratch = undefined;
      this.replyAt = -1;
    }
    const b = this.scratch;
    let subjLen = this.matchedLen;
    if (matched !== this.matchedInScratch) {
      subjLen = b.write(matched, 0, 'utf8');
      this.matchedInScratch = matched;
      this.matchedLen = subjLen;
      this.subject = b.subarray(0, subjLen);
    }
    if (reply === null || replyLen === 0 || jsAckDeliverIdx(reply) !== -1) {
      // Without a reply there is nowhere to carry the shown subject (nats-server does the same);
      // a reply that already carries one is left alone.
      this.reply = reply ?? ACK_PREFIX.subarray(0, 0);
      this.replyAt = -1;
      return true;
    }
    let p = subjLen;
    reply.copy(b, p);
    p += replyLen;
    b[p++] = AT;
    shown.copy(b, p);
    p += shown.length;
    if (this.replyAt !== subjLen || this.replyEnd !== p) {
      this.reply = b.subarray(subjLen, p);
      this.replyAt = subjLen;
      this.replyEnd = p;
    }
    return true;
  }
}
