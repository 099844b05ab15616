// What every follower of an origin stream shares, whichever way it reads the origin
// (sourcing.ts: the origin's store in this process; source-remote.ts: a consumer on the
// origin through the JetStream API): the position reached, the subject filter/transforms,
// the Nats-Stream-Source header of sourced copies, how a copy is stored in the sourcing
// stream (directly, or through its raft group when replicated) and the info block.

import type { Stream } from './stream.js';
import type { StreamSource, StreamSourceInfo } from './api/types.js';
import { SubjectTransform, subjectMatchesFilter } from './subjects.js';
import { appendHeaders, removeHeader, HDR_STREAM_SOURCE } from './headers.js';

export abstract class FollowerBase {
  /** Index name: `<origin> <filters> <destinations>`, as in the Nats-Stream-Source header. */
  readonly iname: string;
  /** Last origin sequence already copied. */
  lastOriginSeq = 0;
  lastActiveMs = 0;
  error: string | undefined;
  private readonly transforms: Array<{ filter: string; tr: SubjectTransform | undefined }>;
  private readonly hdrPrefix: string;
  private readonly hdrMiddle: string;

  constructor(
    readonly target: Stream,
    readonly src: StreamSource,
    readonly isMirror: boolean,
  ) {
    const trs = src.subject_transforms ?? [];
    this.transforms = trs.length
      ? trs.map((t) => ({ filter: t.src || '>', tr: t.dest ? new SubjectTransform(t.src || '>', t.dest) : undefined }))
      : [{ filter: src.filter_subject || '>', tr: undefined }];
    const filters = trs.length ? trs.map((t) => t.src || '>').join('\f') : (src.filter_subject || '>');
    const dests = trs.length ? trs.map((t) => t.dest || '>').join('\f') : '>';
    this.iname = `${src.name} ${filters} ${dests}`;
    this.hdrPrefix = `${src.name} `;
    this.hdrMiddle = ` ${filters} ${dests} `;
  }

  /** Begin following (the sourcing stream is led here). */
  abstract start(): void;
  /** Stop following (removed, reconfigured, or no longer the leader). */
  abstract stop(): void;
  /** Messages of the origin not copied yet, as far as known. */
  protected abstract lag(): number;
  /** Whether the origin is reachable now (an attached follower counts heartbeats as activity). */
  protected abstract attached(): boolean;

  /** The subject a message of the origin gets here; undefined when the filters leave it out. */
  protected mapSubject(subject: string): string | undefined {
    for (const { filter, tr } of this.transforms) {
      if (!subjectMatchesFilter(subject, filter)) continue;
      return tr ? (tr.apply(subject) ?? subject) : subject;
    }
    return undefined;
  }

  /** A mirrored message: the origin's sequence and time, through the stream's raft group when it has one. */
  protected storeMirrored(subject: string, hdr: Buffer | undefined, data: Buffer, seq: number, ts: bigint): void {
    const t = this.target;
    if (t.mirrorReplicator) t.mirrorReplicator(subject, hdr, data, seq, ts);
    else t.storeRaw(subject, hdr, data, seq, ts);
  }

  /** The headers of a sourced copy: the origin's, with its own Nats-Stream-Source replaced. */
  protected sourcedHeaders(hdr: Buffer | undefined, originSeq: number, originSubject: string): Buffer {
    const base = hdr ? removeHeader(hdr, HDR_STREAM_SOURCE) : undefined;
    return appendHeaders(base, [[HDR_STREAM_SOURCE, this.hdrPrefix + originSeq + this.hdrMiddle + originSubject]]);
  }

  info(): StreamSourceInfo {
    // nats-server's field order: name, external, lag, active, error.
    const o: StreamSourceInfo = this.src.external
      ? { name: this.src.name, external: this.src.external, lag: this.lag(), active: -1 }
      : { name: this.src.name, lag: this.lag(), active: -1 };
    if (this.lastActiveMs > 0) {
      let sinceMs = Date.now() - this.lastActiveMs;
      // nats-server's sourcing consumer receives an idle heartbeat every second while the
      // origin is reachable, and counts it as activity: an attached follower is never
      // more than a heartbeat interval inactive.
      if (this.attached()) sinceMs %= SOURCE_HEARTBEAT_MS;
      o.active = sinceMs * 1_000_000;
    }
    if (this.error) o.error = { code: 500, err_code: 10029, description: this.error };
    if (this.src.filter_subject) o.filter_subject = this.src.filter_subject;
    if (this.src.subject_transforms?.length) o.subject_transforms = this.src.subject_transforms;
    return o;
  }
}

/** Idle heartbeat interval of nats-server's sourcing consumers (sourceHealthHB). */
export const SOURCE_HEARTBEAT_MS = 1000;
