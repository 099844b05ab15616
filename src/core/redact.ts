// The CONNECT line as printed by the -V trace, with secrets hidden. A regex on
// the raw text alone misses other spellings of the same JSON (spaces around
// ':', escaped quotes inside the value, escaped key names, numbers, repeated
// keys), so the result is checked by parsing it: when a secret is still
// readable, the parsed object is printed with the secrets replaced instead.

const SECRET_KEYS = ['pass', 'auth_token', 'sig', 'jwt'];
const REDACTED = '[REDACTED]';
const SECRET_RE = /"(pass|auth_token|sig|jwt)"\s*:\s*(?:"(?:[^"\\]|\\.)*"|[^,}\s]+)/g;

export function redactConnect(json: string): string {
  const out = json.replace(SECRET_RE, `"$1":"${REDACTED}"`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(out);
  } catch {
    // Not JSON (the CONNECT will be refused): print nothing of a value that may hold a secret.
    return /pass|auth_token|sig|jwt/i.test(out) ? `${REDACTED} (unparsable CONNECT, ${json.length} bytes)` : out;
  }
  if (parsed === null || typeof parsed !== 'object') return out;
  const o = parsed as Record<string, unknown>;
  if (SECRET_KEYS.every((k) => o[k] === undefined || o[k] === REDACTED)) return out;
  for (const k of SECRET_KEYS) if (o[k] !== undefined) o[k] = REDACTED;
  return JSON.stringify(o);
}
