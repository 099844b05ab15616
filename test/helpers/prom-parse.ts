// A strict parser of the Prometheus text exposition format 0.0.4, for tests: it rejects what
// a Prometheus server would (bad names, bad escapes, a family split in two, a sample before
// its TYPE, a duplicate series, a value that is not a float) so the /metrics page is checked
// for validity, not only for the figures in it.

export interface PromSample { labels: Record<string, string>; value: number }
export interface PromFamily { name: string; type: string; help: string; samples: PromSample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value in: ${line}`);
  return Number(s);
}

/** Label block after the '{': returns the labels and the index just past the '}'. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = line.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`);
    if (line[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let v = '';
    let j = eq + 2;
    for (;;) {
      const ch = line[j];
      if (ch === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (ch === '"') break;
      if (ch === '\\') {
        const nx = line[j + 1];
        if (nx === '\\') v += '\\';
        else if (nx === '"') v += '"';
        else if (nx === 'n') v += '\n';
        else throw new Error(`bad escape \\${nx} in: ${line}`);
        j += 2;
        continue;
      }
      v += ch;
      j++;
    }
    labels[name] = v;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`expected , or } in: ${line}`);
  }
}

export function parsePrometheus(text: string): Map<string, PromFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a line feed');
  const out = new Map<string, PromFamily>();
  let cur: PromFamily | undefined;
  const seen = new Set<string>();
  const family = (name: string, line: string): PromFamily => {
    if (!NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
    if (cur?.name === name) return cur;
    if (out.has(name)) throw new Error(`family ${name} is not contiguous`);
    cur = { name, type: 'untyped', help: '', samples: [] };
    out.set(name, cur);
    return cur;
  };
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const rest = line.slice(7);
      const sp = rest.indexOf(' ');
      const f = family(sp < 0 ? rest : rest.slice(0, sp), line);
      if (f.samples.length > 0) throw new Error(`HELP after samples: ${line}`);
      const raw = sp < 0 ? '' : rest.slice(sp + 1);
      if (/\\[^\\n]/.test(raw.replace(/\\\\/g, ''))) throw new Error(`bad escape in HELP: ${line}`);
      f.help = raw.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type, extra] = line.slice(7).split(' ');
      if (extra !== undefined || type === undefined || !TYPES.has(type)) throw new Error(`bad TYPE line: ${line}`);
      const f = family(name!, line);
      if (f.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
      f.type = type;
      continue;
    }
    if (line.startsWith('#') || line === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const name = m[1]!;
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') {
      const p = parseLabels(line, i + 1);
      labels = p.labels;
      i = p.end;
    }
    if (line[i] !== ' ') throw new Error(`expected a space before the value in: ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`trailing text in: ${line}`);
    const value = parseValue(parts[0]!, line);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in: ${line}`);
    const f = family(name, line);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    f.samples.push({ labels, value });
  }
  return out;
}

/** The one sample of `name` whose labels include `match`; throws when there is not exactly one. */
export function sampleOf(fams: Map<string, PromFamily>, name: string, match: Record<string, string> = {}): PromSample {
  const f = fams.get(name);
  if (!f) throw new Error(`no metric ${name}`);
  const hits = f.samples.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(match)}`);
  return hits[0]!;
}
