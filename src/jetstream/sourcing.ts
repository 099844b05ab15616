// Mirrors and sources: the one owner of the followers of every sourcing stream (Sourcing),
// and the follower of an origin in this process (LocalFollower).
//
// nats-server follows an origin stream through an internal push consumer with flow
// control; so does tsnats wherever the origin is not exactly here (source-remote.ts): an
// `external` origin (another domain across a leaf node, another account) and every origin
// in a cluster, where origin and sourcing stream may be led by different servers. Only the
// sourcing stream's leader follows; a new leader continues from its own store (a mirror's
// last sequence, a source's last Nats-Stream-Source header).
//
// On a standalone server an origin of the same account lives in the same process, so the
// sourcing stream reads the origin's store directly: a catch-up pass copies what is already
// stored (in batches, one batch per event-loop turn), then a listener on the origin follows
// new messages. The effect is the same as nats-server's:
//  - a mirror keeps the origin's sequences and timestamps (gaps are skipped) and applies
//    its filter/subject transforms;
//  - a source re-publishes matching messages into the sourcing stream with a
//    `Nats-Stream-Source: <stream> <seq> <filter> <dest> <subject>` header, from which
//    the position is recovered after a restart.

import type { JetStreamService } from './index.js';
import type { JsAccount } from './js-account.js';
import type { Stream } from './stream.js';
import type { StreamSource } from './api/types.js';
import { getHeader, HDR_STREAM_SOURCE } from './headers.js';
import { FollowerBase } from './source-base.js';
import { RemoteFollower } from './source-remote.js';
import { parseGoTime } from './api/json.js';
import type { StoredMsg } from './store/types.js';

const BATCH = 512;

/** An origin in this process followed by reading its store. */
class LocalFollower extends FollowerBase {
  private origin: Stream | undefined;
  private detach: (() => void) | undefined;
  private scheduled = false;
  private stopped = false;

  /** Attach to the origin (when it exists) and start catching up. */
  connect(origin: Stream): void {
    if (this.stopped) return;
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

  /** Attached by connect() once the origin exists (Sourcing does that). */
  start(): void {}

  stop(): void {
    this.stopped = true;
    this.disconnect();
  }

  protected lag(): number {
    return this.origin ? Math.max(0, this.origin.store.fastState().lastSeq - this.lastOriginSeq) : 0;
  }

  protected attached(): boolean {
    return this.origin !== undefined && !this.origin.isClosed;
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

  private copy(m: StoredMsg): void {
    const subject = this.mapSubject(m.subject);
    if (this.isMirror) {
      if (subject === undefined) {
        // Filtered out: keep sequences aligned with the origin.
        const tl = this.target.store.fastState().lastSeq;
        if (m.seq > tl) this.target.store.skipMsgs(tl + 1, m.seq - tl);
        return;
      }
      this.storeMirrored(subject, m.headers ? Buffer.from(m.headers) : undefined, Buffer.from(m.data), m.seq, m.ts);
      return;
    }
    if (subject === undefined) return;
    this.target.storeMessage(subject, this.sourcedHeaders(m.headers ? Buffer.from(m.headers) : undefined, m.seq, m.subject), Buffer.from(m.data), '');
  }
}

type Follower = LocalFollower | RemoteFollower;

/** The one owner of the followers of every sourcing stream of this server. */
export class Sourcing {
  private readonly followers = new Map<Stream, Follower[]>();
  private readonly watched = new WeakSet<Stream>();

  constructor(private readonly js: JetStreamService) {}

  streamAdded(acc: JsAccount, stream: Stream): void {
    this.setup(acc, stream);
    // Streams that were waiting for this one as their origin.
    for (const [target, fs] of this.followers) {
      if (target === stream) continue;
      for (const f of fs) {
        if (f instanceof LocalFollower && f.src.name === stream.name && acc.streams.get(target.name) === target) f.connect(stream);
      }
    }
  }

  streamRemoved(_acc: JsAccount, stream: Stream): void {
    for (const f of this.followers.get(stream) ?? []) f.stop();
    this.followers.delete(stream);
    for (const fs of this.followers.values()) {
      for (const f of fs) if (f instanceof LocalFollower && f.src.name === stream.name) f.disconnect();
    }
  }

  /** (Re)build the followers of a stream from its config (create, recover, update). */
  setup(acc: JsAccount, stream: Stream): void {
    if (!this.watched.has(stream)) {
      this.watched.add(stream);
      stream.addListener({
        configChanged: () => { if (!stream.isClosed) this.setup(acc, stream); },
        leaderChanged: () => { if (!stream.isClosed) this.leadership(acc, stream); },
      });
    }
    for (const f of this.followers.get(stream) ?? []) f.stop();
    const cfg = stream.config;
    const fs: Follower[] = [];
    if (cfg.mirror) fs.push(this.follower(acc, stream, cfg.mirror, true));
    for (const s of cfg.sources ?? []) fs.push(this.follower(acc, stream, s, false));
    if (!fs.length) {
      this.followers.delete(stream);
      stream.mirrorInfo = undefined;
      stream.sourcesInfo = undefined;
      return;
    }
    this.followers.set(stream, fs);
    stream.mirrorInfo = cfg.mirror ? () => fs[0]!.info() : undefined;
    stream.sourcesInfo = cfg.sources?.length ? () => fs.filter((f) => !f.isMirror).map((f) => f.info()) : undefined;
    this.leadership(acc, stream);
  }

  /**
   * The origin is read in this process only where that is exact: a standalone server and an
   * origin of the same account and domain. Everything else (clustered, where the origin may
   * be led elsewhere and the sourcing stream by another replica; external) uses a consumer.
   */
  private follower(acc: JsAccount, stream: Stream, src: StreamSource, isMirror: boolean): Follower {
    if (src.external || this.js.clustered) return new RemoteFollower(this.js.api, acc.name, stream, src, isMirror);
    return new LocalFollower(stream, src, isMirror);
  }

  /** Only the sourcing stream's leader follows; a new leader continues from its own store. */
  private leadership(acc: JsAccount, stream: Stream): void {
    const fs = this.followers.get(stream);
    if (!fs) return;
    if (!stream.leads()) {
      for (const f of fs) if (f instanceof RemoteFollower) f.stop();
      return;
    }
    // Positions come from the store only when (re)starting: a follower already running is ahead
    // of its store by the copies still being proposed.
    const starting = fs.filter((f) => !(f instanceof RemoteFollower && f.isRunning));
    if (!stream.config.mirror && starting.length) this.recoverSourcePositions(stream, starting);
    for (const f of fs) {
      if (f instanceof RemoteFollower) {
        if (f.isRunning) continue;
        if (f.isMirror) f.lastOriginSeq = stream.store.fastState().lastSeq;
        f.start();
        continue;
      }
      const origin = acc.streams.get(f.src.name);
      if (origin && origin !== stream) f.connect(origin);
    }
  }

  /** The last Nats-Stream-Source header per source tells where to continue (restart, new leader). */
  private recoverSourcePositions(stream: Stream, fs: Follower[]): void {
    const store = stream.store;
    let seq = store.fastState().lastSeq;
    const pending = new Set(fs);
    for (const f of fs) f.lastOriginSeq = 0;
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
