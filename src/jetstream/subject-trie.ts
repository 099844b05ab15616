// Overlap checks between many subjects for the $JS.API configuration checks
// (a stream's subjects against each other and against the account's other
// streams, consumer filter lists, source/mirror filters). Comparing every
// subject with every other is quadratic: one request with 60,000 subjects kept
// the event loop busy for minutes. Here the subjects go into a token trie once
// and each query walks only the branches that can match, with wildcards on both
// sides. A query whose wildcards fan out over a wide trie could still cost a
// lot, so every trie carries a work budget (nodes visited over all its queries);
// spending it throws OverlapWorkExceeded and the request is refused instead of
// stalling every client.
import { subjectsCollide } from './subjects.js';

/** Thrown when the overlap queries of one request visit more trie nodes than allowed. */
export class OverlapWorkExceeded extends Error {
  constructor() {
    super('subject overlap check exceeded its work limit');
  }
}

/** Nodes one request may visit: a few hundred ms at worst, far above any real configuration's needs. */
export const DEFAULT_OVERLAP_BUDGET = 1_000_000;

interface Node {
  children: Map<string, Node> | null;
  /** index of the first subject ending here, or -1 */
  index: number;
  /** more than one inserted subject ends here (duplicates) */
  multi: boolean;
  /** subjects ending strictly below this node */
  below: number;
}

function newNode(): Node {
  return { children: null, index: -1, multi: false, below: 0 };
}

export class SubjectTrie {
  private readonly root = newNode();
  private left: number;

  /** `budget`: trie nodes all queries together may visit before OverlapWorkExceeded. */
  constructor(budget = DEFAULT_OVERLAP_BUDGET) {
    this.left = budget;
  }

  /** Add a valid subject (wildcards allowed) under `index` (its position in the caller's list). */
  insert(subject: string, index: number): void {
    let n = this.root;
    for (const t of subject.split('.')) {
      this.spend();
      n.below++;
      if (n.children === null) n.children = new Map();
      let c = n.children.get(t);
      if (c === undefined) {
        c = newNode();
        n.children.set(t, c);
      }
      n = c;
    }
    if (n.index < 0) n.index = index;
    else n.multi = true;
  }

  /** Can some literal subject match both `subject` and a stored subject other than the one stored under `exclude`? */
  collides(subject: string, exclude = -1): boolean {
    return this.collideAt(this.root, subject.split('.'), 0, true, exclude);
  }

  /** Is every subject `subject` matches also matched by a stored subject other than the one under `exclude`? */
  coveredBy(subject: string, exclude = -1): boolean {
    return this.coverAt(this.root, subject.split('.'), 0, exclude);
  }

  /** Give the queries from now on `budget` node visits: a trie kept between requests gets each request its own. */
  setBudget(budget: number): void {
    this.left = budget;
  }

  private spend(): void {
    if (--this.left < 0) throw new OverlapWorkExceeded();
  }

  private static endsHereOther(n: Node, exclude: number): boolean {
    return n.index >= 0 && (n.index !== exclude || n.multi);
  }

  /** `onSelf`: the walk so far followed the query's own tokens, so the excluded subject may lie below. */
  private collideAt(n: Node, q: string[], k: number, onSelf: boolean, exclude: number): boolean {
    this.spend();
    if (k === q.length) return SubjectTrie.endsHereOther(n, exclude);
    const t = q[k]!;
    // A trailing '>' in the query matches every stored subject with at least one more token.
    if (t === '>') return n.below - (onSelf && exclude >= 0 ? 1 : 0) > 0;
    const ch = n.children;
    if (ch === null) return false;
    const gt = ch.get('>');
    if (gt !== undefined && SubjectTrie.endsHereOther(gt, exclude)) return true;
    if (t === '*') {
      for (const [key, c] of ch) {
        if (key === '>') continue;
        if (this.collideAt(c, q, k + 1, onSelf && key === '*', exclude)) return true;
      }
      return false;
    }
    const lit = ch.get(t);
    if (lit !== undefined && this.collideAt(lit, q, k + 1, onSelf, exclude)) return true;
    const star = ch.get('*');
    return star !== undefined && this.collideAt(star, q, k + 1, false, exclude);
  }

  private coverAt(n: Node, q: string[], k: number, exclude: number): boolean {
    this.spend();
    if (k === q.length) return SubjectTrie.endsHereOther(n, exclude);
    const ch = n.children;
    if (ch === null) return false;
    const gt = ch.get('>');
    if (gt !== undefined && SubjectTrie.endsHereOther(gt, exclude)) return true;
    const t = q[k]!;
    if (t === '>') return false;
    const star = ch.get('*');
    if (star !== undefined && this.coverAt(star, q, k + 1, exclude)) return true;
    if (t === '*') return false;
    const lit = ch.get(t);
    return lit !== undefined && this.coverAt(lit, q, k + 1, exclude);
  }
}

/**
 * The first subject of `subs` (in list order) that collides with another of them, and the
 * first such partner: what the pairwise loop reported. undefined when none collide.
 */
export function firstSelfCollision(subs: readonly string[], budget?: number): { i: number; j: number } | undefined {
  const trie = new SubjectTrie(budget);
  subs.forEach((s, i) => trie.insert(s, i));
  for (let i = 0; i < subs.length; i++) {
    if (!trie.collides(subs[i]!, i)) continue;
    // One linear pass names the partner.
    for (let j = 0; j < subs.length; j++) if (j !== i && subjectsCollide(subs[i]!, subs[j]!)) return { i, j };
  }
  return undefined;
}
