// NATS header blocks: "NATS/1.0[ <status>[ <description>]]\r\nKey: Value\r\n...\r\n".
// The server only needs to build status messages and to read individual values
// with an exact, case-sensitive key match (nats-server sliceHeader).

const HDR_LINE = 'NATS/1.0';

/** Header block for a status message, e.g. statusHeader(503) -> "NATS/1.0 503\r\n\r\n". */
export function statusHeader(code: number, description?: string, headers?: Record<string, string>): Buffer {
  let s = `${HDR_LINE} ${code}`;
  if (description) s += ` ${description}`;
  s += '\r\n';
  if (headers) for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  s += '\r\n';
  return Buffer.from(s);
}

/** Build a header block from key/value pairs (values may repeat via arrays). */
export function encodeHeaders(headers: Record<string, string | string[]>): Buffer {
  let s = `${HDR_LINE}\r\n`;
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${x}\r\n`;
    else s += `${k}: ${v}\r\n`;
  }
  s += '\r\n';
  return Buffer.from(s);
}

/** The 2.9.10 no-responders status block ("NATS/1.0 503\r\n\r\n", 16 bytes). */
export const NO_RESPONDERS_HDR = statusHeader(503);

/**
 * Value of `key` in a header block (exact, case-sensitive key; one optional
 * space after ':' is skipped). Returns undefined when absent.
 */
export function getHeader(hdr: Buffer | undefined, key: string): string | undefined {
  if (hdr === undefined || hdr.length === 0) return undefined;
  const text = hdr.toString('latin1');
  const needle = `\r\n${key}:`;
  let idx = text.indexOf(needle);
  if (idx < 0) return undefined;
  idx += needle.length;
  if (text.charCodeAt(idx) === 32) idx++;
  const end = text.indexOf('\r\n', idx);
  return Buffer.from(text.slice(idx, end < 0 ? text.length : end), 'latin1').toString();
}

/** Parsed header block: status code/description and all key/values in order. */
export interface ParsedHeaders {
  status: number;
  description: string;
  headers: [string, string][];
}

/** Parse a header block; null when it does not start with NATS/1.0. */
export function parseHeaders(hdr: Buffer): ParsedHeaders | null {
  const text = hdr.toString();
  if (!text.startsWith(HDR_LINE)) return null;
  const lines = text.split('\r\n');
  const first = lines[0].slice(HDR_LINE.length).trim();
  let status = 0;
  let description = '';
  if (first.length > 0) {
    const sp = first.indexOf(' ');
    status = Number(sp < 0 ? first : first.slice(0, sp)) || 0;
    description = sp < 0 ? '' : first.slice(sp + 1).trim();
  }
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length === 0) continue;
    const c = line.indexOf(':');
    if (c <= 0) continue;
    headers.push([line.slice(0, c), line.slice(c + 1).trim()]);
  }
  return { status, description, headers };
}

/**
 * `hdr` with `key` set to `value` (nats-server client.setHeader): an earlier value of the key
 * (exact case) is removed and the new one goes last; no block yet starts a "NATS/1.0" one.
 */
export function setHeader(hdr: Buffer | undefined, key: string, value: string): Buffer {
  let head = `${HDR_LINE}\r\n`;
  if (hdr !== undefined && hdr.length > 0) {
    const lines = hdr.toString('latin1').split('\r\n');
    head = lines[0] + '\r\n' + lines.slice(1).filter((l) => l !== '' && !l.startsWith(`${key}:`)).map((l) => `${l}\r\n`).join('');
  }
  return Buffer.concat([Buffer.from(`${head}${key}: `, 'latin1'), Buffer.from(value), Buffer.from('\r\n\r\n', 'latin1')]);
}
