// Go-compatible renderings that show up in nats-server's consumer answers:
// - time.Duration.String() ("1m30s", "500ms", "1.5s") used in 409 status texts,
// - time.ParseDuration for "-NAK 5s" delays,
// - RFC3339Nano times as Go's encoding/json writes time.Time values.
// Durations are integer nanoseconds; JS numbers hold them exactly up to ~104 days,
// beyond that we work in bigint.

const NS_PER_US = 1000n;
const NS_PER_MS = 1000_000n;
const NS_PER_S = 1000_000_000n;
const NS_PER_M = 60n * NS_PER_S;
const NS_PER_H = 60n * NS_PER_M;

/** Go's fmtFrac/fmtInt logic: v is in units of 10^-prec, print as "<int>[.<frac without trailing zeros>]". */
function fracString(v: bigint, prec: number): [string, bigint] {
  let digits = '';
  let print = false;
  for (let i = 0; i < prec; i++) {
    const d = v % 10n;
    print = print || d !== 0n;
    if (print) digits = d.toString() + digits;
    v /= 10n;
  }
  return [print ? '.' + digits : '', v];
}

/** Go time.Duration(ns).String(). */
export function formatGoDuration(nsIn: number | bigint): string {
  let ns = BigInt(nsIn);
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  if (neg) ns = -ns;
  let out: string;
  if (ns < NS_PER_S) {
    // Sub-second: use the largest unit that keeps an integer part.
    let prec: number;
    let unit: string;
    if (ns < NS_PER_US) {
      out = ns.toString() + 'ns';
      return neg ? '-' + out : out;
    } else if (ns < NS_PER_MS) {
      prec = 3; unit = 'µs';
    } else {
      prec = 6; unit = 'ms';
    }
    const [frac, whole] = fracString(ns, prec);
    out = whole.toString() + frac + unit;
  } else {
    const [frac, secsTotal] = fracString(ns, 9);
    const secs = secsTotal % 60n;
    const minsTotal = secsTotal / 60n;
    out = secs.toString() + frac + 's';
    if (minsTotal > 0n) {
      const mins = minsTotal % 60n;
      const hours = minsTotal / 60n;
      out = mins.toString() + 'm' + out;
      if (hours > 0n) out = hours.toString() + 'h' + out;
    }
  }
  return neg ? '-' + out : out;
}

const UNIT_NS: Record<string, bigint> = {
  ns: 1n, us: NS_PER_US, 'µs': NS_PER_US, 'μs': NS_PER_US, ms: NS_PER_MS, s: NS_PER_S, m: NS_PER_M, h: NS_PER_H,
};

/** Go time.ParseDuration; returns nanoseconds or undefined when the text is not a valid duration. */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let neg = false;
  if (s.length > 0 && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  while (s.length > 0) {
    const m = /^([0-9]*)(?:\.([0-9]*))?([a-zµμ]+)/.exec(s);
    if (!m) return undefined;
    const intPart = m[1] ?? '';
    const fracPart = m[2];
    if (intPart === '' && (fracPart === undefined || fracPart === '')) return undefined;
    const unit = UNIT_NS[m[3] ?? ''];
    if (unit === undefined) return undefined;
    let v = BigInt(intPart === '' ? '0' : intPart) * unit;
    if (fracPart !== undefined && fracPart !== '') {
      // Scale the fraction exactly: frac * unit / 10^len, truncated like Go.
      v += (BigInt(fracPart) * unit) / 10n ** BigInt(fracPart.length);
    }
    total += v;
    s = s.slice(m[0].length);
  }
  if (total > 9223372036854775807n) return undefined;
  return neg ? -total : total;
}

/** A point in time as Go's time.Time keeps it for JSON: ns since the epoch plus the zone offset it was written in. */
export interface GoTime {
  /** Nanoseconds since the Unix epoch (UTC). */
  ns: bigint;
  /** Offset east of UTC in minutes as written (0 with isUtc for "Z"). */
  offsetMin: number;
  /** True when written with "Z" (Go keeps UTC, prints "Z"). */
  isUtc: boolean;
}

const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Parse an RFC3339 / RFC3339Nano time as Go's time.Time UnmarshalJSON accepts it. */
export function parseRfc3339(text: string): GoTime | undefined {
  const m = RFC3339_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), sec = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  let offsetMin = 0;
  let isUtc = true;
  if (zone !== 'Z' && zone !== 'z') {
    isUtc = false;
    const sign = zone![0] === '-' ? -1 : 1;
    const oh = Number(zone!.slice(1, 3));
    const om = Number(zone!.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMin = sign * (oh * 60 + om);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, sec);
  const fracNs = frac ? BigInt(frac.padEnd(9, '0')) : 0n;
  const ns = BigInt(ms) * NS_PER_MS + fracNs - BigInt(offsetMin) * NS_PER_M;
  return { ns, offsetMin, isUtc };
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** Format ns-since-epoch as Go's RFC3339Nano (trailing fractional zeros trimmed) in the given zone. */
export function formatRfc3339Nano(ns: bigint, offsetMin = 0, isUtc = true): string {
  const local = ns + BigInt(offsetMin) * NS_PER_M;
  let secs = local / NS_PER_S;
  let frac = local % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    secs -= 1n;
  }
  const dt = new Date(Number(secs) * 1000);
  let out = `${pad(dt.getUTCFullYear(), 4)}-${pad(dt.getUTCMonth() + 1, 2)}-${pad(dt.getUTCDate(), 2)}T` +
    `${pad(dt.getUTCHours(), 2)}:${pad(dt.getUTCMinutes(), 2)}:${pad(dt.getUTCSeconds(), 2)}`;
  if (frac !== 0n) out += '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  if (isUtc) return out + 'Z';
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${out}${sign}${pad(Math.floor(a / 60), 2)}:${pad(a % 60, 2)}`;
}

export function formatGoTime(t: GoTime): string {
  return formatRfc3339Nano(t.ns, t.offsetMin, t.isUtc);
}

/** Current time in ns since the epoch, with sub-ms resolution from the monotonic clock. */
const hrBaseNs = BigInt(Date.now()) * NS_PER_MS - process.hrtime.bigint();
export function nowNs(): bigint {
  return hrBaseNs + process.hrtime.bigint();
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';
