// Mirrors and sources for streams of the same account on this server.
//
// nats-server follows an origin stream through an internal push consumer with flow
// control. Here the origin lives in the same process, so the sourcing stream reads the
// origin's store directly: a catch-up pass copies what is already stored (in batches, one
// batch per event-loop turn), then a listener on the origin follows new messages. The
// effect is the same as nats-server's for local origins:
//  - a mirror keeps the origin's sequences and timestamps (gaps are skipped) and applies
//    its filter/subject transforms;
//  - a source re-publishes matching messages into the sourcing stream with a
//    `Nats-Stream-Source: <stream> <seq> <filter> <dest> <subject>` header, from which
//    the position is recovered after a restart.
// Sources/mirrors with `external` (another account or domain) are not followed: their
// info shows an error saying so.

import type { JetStreamService } from './index.js';
import type { JsAccount } from './js-account.js';
import type { Stream } from './stream.js';
import type { StreamSource, StreamSourceInfo } from './api/types.js';
import { SubjectTransform, subjectMatchesFilter } from './subjects.js';
import { appendHeaders, getHeader, removeHeader, HDR_STREAM_SOURCE } from './headers.js';
import { parseGoTime } from './api/json.js';
import type { StoredMsg } from './store/types.js';

const BATCH = 512;
/** Idle heartbeat interval of nats-server's sourcing consumers (activity while attached). */
const SOURCE_HEARTBEAT_MS = 1000;

/** One origin followed by one sourcing stream. */
class SourceFollower {
  readonly iname: string;
  /** Last origin sequence already copied. */
  lastOriginSeq = 0;
  lastActiveMs = 0;
  error: string | undefined;
  private origin: Stream | undefined;
  private detach: (() => void) | undefined;
  private scheduled = false;
  private stopped = false;
  private readonly transforms: Array<{ filter: string; tr: SubjectTransform | undefined }>;

  constructor(
    readonly target: Stream,
    readonly src: StreamSource,
    readonly isMirror: boolean,
  ) {
    const trs = src.subject_transforms ?? [];
    this.transforms = trs.length
      ? trs.map((t) => ({ filter: t.src || '>', tr: t.dest ? new SubjectTransform(t.src || '>', t.dest) : undefined }))
      : [{ filter: src.filter_subject || '>', tr: undefined }];
    this.iname = `${src.name} ${trs.length ? trs.map((t) => t.src || '>').join('\f') : (src.filter_subject || '>')} ${trs.length ? trs.map((t) => t.dest || '>').join('\f') : '>'}`;
    if (src.external) this.error = 'sourcing from another account or domain is not supported by this server';
  }

  /** Attach to the origin (when it exists) and start catching up. */
  connect(origin: Stream): void {
    if (this.stopped || this.src.external) return;
    this.disconnect();
    this.origin = origin;
    this.error = undefined;
    this.lastActiveMs = Date.now();
    if (this.lastOriginSeq === 0) this.lastOriginSeq = this.initialPosition(origin);
    this.detach = origin.addListener({
      msgStored: () => this.schedule(),
      purged: () => this.schedule(),
    });
    this.schedule();
  }

  disconnect(): void {
    this.detach?.();
    this.detach = undefined;
    this.origin = undefined;
  }

  stop(): void {
    this.stopped = true;
    this.disconnect();
  }

