// Subject arithmetic for account imports: the positional wildcard mapping between an import's
// subject in the exporting account and its subject in the importing account (`to`, `prefix`),
// and the overlap tests nats-server uses to authorize imports, find cycles and place the
// shadow subscriptions of stream imports.

/**
 * Maps subjects matching the pattern `from` onto the pattern `to`: the i-th `*` token of `to`
 * takes the token the i-th `*` of `from` matched, a trailing `>` takes the tail `>` matched.
 * Works on patterns too (a wildcard matched by a wildcard is carried over), which is what the
 * shadow subscriptions need. A literal `to` maps every subject onto itself.
 */
export class SubjectMapping {
  private readonly fromTokens: string[];
  private readonly toTokens: string[];
  /** the mapping changes nothing (no `to`, no prefix): callers skip it on the delivery path */
  readonly identity: boolean;

  constructor(readonly from: string, readonly to: string) {
    this.fromTokens = from.split('.');
    this.toTokens = to.split('.');
    this.identity = from === to;
  }

  apply(subject: string): string {
    if (this.identity) return subject;
    const st = subject.split('.');
    const ft = this.fromTokens;
    const stars: string[] = [];
    let tail: string | undefined;
    for (let i = 0; i < ft.length && i < st.length; i++) {
      if (ft[i] === '>') {
        tail = st.slice(i).join('.');
        break;
      }
      if (ft[i] === '*') stars.push(st[i]);
    }
    let k = 0;
    const out: string[] = [];
    for (const t of this.toTokens) {
      if (t === '*') out.push(stars[k++] ?? '*');
      else if (t === '>') out.push(tail ?? '>');
      else out.push(t);
    }
    return out.join('.');
  }
}

/** The subjects both patterns match, as one pattern; null when they match nothing in common. */
export function subjectIntersection(a: string, b: string): string | null {
  const at = a.split('.');
  const bt = b.split('.');
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const x = at[i];
    const y = bt[i];
    if (x === undefined && y === undefined) return out.join('.');
    if (x === '>') return y === undefined ? null : out.concat(bt.slice(i)).join('.');
    if (y === '>') return x === undefined ? null : out.concat(at.slice(i)).join('.');
    if (x === undefined || y === undefined) return null;
    if (x === '*') out.push(y);
    else if (y === '*' || x === y) out.push(x);
    else return null;
  }
}

/** nats-server SubjectsCollide: some subject matches both patterns. */
export function subjectsCollide(a: string, b: string): boolean {
  return subjectIntersection(a, b) !== null;
}

/** nats-server subjectIsSubsetMatch: every subject `sub` matches is matched by `pattern` too. */
export function isSubsetMatch(sub: string, pattern: string): boolean {
  const st = sub.split('.');
  const pt = pattern.split('.');
  for (let i = 0; i < pt.length; i++) {
    const p = pt[i];
    const s = st[i];
    if (s === undefined) return false;
    if (p === '>') return true;
    if (s === '>') return false;
    if (p === '*') continue;
    if (s === '*' || s !== p) return false;
  }
  return st.length === pt.length;
}
