// Bookkeeping shared by both simulators (cluster.ts over RaftCore, node-scenario.ts over
// RaftNode): the bounded trace of recent events, and the end-to-end client checks (every
// proposal acknowledged to a client is applied, and one made on the leader itself is applied
// at one index only). Each simulator reports failures in its own way; these return what is
// wrong instead of throwing.

/** The last `limit` trace lines (a ring); limit 0 keeps nothing. */
export class TraceRing {
  private readonly buf: string[] = [];
  private next = 0;

  constructor(readonly limit: number) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  add(now: number, line: string): void {
    if (this.limit === 0) return;
    this.buf[this.next % this.limit] = `${now.toFixed(3)} ${line}`;
    this.next++;
  }

  /** The kept lines, oldest first. */
  tail(): string[] {
    if (this.next <= this.limit) return this.buf.slice(0, this.next);
    const k = this.next % this.limit;
    return this.buf.slice(k).concat(this.buf.slice(0, k));
  }
}

/** A proposal as the simulators write it: a tag byte, then a 32-bit little-endian id. */
export const TAGGED_LEN = 5;

export function taggedProposal(tag: number, id: number): Buffer {
  const b = Buffer.alloc(TAGGED_LEN);
  b[0] = tag;
  b.writeUInt32LE(id, 1);
  return b;
}

/** The id of a tagged proposal (see taggedProposal). */
export function taggedId(data: Uint8Array): number {
  return data[1] + data[2] * 0x100 + data[3] * 0x10000 + data[4] * 0x1000000;
}

/** Client proposals: which were acknowledged, and where each was applied. */
export class ClientLedger {
  /** Client proposal ids acknowledged to the client (committed on their leader). */
  readonly acked = new Set<number>();
  /** Client proposal id -> the one log index where it was applied (a second index is a duplicate). */
  readonly appliedAt = new Map<number, number>();
  /** Client proposal ids proposed on the leader itself (never sent over the network). */
  readonly directIds = new Set<number>();

  /**
   * Proposal `id` was applied at `index`; returns the failure when that is a duplicate.
   * (Forwarded proposals may be duplicated by the network, as a client retry would be;
   * proposals made on the leader may not.)
   */
  applied(id: number, index: number): string | undefined {
    const at = this.appliedAt.get(id);
    if (at === undefined) this.appliedAt.set(id, index);
    else if (at !== index && this.directIds.has(id)) return `proposal ${id} applied at index ${at} and again at ${index}`;
    return undefined;
  }

  /** The failure when an acknowledged proposal was never applied. */
  unapplied(): string | undefined {
    for (const id of this.acked) if (!this.appliedAt.has(id)) return `acknowledged proposal ${id} was never applied`;
    return undefined;
  }
}
