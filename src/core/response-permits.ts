// Response permissions (`allow_responses` in a user's permissions, `resp` in a user JWT):
// a client may publish to the reply subject of a message it received even when its publish
// permissions deny that subject, at most `max` times and within `expiresMs` of receiving it
// (nats-server client.go: the per-client `replies` map, pubAllowedFullCheck, pruneReplyPerms).
// Only clients with response permissions own one of these: others pay nothing.

/** nats-server prunes the map once it holds more entries than this. */
const PRUNE_ABOVE = 4096;

interface Permit {
  /** when the message carrying the reply subject was delivered (ms) */
  at: number;
  /** responses published so far */
  n: number;
}

export class ResponsePermits {
  private readonly replies = new Map<string, Permit>();

  /** `max` <= 0 and `expiresMs` <= 0 mean no limit (the parsers turn 0 into the defaults). */
  constructor(private readonly max: number, private readonly expiresMs: number) {}

  /** A message with this reply subject was delivered to the client: it may answer it. */
  received(reply: string): void {
    // A reply subject delivered again starts afresh, as nats-server overwrites its entry.
    this.replies.set(reply, { at: Date.now(), n: 0 });
    if (this.replies.size > PRUNE_ABOVE) this.prune();
  }

  /** May the client publish to `subject` as a response? Counts the response when it may. */
  respond(subject: string): boolean {
    const p = this.replies.get(subject);
    if (p === undefined) return false;
    p.n++;
    if ((this.max > 0 && p.n > this.max) || this.expired(p, Date.now())) {
      this.replies.delete(subject);
      return false;
    }
    return true;
  }

  get size(): number {
    return this.replies.size;
  }

  private expired(p: Permit, now: number): boolean {
    return this.expiresMs > 0 && now - p.at > this.expiresMs;
  }

  /** Drop used-up and expired entries (a client that never answers must not grow the map forever). */
  private prune(): void {
    const now = Date.now();
    for (const [k, p] of this.replies) {
      if ((this.max > 0 && p.n >= this.max) || this.expired(p, now)) this.replies.delete(k);
    }
  }
}
