// Subject trie with '*' and '>' wildcards, queue groups and a match cache.
//
// The cache maps a literal subject to its (immutable) match result. Every
// insert/remove bumps `genid` and drops the cache, so a cached result is never
// stale; callers may keep their own cache keyed by genid too. Results are
// frozen arrays: the delivery loop can iterate them while subscriptions are
// being added or removed (removed ones are flagged `closed`).
import type { Subscription, SublistResult } from './types.js';
import { isValidSubject } from './subject.js';

const CACHE_MAX = 1024;
const CACHE_SWEEP_TO = 768;
const DOT = 46;

const EMPTY_RESULT: SublistResult = Object.freeze({
  psubs: Object.freeze([]) as readonly Subscription[],
  qsubs: Object.freeze([]) as readonly (readonly Subscription[])[],
});

class SlNode {
  next: SlLevel | null = null;
  psubs: Set<Subscription> | null = null;
  qsubs: Map<string, Set<Subscription>> | null = null;

  isEmpty(): boolean {
    return (this.psubs === null || this.psubs.size === 0) && (this.qsubs === null || this.qsubs.size === 0)
      && (this.next === null || this.next.isEmpty());
  }
}

class SlLevel {
  nodes = new Map<string, SlNode>();
  pwc: SlNode | null = null;
  fwc: SlNode | null = null;

  isEmpty(): boolean {
    return this.nodes.size === 0 && this.pwc === null && this.fwc === null;
  }
}

export interface SublistStats {
  numSubs: number;
  numCache: number;
  numInserts: number;
  numRemoves: number;
  numMatches: number;
  cacheHitRate: number;
  maxFanout: number;
  avgFanout: number;
}

/** Shared by results without queue subscriptions (most): never written to. */
const NO_QSUBS = Object.freeze([]) as unknown as Subscription[][];

class ResultBuilder {
  /**
   * Token index from which on the walk notes whether it looked at a token (a literal child or a
   * `*` at that level): `dependsPast` then says the result may differ for subjects that share
   * only the tokens before it.
   */
  constructor(readonly prefixTokens = Infinity) {}
  dependsPast = false;
  psubs: Subscription[] = [];
  /** Queue groups and their names, allocated at the first queue subscription. */
  qsubs: Subscription[][] = NO_QSUBS;
  qnames: string[] | null = null;

  addNode(n: SlNode): void {
    if (n.psubs !== null) for (const s of n.psubs) this.psubs.push(s);
    if (n.qsubs !== null) {
      for (const [qname, set] of n.qsubs) {
        if (set.size === 0) continue;
        if (this.qnames === null) {
          this.qnames = [];
          this.qsubs = [];
        }
        let idx = this.qnames.indexOf(qname);
        if (idx < 0) {
          idx = this.qnames.length;
          this.qnames.push(qname);
          this.qsubs.push([]);
        }
        const group = this.qsubs[idx];
        for (const s of set) {
          // A remote queue subscription stands for `weight` members.
          for (let w = s.weight; w > 0; w--) group.push(s);
        }
      }
    }
  }
}

export class Sublist {
  /** generation counter: changes on every insert/remove */
  genid = 0;
  private root = new SlLevel();
  private cache = new Map<string, SublistResult>();
  /** matchOnce's last subject and its result, valid while genid is unchanged. */
  private onceSubject = '';
  private onceResult: SublistResult = EMPTY_RESULT;
  private onceGenid = -1;
  private count = 0;
  private inserts = 0;
  private removes = 0;
  private matches = 0;
  private cacheHits = 0;

  get size(): number {
    return this.count;
  }

