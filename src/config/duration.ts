// Go time.Duration parsing and printing.
//
// nats-server config files carry Go duration strings ("2m", "1h30m", "500ms"),
// and the monitoring JSON prints durations the way Go's Duration.String() does
// ("965µs", "3m16s"). Both directions live here so every layer prints the same
// text nats-server would.

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Largest duration Go can hold (int64 nanoseconds). */
const MAX_DURATION_NS = 9223372036854775807;

export class DurationError extends Error {}

/** Go-style %q quoting: good enough for the ASCII text of config values. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/**
 * Parse a Go duration string into nanoseconds. Throws DurationError with Go's
 * exact message (`time: invalid duration "x"`, `time: missing unit in duration "30"`,
 * `time: unknown unit "x" in duration "30x"`).
 */
export function parseGoDurationNs(input: string): number {
  const orig = input;
  let s = input;
  let negative = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw new DurationError(`time: invalid duration ${goQuote(orig)}`);
  let total = 0;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) {
      throw new DurationError(`time: invalid duration ${goQuote(orig)}`);
    }
    let i = 0;
    while (i < s.length && isDigit(s[i])) i++;
    const intPart = s.slice(0, i);
    s = s.slice(i);
    let fracPart = '';
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      while (j < s.length && isDigit(s[j])) j++;
      fracPart = s.slice(0, j);
      s = s.slice(j);
    }
    if (intPart === '' && fracPart === '') {
      throw new DurationError(`time: invalid duration ${goQuote(orig)}`);
    }
    let k = 0;
    while (k < s.length && s[k] !== '.' && !isDigit(s[k])) k++;
    const unit = s.slice(0, k);
    s = s.slice(k);
    if (unit === '') throw new DurationError(`time: missing unit in duration ${goQuote(orig)}`);
    const mult = NS_PER_UNIT[unit];
    if (mult === undefined) {
      throw new DurationError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(orig)}`);
    }
    const value = Number(intPart === '' ? '0' : intPart) * mult +
      (fracPart === '' ? 0 : Number('0.' + fracPart) * mult);
    total += value;
    if (total > MAX_DURATION_NS) throw new DurationError(`time: invalid duration ${goQuote(orig)}`);
  }
  total = Math.round(total);
  return negative ? -total : total;
}

/** Parse a Go duration string into milliseconds (fractions of a millisecond kept). */
export function parseGoDurationMs(input: string): number {
  return parseGoDurationNs(input) / 1e6;
}

function fixedFraction(value: number, precDigits: number): string {
  const scale = 10 ** precDigits;
  const whole = Math.floor(value / scale);
  let frac = String(value % scale).padStart(precDigits, '0').replace(/0+$/, '');
  return frac === '' ? String(whole) : `${whole}.${frac}`;
}

/** Print nanoseconds the way Go's time.Duration.String() does: "0s", "1.5ms", "965µs", "1h2m3.5s". */
export function formatGoDuration(nsInput: number): string {
  let ns = Math.round(nsInput);
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  ns = Math.abs(ns);
  if (ns < 1e9) {
    if (ns < 1e3) return `${sign}${ns}ns`;
    if (ns < 1e6) return `${sign}${fixedFraction(ns, 3)}µs`;
    return `${sign}${fixedFraction(ns, 6)}ms`;
  }
  const hours = Math.floor(ns / 3600e9);
  ns -= hours * 3600e9;
  const minutes = Math.floor(ns / 60e9);
  ns -= minutes * 60e9;
  const seconds = fixedFraction(ns, 9) + 's';
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return sign + seconds;
}

/** formatGoDuration for a value in milliseconds. */
export function formatGoDurationMs(ms: number): string {
  return formatGoDuration(ms * 1e6);
}
