// Subject helpers the consumer layer needs (validation of filters and deliver
// subjects, filter matching, overlap checks), with nats-server's semantics:
// tokens split on '.', '*' matches one token, '>' matches one or more trailing tokens.

export function tokenize(subject: string): string[] {
  return subject.split('.');
}

/** nats-server IsValidSubject: non-empty tokens, '>' only last, no whitespace inside tokens. */
export function isValidSubject(subject: string): boolean {
  if (subject === '') return false;
  const toks = subject.split('.');
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.length === 0) return false;
    if (t.length > 1) {
      if (/[\t\n\f\r ]/.test(t)) return false;
      continue;
    }
    if (t === '>' && i !== toks.length - 1) return false;
    if (t === ' ' || t === '\t' || t === '\n' || t === '\r' || t === '\f') return false;
  }
  return true;
}

export function hasWildcard(subject: string): boolean {
  if (subject === '*' || subject === '>') return true;
  for (const t of subject.split('.')) {
    if (t === '*' || t === '>') return true;
  }
  return false;
}

export function isLiteral(subject: string): boolean {
  return !hasWildcard(subject);
}

/** Is `tokens` (possibly wildcarded) a subset of `test` (possibly wildcarded)? foo.* ⊂ foo.>, foo.bar ⊂ foo.*. */
export function isSubsetMatchTokens(tokens: readonly string[], test: readonly string[]): boolean {
  for (let i = 0; i < test.length; i++) {
    if (i >= tokens.length) return false;
    const t2 = test[i]!;
    if (t2.length === 0) return false;
    if (t2 === '>') return true;
    const t1 = tokens[i]!;
    if (t1.length === 0 || t1 === '>') return false;
    if (t1 === '*') {
      if (t2 !== '*') return false;
      continue;
    }
    if (t2 !== '*' && t1 !== t2) return false;
  }
  return tokens.length === test.length;
}

/** subjectIsSubsetMatch(subject, test): every subject matched by `subject` is matched by `test`. */
export function subjectIsSubsetMatch(subject: string, test: string): boolean {
  return isSubsetMatchTokens(subject.split('.'), test.split('.'));
}

function tokensCanMatch(t1: string, t2: string): boolean {
  if (t1 === '*' || t1 === '>' || t2 === '*' || t2 === '>') return true;
  return t1 === t2;
}

/** Can some literal subject be matched by both a and b? */
export function subjectsCollide(a: string, b: string): boolean {
  if (a === b) return true;
  const t1 = a.split('.');
  const t2 = b.split('.');
  const fwc1 = t1[t1.length - 1] === '>';
  const fwc2 = t2[t2.length - 1] === '>';
  const l1 = !hasWildcard(a);
  const l2 = !hasWildcard(b);
  if (l1 && l2) return false;
  if (l1 && !l2) return isSubsetMatchTokens(t1, t2);
  if (l2 && !l1) return isSubsetMatchTokens(t2, t1);
  if (!fwc1 && !fwc2 && t1.length !== t2.length) return false;
  if (t1.length !== t2.length) {
    if ((t1.length < t2.length && !fwc1) || (t2.length < t1.length && !fwc2)) return false;
  }
  const stop = Math.min(t1.length, t2.length);
  for (let i = 0; i < stop; i++) {
    if (!tokensCanMatch(t1[i]!, t2[i]!)) return false;
  }
  return true;
}

/**
 * A compiled set of subject filters for matching literal message subjects quickly.
 * Literal filters go in a Set; wildcard filters are kept tokenized.
 */
export class FilterSet {
  readonly filters: readonly string[];
  private readonly literals = new Set<string>();
  private readonly wild: string[][] = [];

  constructor(filters: readonly string[]) {
    this.filters = filters;
    for (const f of filters) {
      if (hasWildcard(f)) this.wild.push(f.split('.'));
      else this.literals.add(f);
    }
  }

  get isEmpty(): boolean {
    return this.filters.length === 0;
  }

  /** Does a literal subject match one of the filters? An empty set matches everything. */
  matches(subject: string): boolean {
    if (this.filters.length === 0) return true;
    if (this.literals.has(subject)) return true;
    if (this.wild.length === 0) return false;
    const toks = subject.split('.');
    for (const w of this.wild) {
      if (isSubsetMatchTokens(toks, w)) return true;
    }
    return false;
  }
}
