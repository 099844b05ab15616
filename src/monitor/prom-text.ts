// Prometheus text exposition format 0.0.4, written by hand (the format is small and a
// library would add a dependency for what is a few string rules): one HELP and TYPE line per
// family, then its samples; label values and HELP text escaped as the format requires.

export type MetricType = 'counter' | 'gauge' | 'untyped';
export type Labels = Record<string, string>;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':'), invalid characters become '_'. */
export function sanitizeName(name: string, label = false): string {
  let n = name.replace(label ? /[^a-zA-Z0-9_]/g : /[^a-zA-Z0-9_:]/g, '_');
  if (/^[0-9]/.test(n)) n = `_${n}`;
  return n;
}

/** Label value: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped (quotes are not). */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Family {
  type: MetricType;
  help: string;
  samples: string[];
  /** label sets already written, so a scrape never carries a duplicate series */
  seen: Set<string>;
}

/** Collects samples by family (a family's samples must be contiguous) and renders them. */
export class Exposition {
  private readonly families = new Map<string, Family>();
  /** `name="value"` by name and value: the same server/stream labels recur on most series of a page. */
  private readonly pairs = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private readonly labelNames = new Map<string, string>();

  private pair(k: string, v: string): string {
    const key = `${k}\u0000${v}`;
    let p = this.pairs.get(key);
    if (p === undefined) {
      let n = this.labelNames.get(k);
      if (n === undefined) this.labelNames.set(k, (n = sanitizeName(k, true)));
      p = `${n}="${escapeLabelValue(v)}"`;
      this.pairs.set(key, p);
    }
    return p;
  }

  /**
   * Add one sample. The first call for a name fixes its type and help; a later call with a
   * different type is a programming error and throws rather than emit an invalid page.
   */
  add(name: string, type: MetricType, help: string, labels: Labels, value: number): void {
    let n = this.names.get(name);
    if (n === undefined) this.names.set(name, (n = sanitizeName(name)));
    let f = this.families.get(n);
    if (!f) {
      f = { type, help, samples: [], seen: new Set() };
      this.families.set(n, f);
    } else if (f.type !== type) {
      throw new Error(`metric ${n} registered as ${f.type}, added as ${type}`);
    }
    let ls = '';
    for (const k in labels) ls += (ls === '' ? '{' : ',') + this.pair(k, labels[k]!);
    if (ls !== '') ls += '}';
    if (f.seen.has(ls)) return;
    f.seen.add(ls);
    f.samples.push(`${n}${ls} ${formatValue(value)}`);
  }

  render(): string {
    const out: string[] = [];
    for (const [n, f] of this.families) {
      out.push(`# HELP ${n} ${escapeHelp(f.help)}`);
      out.push(`# TYPE ${n} ${f.type}`);
      for (const s of f.samples) out.push(s);
    }
    return out.length > 0 ? `${out.join('\n')}\n` : '';
  }
}
