// Subject helpers JetStream needs for configuration checks and filtering:
// validity, wildcard matching between a subject and a filter, overlap of two
// filters, and subject transforms (stream subject_transform, source transforms).
// Hot-path matching of published messages is the core Sublist's job; these run
// on API calls and per-stream filters.

/** A valid subject (wildcards allowed): no whitespace, non-empty tokens, '>' only as the last token. */
export function isValidSubject(subject: string): boolean {
  if (subject === '' || /\s/.test(subject)) return false;
  const tokens = subject.split('.');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '') return false;
    if (t === '>' && i !== tokens.length - 1) return false;
  }
  return true;
}

export function isLiteralSubject(subject: string): boolean {
  for (const t of subject.split('.')) if (t === '*' || t === '>') return false;
  return true;
}

export function isValidLiteralSubject(subject: string): boolean {
  return isValidSubject(subject) && isLiteralSubject(subject);
}

/** Stream/consumer names: non-empty, no '.', '*', '>', path separators, whitespace or NUL (no store can hold it). */
export function isValidAssetName(name: string | undefined): boolean {
  if (!name) return false;
  return !/[.*>\\/\s\0]/.test(name);
}

/** Does literal `subject` match `filter` (which may hold '*' and '>')? */
export function subjectMatchesFilter(subject: string, filter: string): boolean {
  if (filter === '>' || filter === subject) return true;
  return tokensMatchFilter(subject.split('.'), filter.split('.'));
}

/** subjectMatchesFilter on a subject and a filter already split into tokens. */
export function tokensMatchFilter(st: readonly string[], ft: readonly string[]): boolean {
  for (let i = 0; i < ft.length; i++) {
    const f = ft[i]!;
    if (f === '>') return st.length > i;
    const s = st[i];
    if (s === undefined) return false;
    if (f !== '*' && f !== s) return false;
  }
  return st.length === ft.length;
}

/** Can some literal subject match both `a` and `b`? (nats-server SubjectsCollide) */
export function subjectsCollide(a: string, b: string): boolean {
  if (a === b) return true;
  const ta = a.split('.');
  const tb = b.split('.');
  const n = Math.min(ta.length, tb.length);
  for (let i = 0; i < n; i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === '>' || y === '>') return true;
    if (x === '*' || y === '*') continue;
    if (x !== y) return false;
  }
  if (ta.length === tb.length) return true;
  // Different lengths: only a trailing '>' on the shorter could cover the rest (handled above).
  return false;
}

/** Is every subject matched by `sub` also matched by `of`? (nats-server subjectIsSubsetMatch) */
export function subjectIsSubsetMatch(sub: string, of: string): boolean {
  const ts = sub.split('.');
  const to = of.split('.');
  for (let i = 0; i < ts.length; i++) {
    const o = to[i];
    if (o === undefined) return false;
    if (o === '>') return true;
    const s = ts[i]!;
    if (s === '>') return false;
    if (o === '*') continue;
    if (s === '*' || s !== o) return false;
  }
  return ts.length === to.length;
}

// ---- subject transforms ---------------------------------------------------------------

export class SubjectTransformError extends Error {}

type DestPart = { literal: string } | { wildcard: number } | { rest: true };

/**
 * A mapping from subjects matching `src` to `dest`. Supports the forms clients use for
 * streams and sources: positional wildcards `$1` / `{{wildcard(1)}}`, and a trailing `>`
 * copied from the source's `>`. Other mapping functions (partition, split...) are refused.
 */
export class SubjectTransform {
  readonly src: string;
  readonly dest: string;
  private readonly srcTokens: string[];
  private readonly wildcardPositions: number[];
  private readonly destTokens: DestPart[][];

  constructor(src: string, dest: string) {
    this.src = src === '' ? '>' : src;
    this.dest = dest;
    if (!isValidSubject(this.src)) throw new SubjectTransformError(`invalid source subject ${this.src}`);
    if (dest === '' || !isValidSubject(dest.replace(/\{\{[^}]*\}\}/g, 'x'))) {
      throw new SubjectTransformError('invalid subject transform destination');
    }
    this.srcTokens = this.src.split('.');
    this.wildcardPositions = [];
    this.srcTokens.forEach((t, i) => { if (t === '*') this.wildcardPositions.push(i); });
    const srcHasRest = this.srcTokens[this.srcTokens.length - 1] === '>';
    this.destTokens = dest.split('.').map((tok, i, all) => {
      if (tok === '>') {
        if (i !== all.length - 1 || !srcHasRest) throw new SubjectTransformError('invalid subject transform destination');
        return [{ rest: true }];
      }
      if (tok === '*') throw new SubjectTransformError('invalid subject transform destination');
      const parts: DestPart[] = [];
      const re = /\$(\d+)|\{\{\s*([A-Za-z]+)\s*\(([^)]*)\)\s*\}\}/g;
      let last = 0;
      let m: RegExpExecArray | null;
      while ((m = re.exec(tok)) !== null) {
        if (m.index > last) parts.push({ literal: tok.slice(last, m.index) });
        let n: number;
        if (m[1] !== undefined) n = Number(m[1]);
        else {
          if (m[2]!.toLowerCase() !== 'wildcard') {
            throw new SubjectTransformError(`invalid subject transform destination: function ${m[2]} not supported`);
          }
          n = Number(m[3]!.trim());
        }
        if (!Number.isInteger(n) || n < 1 || n > this.wildcardPositions.length) {
          throw new SubjectTransformError('invalid subject transform destination: wildcard index out of range');
        }
        parts.push({ wildcard: n });
        last = re.lastIndex;
      }
      if (last < tok.length) parts.push({ literal: tok.slice(last) });
      return parts;
    });
  }

  /** The transformed subject, or undefined when `subject` does not match the source. */
  apply(subject: string): string | undefined {
    if (!subjectMatchesFilter(subject, this.src)) return undefined;
    const st = subject.split('.');
    const out: string[] = [];
    for (const parts of this.destTokens) {
      let tok = '';
      for (const p of parts) {
        if ('literal' in p) tok += p.literal;
        else if ('wildcard' in p) tok += st[this.wildcardPositions[p.wildcard - 1]!];
        else tok += st.slice(this.srcTokens.length - 1).join('.');
      }
      out.push(tok);
    }
    return out.join('.');
  }
}
