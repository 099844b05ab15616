// Formatting helpers so monitoring JSON reads like nats-server's (Go) output:
// RFC 3339 times, "3m16s" uptimes, Go duration strings, Go's JSON escaping.
import { formatGoDuration } from '../config/duration.js';

/** Go time.Time JSON (RFC3339Nano, UTC): "2026-11-27T00:46:41.378Z", no fraction when zero. */
export function goTime(ms: number): string {
  // A burst of $SYS events (thousands of clients closing at once) formats the same
  // millisecond again and again: the last one is kept.
  if (ms === lastGoTimeMs) return lastGoTime;
  const iso = new Date(ms).toISOString();
  lastGoTime = iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso.replace(/0+Z$/, 'Z');
  lastGoTimeMs = ms;
  return lastGoTime;
}
let lastGoTimeMs = NaN;
let lastGoTime = '';

/** nats-server myUptime: "5s", "3m16s", "2h0m5s", "1d2h3m4s", "1y2d3h4m5s". */
export function natsUptime(ms: number): string {
  const tsecs = Math.max(0, Math.floor(ms / 1000));
  const tmins = Math.floor(tsecs / 60);
  const thrs = Math.floor(tmins / 60);
  const tdays = Math.floor(thrs / 24);
  const tyrs = Math.floor(tdays / 365);
  if (tyrs > 0) return `${tyrs}y${tdays % 365}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`;
  if (tdays > 0) return `${tdays}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`;
  if (thrs > 0) return `${thrs}h${tmins % 60}m${tsecs % 60}s`;
  if (tmins > 0) return `${tmins}m${tsecs % 60}s`;
  return `${tsecs}s`;
}

/** RTT as nats-server prints it: microsecond precision under a millisecond. */
export function rttString(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns > 1000 && ns < 1e6) ns = Math.floor(ns / 1000) * 1000;
  return formatGoDuration(ns);
}

/** Milliseconds as Go time.Duration JSON (an integer of nanoseconds). */
export function nanos(ms: number): number {
  return Math.round(ms * 1e6);
}

/**
 * JSON the way Go's json.MarshalIndent(v, "", "  ") writes it, including its
 * HTML-safe escaping of <, > and & inside strings (subjects like "foo.>" come
 * out as "foo.\u003e"; any JSON parser reads them back the same).
 */
export function goJson(v: unknown, indent = true): string {
  const s = indent ? JSON.stringify(v, null, 2) : JSON.stringify(v);
  return s.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