  /** Insert a subscription. Returns false for an invalid subject. */
  insert(sub: Subscription): boolean {
    const subject = sub.subject;
    if (!isValidSubject(subject)) return false;
    const toks = subject.split('.');
    let l = this.root;
    let n: SlNode | null = null;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      if (t === '*') {
        if (l.pwc === null) l.pwc = new SlNode();
        n = l.pwc;
      } else if (t === '>') {
        if (l.fwc === null) l.fwc = new SlNode();
        n = l.fwc;
      } else {
        n = l.nodes.get(t) ?? null;
        if (n === null) {
          n = new SlNode();
          l.nodes.set(t, n);
        }
      }
      if (i < toks.length - 1) {
        if (n.next === null) n.next = new SlLevel();
        l = n.next;
      }
    }
    const node = n!;
    if (sub.queue === undefined) {
      if (node.psubs === null) node.psubs = new Set();
      if (node.psubs.has(sub)) return true;
      node.psubs.add(sub);
    } else {
      if (node.qsubs === null) node.qsubs = new Map();
      let set = node.qsubs.get(sub.queue);
      if (set === undefined) {
        set = new Set();
        node.qsubs.set(sub.queue, set);
      }
      if (set.has(sub)) return true;
      set.add(sub);
    }
    this.count++;
    this.inserts++;
    this.invalidate();
    return true;
  }

  /** Remove a subscription. Returns false when it was not present. */
  remove(sub: Subscription): boolean {
    const toks = sub.subject.split('.');
    // Walk down remembering the path so empty nodes can be pruned.
    const levels: SlLevel[] = [];
    const nodes: SlNode[] = [];
    let l: SlLevel | null = this.root;
    for (let i = 0; i < toks.length; i++) {
      if (l === null) return false;
      const t = toks[i];
      const n: SlNode | null = t === '*' ? l.pwc : t === '>' ? l.fwc : (l.nodes.get(t) ?? null);
      if (n === null) return false;
      levels.push(l);
      nodes.push(n);
      l = n.next;
    }
    const node = nodes[nodes.length - 1];
    let removed = false;
    if (sub.queue === undefined) {
      if (node.psubs !== null) removed = node.psubs.delete(sub);
    } else if (node.qsubs !== null) {
      const set = node.qsubs.get(sub.queue);
      if (set !== undefined) {
        removed = set.delete(sub);
        if (set.size === 0) node.qsubs.delete(sub.queue);
      }
    }
    if (!removed) return false;
    // Prune empty nodes bottom-up.
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (n.next !== null && n.next.isEmpty()) n.next = null;
      if (!n.isEmpty()) break;
      const lv = levels[i];
      const t = toks[i];
      if (t === '*') lv.pwc = null;
      else if (t === '>') lv.fwc = null;
      else lv.nodes.delete(t);
    }
    this.count--;
    this.removes++;
    this.invalidate();
    return true;
  }

  private invalidate(): void {
    this.genid++;
    if (this.cache.size > 0) this.cache.clear();
    this.ackPrefix = null;
  }

  /**
   * The last `$JS.ACK.<stream>.<consumer>` whose acks matched without looking at any later token
   * (the usual `$JS.ACK.<stream>.<consumer>.>` interest), and that result: every ack of that
   * consumer has it. Dropped with the cache on every insert and remove.
   */
  private ackPrefix: string | null = null;
  private ackResult: SublistResult = EMPTY_RESULT;

  /** All subscriptions matching the literal subject `subject`. */
  match(subject: string): SublistResult {
    this.matches++;
    // A JetStream ack subject carries the message's sequences and time, so it is never used twice:
    // caching it would only hash it twice and push out entries that are used again.
    if (isJsAckSubject(subject)) return this.matchAck(subject);
    return this.matchCached(subject);
  }

  /**
   * match() for a subject that is usually used once, such as the reply subject a PubAck or
   * another answer goes to: not looked up in the cache nor added to it (a fresh string would be
   * hashed twice and push out entries that are used again). Only the last one is remembered, for
   * a requester that reuses one reply subject.
   */
  matchOnce(subject: string): SublistResult {
    this.matches++;
    if (subject === this.onceSubject && this.onceGenid === this.genid) {
      this.cacheHits++;
      return this.onceResult;
    }
    const r = this.matchNoCache(subject);
    this.onceSubject = subject;
    this.onceResult = r;
    this.onceGenid = this.genid;
    return r;
  }

  private matchCached(subject: string): SublistResult {
    const cached = this.cache.get(subject);
    if (cached !== undefined) {
      this.cacheHits++;
      return cached;
    }
    const r = this.matchNoCache(subject);
    if (this.cache.size >= CACHE_MAX) {
      // Map iterates in insertion order: drop the oldest entries.
      let drop = this.cache.size - CACHE_SWEEP_TO;
      for (const k of this.cache.keys()) {
        if (drop-- <= 0) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(subject, r);
    return r;
  }

  private matchNoCache(subject: string): SublistResult {
    if (!hasNoEmptyToken(subject)) return EMPTY_RESULT;
    return this.walk(subject, new ResultBuilder());
  }

  private walk(subject: string, b: ResultBuilder): SublistResult {
    matchLevel(this.root, subject, 0, 0, b);
    if (b.psubs.length === 0 && b.qsubs.length === 0) return EMPTY_RESULT;
    return { psubs: b.psubs, qsubs: b.qsubs };
  }

  /**
   * An ack subject: the result of the previous ack of the same consumer when that one did not
   * depend on anything after `$JS.ACK.<stream>.<consumer>` (then no subscription tells the
   * numeric tokens apart, and every subject with that prefix and more tokens matches the same).
   */
  private matchAck(subject: string): SublistResult {
    if (!hasNoEmptyToken(subject)) return EMPTY_RESULT;
    const p = this.ackPrefix;
    if (p !== null && subject.length > p.length && subject.charCodeAt(p.length) === DOT && subject.startsWith(p)) {
      return this.ackResult;
    }
    const b = new ResultBuilder(ACK_PREFIX_TOKENS);
    const r = this.walk(subject, b);
    const cut = nthDot(subject, ACK_PREFIX_TOKENS);
    if (cut !== -1 && !b.dependsPast) {
      this.ackPrefix = subject.substring(0, cut);
      this.ackResult = r;
    }
    return r;
  }

  /** True when at least one subscription matches. */
  hasInterest(subject: string): boolean {
    const r = this.match(subject);
    return r.psubs.length > 0 || r.qsubs.length > 0;
  }

  /** Every subscription in the list (for monitoring and route interest floods). */
  all(): Subscription[] {
    const out: Subscription[] = [];
    collect(this.root, out);
    return out;
  }

  stats(): SublistStats {
    let maxFanout = 0;
    let totalFanout = 0;
    for (const r of this.cache.values()) {
      let f = r.psubs.length;
      for (const q of r.qsubs) f += q.length;
      if (f > maxFanout) maxFanout = f;
      totalFanout += f;
    }
    return {
      numSubs: this.count,
      numCache: this.cache.size,
      numInserts: this.inserts,
      numRemoves: this.removes,
      numMatches: this.matches,
      cacheHitRate: this.matches > 0 ? this.cacheHits / this.matches : 0,
      maxFanout,
      avgFanout: this.cache.size > 0 ? totalFanout / this.cache.size : 0,
    };
  }
}

/** `$JS.ACK.…`, tested by character codes (cheaper than startsWith on a fresh string). */
function isJsAckSubject(s: string): boolean {
  return s.length > 8 && s.charCodeAt(0) === 36 && s.charCodeAt(1) === 74 && s.charCodeAt(2) === 83 && s.charCodeAt(3) === 46
    && s.charCodeAt(4) === 65 && s.charCodeAt(5) === 67 && s.charCodeAt(6) === 75 && s.charCodeAt(7) === 46;
}

/** `$JS.ACK.<stream>.<consumer>`: the tokens an ack subject's match result may be shared by. */
const ACK_PREFIX_TOKENS = 4;

/** Index of the `n`th dot of `s` (1-based), or -1. */
function nthDot(s: string, n: number): number {
  let i = -1;
  for (let k = 0; k < n; k++) {
    i = s.indexOf('.', i + 1);
    if (i === -1) return -1;
  }
  return i;
}

/** No empty token: not empty, no leading or trailing dot, no two dots in a row. */
function hasNoEmptyToken(s: string): boolean {
  const n = s.length;
  if (n === 0 || s.charCodeAt(0) === DOT || s.charCodeAt(n - 1) === DOT) return false;
  for (let i = s.indexOf('.', 1); i !== -1; i = s.indexOf('.', i + 1)) if (s.charCodeAt(i + 1) === DOT) return false;
  return true;
}

/**
 * Adds what matches the tokens of `subject` from character `start` on (past its end: no tokens
 * left). The subject is walked by offsets rather than split: a token becomes a string only where
 * the level has literal children to look it up in, so below a `>`-only level (a consumer's
 * `$JS.ACK.<stream>.<consumer>.>`) the rest of a long subject costs no allocation.
 */
function matchLevel(level: SlLevel | null, subject: string, start: number, tok: number, b: ResultBuilder): void {
  let l = level;
  let n: SlNode | null = null;
  let pwc: SlNode | null = null;
  const len = subject.length;
  for (let pos = start; pos <= len; tok++) {
    if (l === null) return;
    let end = subject.indexOf('.', pos);
    if (end === -1) end = len;
    if (l.fwc !== null) b.addNode(l.fwc);
    pwc = l.pwc;
    // A `>` here matches whatever follows; a literal child or a `*` looks at this token.
    if (tok >= b.prefixTokens && (pwc !== null || l.nodes.size > 0)) b.dependsPast = true;
    if (pwc !== null) matchLevel(pwc.next, subject, end + 1, tok + 1, b);
    n = l.nodes.size === 0 ? null : (l.nodes.get(subject.substring(pos, end)) ?? null);
    l = n !== null ? n.next : null;
    pos = end + 1;
  }
  if (n !== null) b.addNode(n);
  if (pwc !== null) b.addNode(pwc);
}

function collect(l: SlLevel, out: Subscription[]): void {
  const visit = (n: SlNode): void => {
    if (n.psubs !== null) for (const s of n.psubs) out.push(s);
    if (n.qsubs !== null) for (const set of n.qsubs.values()) for (const s of set) out.push(s);
    if (n.next !== null) collect(n.next, out);
  };
  for (const n of l.nodes.values()) visit(n);
  if (l.pwc !== null) visit(l.pwc);
  if (l.fwc !== null) visit(l.fwc);
}