  private initialPosition(origin: Stream): number {
    if (this.isMirror) {
      const last = this.target.store.fastState().lastSeq;
      if (last > 0) return last;
    }
    if (this.src.opt_start_seq) return this.src.opt_start_seq - 1;
    if (this.src.opt_start_time) return origin.store.getSeqFromTime(parseGoTime(this.src.opt_start_time)) - 1;
    return 0;
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** Copy up to BATCH messages; reschedule while behind. */
  private pump(): void {
    const origin = this.origin;
    if (!origin || origin.isClosed || this.stopped || this.target.isClosed) return;
    // A source's copies go through the target's dedupe checks: wait (a turn at a time) for
    // its window to be rebuilt after a restart rather than make it finish in one long turn.
    if (!this.isMirror && this.target.dedupeRebuilding) {
      this.schedule();
      return;
    }
    const store = origin.store;
    // Only what is durable in the origin is copied (jetstream/visibility.ts); the origin's
    // msgStored event reschedules this once more becomes visible.
    const visible = origin.visibility.seq;
    let seq = this.lastOriginSeq + 1;
    for (let n = 0; n < BATCH; n++) {
      let m = seq <= visible ? store.loadNextMsg('', seq) : undefined;
      if (m !== undefined && m.seq > visible) m = undefined;
      if (!m) {
        // Nothing more stored; for mirrors advance over trailing deletes so lag is right.
        const last = Math.min(store.lastSeq, visible);
        if (this.isMirror && last > this.lastOriginSeq) this.skipTo(last);
        return;
      }
      try {
        this.copy(m);
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        return; // retried on the next origin event
      }
      this.lastOriginSeq = m.seq;
      this.lastActiveMs = Date.now();
      seq = m.seq + 1;
    }
    this.schedule();
  }

  private skipTo(last: number): void {
    const t = this.target.store;
    const tl = t.fastState().lastSeq;
    if (last > tl) t.skipMsgs(tl + 1, last - tl);
    this.lastOriginSeq = last;
  }

  private mapSubject(subject: string): string | undefined {
    for (const { filter, tr } of this.transforms) {
      if (!subjectMatchesFilter(subject, filter)) continue;
      return tr ? (tr.apply(subject) ?? subject) : subject;
    }
    return undefined;
  }

  private copy(m: StoredMsg): void {
    const subject = this.mapSubject(m.subject);
    if (this.isMirror) {
      if (subject === undefined) {
        // Filtered out: keep sequences aligned with the origin.
        const tl = this.target.store.fastState().lastSeq;
        if (m.seq > tl) this.target.store.skipMsgs(tl + 1, m.seq - tl);
        return;
      }
      this.target.storeRaw(subject, m.headers ? Buffer.from(m.headers) : undefined, Buffer.from(m.data), m.seq, m.ts);
      return;
    }
    if (subject === undefined) return;
    const base = m.headers ? removeHeader(m.headers, HDR_STREAM_SOURCE) : undefined;
    const hdr = appendHeaders(base, [[HDR_STREAM_SOURCE, `${this.iname.split(' ')[0]} ${m.seq} ${this.iname.split(' ')[1]} ${this.iname.split(' ')[2]} ${m.subject}`]]);
    this.target.storeMessage(subject, hdr, Buffer.from(m.data), '');
  }

  info(): StreamSourceInfo {
    const o: StreamSourceInfo = { name: this.src.name, lag: 0, active: -1 };
    if (this.src.external) o.external = this.src.external;
    if (this.origin) {
      const last = this.origin.store.fastState().lastSeq;
      o.lag = Math.max(0, last - this.lastOriginSeq);
    }
    if (this.lastActiveMs > 0) {
      let sinceMs = Date.now() - this.lastActiveMs;
      // nats-server's sourcing consumer receives an idle heartbeat every second while the
      // origin is reachable, and counts it as activity: an attached follower is never
      // more than a heartbeat interval inactive.
      if (this.origin && !this.origin.isClosed) sinceMs %= SOURCE_HEARTBEAT_MS;
      o.active = sinceMs * 1_000_000;
    }
    if (this.error) o.error = { code: 500, err_code: 10029, description: this.error };
    if (this.src.filter_subject) o.filter_subject = this.src.filter_subject;
    if (this.src.subject_transforms?.length) o.subject_transforms = this.src.subject_transforms;
    return o;
  }
}

export class Sourcing {
  private readonly followers = new Map<Stream, SourceFollower[]>();
  private readonly watched = new WeakSet<Stream>();

  constructor(private readonly js: JetStreamService) {}

  streamAdded(acc: JsAccount, stream: Stream): void {
    this.setup(acc, stream);
    // Streams that were waiting for this one as their origin.
    for (const [target, fs] of this.followers) {
      if (target === stream) continue;
      for (const f of fs) if (f.src.name === stream.name && !f.src.external && acc.streams.get(target.name) === target) f.connect(stream);
    }
  }

  streamRemoved(_acc: JsAccount, stream: Stream): void {
    for (const f of this.followers.get(stream) ?? []) f.stop();
    this.followers.delete(stream);
    for (const fs of this.followers.values()) for (const f of fs) if (f.src.name === stream.name) f.disconnect();
  }

  /** (Re)build the followers of a stream from its config (create, recover, update). */
  setup(acc: JsAccount, stream: Stream): void {
    if (!this.watched.has(stream)) {
      this.watched.add(stream);
      stream.addListener({ configChanged: () => { if (!stream.isClosed) this.setup(acc, stream); } });
    }
    for (const f of this.followers.get(stream) ?? []) f.stop();
    const cfg = stream.config;
    const fs: SourceFollower[] = [];
    if (cfg.mirror) fs.push(new SourceFollower(stream, cfg.mirror, true));
    for (const s of cfg.sources ?? []) fs.push(new SourceFollower(stream, s, false));
    if (!fs.length) {
      this.followers.delete(stream);
      stream.mirrorInfo = undefined;
      stream.sourcesInfo = undefined;
      return;
    }
    this.followers.set(stream, fs);
    if (!cfg.mirror) this.recoverSourcePositions(stream, fs);
    stream.mirrorInfo = cfg.mirror ? () => fs[0]!.info() : undefined;
    stream.sourcesInfo = cfg.sources?.length ? () => fs.filter((f) => !f.isMirror).map((f) => f.info()) : undefined;
    for (const f of fs) {
      const origin = acc.streams.get(f.src.name);
      if (origin && origin !== stream) f.connect(origin);
    }
  }

  /** After a restart: the last Nats-Stream-Source header per source tells where to continue. */
  private recoverSourcePositions(stream: Stream, fs: SourceFollower[]): void {
    const store = stream.store;
    let seq = store.fastState().lastSeq;
    const pending = new Set(fs);
    const first = store.fastState().firstSeq;
    while (pending.size && seq >= first && seq > 0) {
      const m = store.loadPrevMsg('', seq);
      if (!m) break;
      const h = m.headers ? getHeader(m.headers, HDR_STREAM_SOURCE) : undefined;
      if (h) {
        const parts = h.split(' ');
        const iname = parts.length >= 4 ? `${parts[0]} ${parts[2]} ${parts[3]}` : '';
        for (const f of pending) {
          if (f.iname === iname || (parts.length < 4 && f.src.name === parts[0])) {
            f.lastOriginSeq = Number(parts[1]) || 0;
            pending.delete(f);
          }
        }
      }
      seq = m.seq - 1;
    }
  }

  stop(): void {
    for (const fs of this.followers.values()) for (const f of fs) f.stop();
    this.followers.clear();
  }
}
