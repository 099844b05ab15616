// Subject validation and matching helpers (nats-server sublist.go rules).
// Tokens are separated by '.', none may be empty, '*' and '>' are wildcards
// only as whole tokens, and '>' must be the last token.

/** Valid subscription subject (wildcards allowed). */
export function isValidSubject(subject: string): boolean {
  if (subject.length === 0) return false;
  let tokenStart = 0;
  let sawFwc = false;
  for (let i = 0; i <= subject.length; i++) {
    const c = i < subject.length ? subject.charCodeAt(i) : 46;
    if (c === 46 /* . */) {
      const tlen = i - tokenStart;
      if (tlen === 0) return false;
      if (sawFwc) return false; // '>' was not the last token
      if (tlen === 1 && subject.charCodeAt(tokenStart) === 62 /* > */) sawFwc = true;
      tokenStart = i + 1;
    } else if (c === 32 || c === 9 || c === 13 || c === 10) {
      return false;
    }
  }
  return true;
}

/** Valid subject without wildcard tokens (what may be published to under pedantic). */
export function isValidLiteralSubject(subject: string): boolean {
  if (!isValidSubject(subject)) return false;
  return subjectIsLiteral(subject);
}

/** True when no token is exactly '*' or '>'. */
export function subjectIsLiteral(subject: string): boolean {
  const len = subject.length;
  for (let i = 0; i < len; i++) {
    const c = subject.charCodeAt(i);
    if (c === 42 || c === 62) {
      const startOk = i === 0 || subject.charCodeAt(i - 1) === 46;
      const endOk = i === len - 1 || subject.charCodeAt(i + 1) === 46;
      if (startOk && endOk) return false;
    }
  }
  return true;
}

/**
 * An allow/deny rule (cluster and leaf-node permissions) applied to `subject`: allowed when
 * no allow list is given or a filter of it matches, and no deny filter matches.
 */
export function permits(rule: { allow?: string[]; deny?: string[] } | undefined, subject: string): boolean {
  if (rule === undefined) return true;
  if (rule.allow && rule.allow.length > 0 && !rule.allow.some((f) => subjectMatchesFilter(subject, f))) return false;
  if (rule.deny && rule.deny.some((f) => subjectMatchesFilter(subject, f))) return false;
  return true;
}

/** Does the literal subject `subject` match the (possibly wildcard) `filter`? */
export function subjectMatchesFilter(subject: string, filter: string): boolean {
  const st = subject.split('.');
  const ft = filter.split('.');
  for (let i = 0; i < ft.length; i++) {
    const f = ft[i];
    if (f === '>') return st.length > i;
    if (i >= st.length) return false;
    if (f !== '*' && f !== st[i]) return false;
  }
  return st.length === ft.length;
}

/** Does `bytes` hold exactly the UTF-8 encoding of `s`? (no allocation for ASCII subjects) A
 *  JetStream delivery is routed on one subject and shows another (the stored message's). */
export function sameSubject(bytes: Buffer, s: string): boolean {
  const n = s.length;
  if (bytes.length !== n) return bytes.length > n && Buffer.byteLength(s) === bytes.length && bytes.toString() === s;
  for (let i = 0; i < n; i++) if (bytes[i] !== s.charCodeAt(i)) return false;
  return true;
}
