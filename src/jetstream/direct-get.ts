// Direct get ($JS.API.DIRECT.GET.<stream>[.<subject>]) for streams with allow_direct
// (and mirrors with mirror_direct). Answers are raw messages: the stored headers plus
// Nats-Stream/Nats-Subject/Nats-Sequence/Nats-Time-Stamp, the stored payload, and for
// batch/multi-last requests Nats-Num-Pending/Nats-Last-Sequence and a final 204 EOB.
// Errors are status-only messages (404 Message Not Found, 408 Empty/Bad/Malformed Request...).

import type { Stream } from './stream.js';
import type { StoredMsg } from './store/types.js';
import type { MsgGetRequest } from './api/types.js';
import { goTimeFromNanos, parseGoTime } from './api/json.js';
import { appendHeaders, statusHeader } from './headers.js';
import { isStoreError } from './store/errors.js';
import { publicErrorText } from './api/errors.js';

export const DIRECT_GET_PREFIX = '$JS.API.DIRECT.GET.';
const MAX_MULTI_RESULTS = 1024;

export type RawPublish = (subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string) => void;

const EMPTY = Buffer.alloc(0);
const status = (code: number, text: string): Buffer => statusHeader(code, text);

function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

/** Lenient decode, as nats-server uses plain json.Unmarshal here. */
function decode(payload: Buffer): MsgGetRequest | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    if (v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) return undefined;
    return v as MsgGetRequest;
  } catch {
    return undefined;
  }
}

export class DirectGetResponder {
  constructor(
    private readonly stream: Stream,
    private readonly publish: RawPublish,
    /** Byte budget per answer when the request gives no max_bytes (the server's max_pending). */
    private readonly defaultMaxBytes: number,
  ) {}

  /** `$JS.API.DIRECT.GET.<stream>` with a JSON body. */
  handleRequest(reply: string, payload: Buffer): void {
    if (reply === '') return;
    // Answer once what was stored before the request is durable (visibility.ts); the
    // payload may be a view of a read buffer, so it is copied when the answer waits.
    const vis = this.stream.visibility;
    if (vis.pending) {
      const copy = Buffer.from(payload);
      vis.whenVisible(() => this.handleRequestNow(reply, copy));
      return;
    }
    this.handleRequestNow(reply, payload);
  }

  private handleRequestNow(reply: string, payload: Buffer): void {
    if (payload.length === 0 || isBlank(payload)) return this.publish(reply, '', status(408, 'Empty Request'), EMPTY);
    const req = decode(payload);
    if (req === undefined) return this.publish(reply, '', status(408, 'Malformed Request'), EMPTY);
    const seq = req.seq ?? 0;
    const last = req.last_by_subj ?? '';
    const next = req.next_by_subj ?? '';
    const multi = req.multi_last ?? [];
    if (seq === 0 && !last && !next && multi.length === 0 && !req.start_time) {
      return this.publish(reply, '', status(408, 'Empty Request'), EMPTY);
    }
    if ((seq > 0 && last) || (seq > 0 && req.start_time) || (req.start_time && last) || (last && next) ||
      (last && (req.batch ?? 0) > 0) || (last && multi.length) || (next && multi.length) ||
      ((req.up_to_seq ?? 0) > 0 && req.up_to_time)) {
      return this.publish(reply, '', status(408, 'Bad Request'), EMPTY);
    }
    this.answer(req, reply);
  }

  /** `$JS.API.DIRECT.GET.<stream>.<subject…>`: last message for that subject. */
  handleLastBySubject(subject: string, reply: string, payload: Buffer): void {
    if (reply === '') return;
    const vis = this.stream.visibility;
    if (vis.pending) {
      const copy = Buffer.from(payload);
      vis.whenVisible(() => this.handleLastBySubjectNow(subject, reply, copy));
      return;
    }
    this.handleLastBySubjectNow(subject, reply, payload);
  }

  private handleLastBySubjectNow(subject: string, reply: string, payload: Buffer): void {
    let req: MsgGetRequest = {};
    if (payload.length > 0) {
      const r = decode(payload);
      if (r === undefined) return this.publish(reply, '', status(408, 'Malformed Request'), EMPTY);
      req = r;
    }
    // Key = everything after the 5th token ($JS.API.DIRECT.GET.<stream>.).
    let key = '';
    for (let i = 0, n = 0; i < subject.length; i++) {
      if (subject.charCodeAt(i) === 46) {
        if (n === 4) { key = subject.slice(i + 1); break; }
        n++;
      }
    }
    if (!key) return this.publish(reply, '', status(408, 'Bad Request'), EMPTY);
    if (req.last_by_subj || req.next_by_subj || req.multi_last?.length || req.seq || req.batch || req.start_time ||
      req.up_to_seq || req.up_to_time) {
      return this.publish(reply, '', status(408, 'Bad Request'), EMPTY);
    }
    req.last_by_subj = key;
    this.answer(req, reply);
  }

