// verify_and_map: which configured user a client certificate stands for, tried in
// nats-server's order (checkClientTLSCertSubject): the e-mail SANs, the DNS SANs, the URI
// SANs, then the subject distinguished name, matched against user names written as DNs
// ("CN=alice,OU=ops,O=acme") whatever the order of their attributes.
import type { X509Certificate } from 'node:crypto';

type Attr = [type: string, value: string];

/** The first of `users` the certificate maps to, or undefined. */
export function userForCert(cert: X509Certificate, users: Iterable<string>, has: (name: string) => boolean): string | undefined {
  const sans = parseSans(cert.subjectAltName ?? '');
  for (const kind of ['email', 'DNS', 'URI']) {
    for (const [k, v] of sans) if (k === kind && has(v)) return v;
  }
  const subject = subjectAttrs(cert.subject);
  if (subject.length === 0) return undefined;
  // The Go form of the subject (last attribute first) as a literal user name.
  const goForm = [...subject].reverse().map(([t, v]) => `${t}=${escapeDnValue(v)}`).join(',');
  if (has(goForm)) return goForm;
  for (const name of users) {
    const dn = parseDn(name);
    if (dn !== null && sameAttrs(dn, subject)) return name;
  }
  return undefined;
}

/** "DNS:a, IP Address:1.2.3.4, email:x@y" -> [kind, value] pairs. */
function parseSans(s: string): Attr[] {
  const out: Attr[] = [];
  for (const part of s.split(/,\s*/)) {
    const i = part.indexOf(':');
    if (i > 0) out.push([part.slice(0, i), part.slice(i + 1)]);
  }
  return out;
}

/** node's X509Certificate.subject: one "TYPE=value" per line, in certificate order. */
function subjectAttrs(subject: string): Attr[] {
  const out: Attr[] = [];
  for (const line of subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.push([line.slice(0, i).trim().toUpperCase(), line.slice(i + 1)]);
  }
  return out;
}

/** An RFC 4514 distinguished name as attributes (RDN separators ',' and '+'), or null. */
export function parseDn(s: string): Attr[] | null {
  const out: Attr[] = [];
  let cur = '';
  const parts: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '\\' && i + 1 < s.length) {
      const hex = s.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(hex)) {
        cur += String.fromCharCode(parseInt(hex, 16));
        i += 2;
      } else {
        cur += s[++i];
      }
      continue;
    }
    if (ch === ',' || ch === '+' || ch === ';') {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur);
  for (const p of parts) {
    const i = p.indexOf('=');
    if (i <= 0) return null;
    out.push([p.slice(0, i).trim().toUpperCase(), p.slice(i + 1).trim()]);
  }
  return out;
}

function sameAttrs(a: Attr[], b: Attr[]): boolean {
  if (a.length !== b.length) return false;
  const key = (x: Attr): string => `${x[0]}\u0000${x[1]}`;
  const left = a.map(key).sort();
  const right = b.map(key).sort();
  return left.every((k, i) => k === right[i]);
}

function escapeDnValue(v: string): string {
  return v.replace(/([,+"\\<>;])/g, '\\$1');
}
