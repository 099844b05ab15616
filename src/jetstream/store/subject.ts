// Subject filter matching for the store. Filters use NATS wildcards: '*' matches
// exactly one token, '>' (last token only) matches one or more tokens. '' and
// '>' both mean "every subject". Matching walks both strings by index so no
// token arrays are allocated per message.

export function isAllFilter(filter: string): boolean {
  return filter === '' || filter === '>';
}

export function hasWildcard(filter: string): boolean {
  if (filter.length === 0) return false;
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i);
    if (c === 42 /* * */ || c === 62 /* > */) {
      const prevOk = i === 0 || filter.charCodeAt(i - 1) === 46;
      const nextOk = i === filter.length - 1 || filter.charCodeAt(i + 1) === 46;
      if (prevOk && nextOk) return true;
    }
  }
  return false;
}

/** True when the literal subject matches the (possibly wildcard) filter. */
export function subjectMatches(subject: string, filter: string): boolean {
  if (filter === '' || filter === '>') return true;
  const sl = subject.length;
  const fl = filter.length;
  let si = 0;
  let fi = 0;
  for (;;) {
    // Find end of current filter token.
    let fe = fi;
    while (fe < fl && filter.charCodeAt(fe) !== 46) fe++;
    let se = si;
    while (se < sl && subject.charCodeAt(se) !== 46) se++;
    const ftLen = fe - fi;
    if (ftLen === 1 && filter.charCodeAt(fi) === 62 && fe === fl) {
      // '>' needs at least one remaining token.
      return si < sl;
    }
    const isStar = ftLen === 1 && filter.charCodeAt(fi) === 42;
    if (!isStar) {
      if (se - si !== ftLen) return false;
      for (let k = 0; k < ftLen; k++) {
        if (subject.charCodeAt(si + k) !== filter.charCodeAt(fi + k)) return false;
      }
    } else if (se === si) {
      return false; // empty token cannot match '*'
    }
    const fDone = fe >= fl;
    const sDone = se >= sl;
    if (fDone || sDone) return fDone && sDone;
    fi = fe + 1;
    si = se + 1;
  }
}