  private headersFor(m: StoredMsg, extra: Array<[string, string]>): Buffer {
    return appendHeaders(m.headers, [
      ['Nats-Stream', this.stream.name], ['Nats-Subject', m.subject], ['Nats-Sequence', String(m.seq)],
      ['Nats-Time-Stamp', goTimeFromNanos(m.ts)], ...extra,
    ]);
  }

  private answer(req: MsgGetRequest, reply: string): void {
    if (req.multi_last?.length) return this.answerMulti(req, reply);
    const store = this.stream.store;
    // Messages stored after the request and not durable yet are not answered.
    const visible = this.stream.visibility.seq;
    let seq = req.start_time ? store.getSeqFromTime(parseGoTime(req.start_time)) : (req.seq ?? 0);
    const next = req.next_by_subj ?? '';
    const isBatch = (req.batch ?? 0) > 0;
    const batch = isBatch ? req.batch! : 1;
    let np = 0;
    let validThrough = 0;
    if (isBatch) {
      const r = store.numPending(seq, next, false);
      np = r.total;
      validThrough = r.validThrough;
    }
    const maxBytes = (req.max_bytes ?? 0) > 0 ? req.max_bytes! : this.defaultMaxBytes;
    let sentBytes = 0;
    let lastSeq = 0;
    for (let i = 0; i < batch; i++) {
      let m: StoredMsg | undefined;
      if (seq > 0 && !next) {
        m = i === 0 && !isBatch ? store.loadMsg(seq) : store.loadNextMsg('', seq);
      } else if (next) {
        m = store.loadNextMsg(next, seq);
      } else {
        m = store.loadLastMsg(req.last_by_subj ?? '');
        if (m !== undefined && m.seq > visible) m = store.loadPrevMsg(req.last_by_subj ?? '', visible);
      }
      if (m !== undefined && m.seq > visible) m = undefined;
      if (!m) {
        if (batch > 1 && i > 0) break;
        return this.publish(reply, '', status(404, 'Message Not Found'), EMPTY);
      }
      seq = m.seq + 1;
      let hdr: Buffer | undefined;
      if (!req.no_hdr) {
        if (isBatch) {
          if (np > 0) np--;
          hdr = this.headersFor(m, [['Nats-Num-Pending', String(np)], ['Nats-Last-Sequence', String(lastSeq)]]);
        } else {
          hdr = this.headersFor(m, []);
        }
      }
      lastSeq = m.seq;
      this.publish(reply, '', hdr, Buffer.from(m.data));
      sentBytes += m.subject.length + (m.headers?.length ?? 0) + m.data.length;
      if (sentBytes >= maxBytes) break;
    }
    if (isBatch) {
      if (store.lastSeq > validThrough) np = store.numPending(seq, next, false).total;
      this.publish(reply, '', statusHeader(204, 'EOB', [['Nats-Num-Pending', String(np)], ['Nats-Last-Sequence', String(lastSeq)]]), EMPTY);
    }
  }

  private answerMulti(req: MsgGetRequest, reply: string): void {
    const store = this.stream.store;
    let upTo = req.up_to_seq ?? 0;
    if (req.up_to_time) {
      upTo = store.getSeqFromTime(parseGoTime(req.up_to_time));
      if (upTo <= store.firstSeq) return this.publish(reply, '', status(404, 'No Results'), EMPTY);
      upTo--;
    }
    if (upTo === 0) upTo = Math.min(store.lastSeq, this.stream.visibility.seq);
    let seqs: number[];
    try {
      seqs = store.multiLastSeqs(req.multi_last!, upTo, MAX_MULTI_RESULTS);
    } catch (e) {
      if (isStoreError(e, 'ErrTooManyResults')) return this.publish(reply, '', status(413, 'Too Many Results'), EMPTY);
      return this.publish(reply, '', status(500, publicErrorText(e)), EMPTY);
    }
    const start = req.seq ?? 0;
    if (start > 0) seqs = seqs.filter((s) => s >= start);
    if (seqs.length === 0) return this.publish(reply, '', status(404, 'No Results'), EMPTY);
    const maxBytes = (req.max_bytes ?? 0) > 0 ? req.max_bytes! : this.defaultMaxBytes;
    let lastSeq = 0;
    let sentBytes = 0;
    let sent = 0;
    let np = 0;
    for (let i = 0; i < seqs.length; i++) {
      const m = store.loadMsg(seqs[i]!);
      if (!m) continue;
      np = seqs.length - i - 1;
      const hdr = this.headersFor(m, [['Nats-Num-Pending', String(np)], ['Nats-Last-Sequence', String(lastSeq)]]);
      lastSeq = m.seq;
      this.publish(reply, '', hdr, Buffer.from(m.data));
      sentBytes += m.subject.length + (m.headers?.length ?? 0) + m.data.length;
      sent++;
      if (sentBytes >= maxBytes) break;
      if ((req.batch ?? 0) > 0 && sent >= req.batch!) break;
    }
    this.publish(reply, '', statusHeader(204, 'EOB', [
      ['Nats-Num-Pending', String(np)], ['Nats-Last-Sequence', String(lastSeq)], ['Nats-UpTo-Sequence', String(upTo)],
    ]), EMPTY);
  }
}
