// Turning rows into the printed table: figures, tsnats/nats-server ratio and
// PASS/MISS against each row's target.

import type { BenchRow, Target } from './types.js';

export type Verdict = 'PASS' | 'MISS' | 'n/a' | '';

export function ratioOf(row: BenchRow): number | null {
  if (row.tsnats === null || row.natsServer === null || !Number.isFinite(row.tsnats) || !row.natsServer) return null;
  return row.tsnats / row.natsServer;
}

export function verdict(row: BenchRow): Verdict {
  const t = row.target;
  if (!t) return '';
  if (row.tsnats === null || !Number.isFinite(row.tsnats)) return 'n/a';
  if (t.kind === 'at-most') return row.tsnats <= t.value ? 'PASS' : 'MISS';
  const r = ratioOf(row);
  if (r === null) return 'n/a';
  return (t.kind === 'ratio-at-least' ? r >= t.ratio : r <= t.ratio) ? 'PASS' : 'MISS';
}

export function targetText(t: Target | undefined, unit: string): string {
  if (!t) return '';
  if (t.kind === 'ratio-at-least') return `>= ${t.ratio}x`;
  if (t.kind === 'ratio-at-most') return `<= ${t.ratio}x`;
  return `<= ${t.value} ${unit}`;
}

export function formatValue(v: number | null, unit: string): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (unit.endsWith('/s')) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export interface SuiteRows {
  suite: string;
  rows: BenchRow[];
}

/** A Markdown table (readable on a terminal, pasted as is into BENCHMARKS.md). */
export function renderTable(results: SuiteRows[]): string {
  const header = ['suite', 'figure', 'unit', 'tsnats', 'nats-server', 'ratio', 'target', 'result'];
  const lines: string[][] = [];
  const notes: string[] = [];
  for (const { suite, rows } of results) {
    for (const row of rows) {
      const r = ratioOf(row);
      lines.push([
        suite,
        row.name,
        row.unit,
        formatValue(row.tsnats, row.unit),
        formatValue(row.natsServer, row.unit),
        r === null ? '-' : `${r.toFixed(2)}x`,
        targetText(row.target, row.unit),
        verdict(row),
      ]);
      if (row.note) notes.push(`${suite} / ${row.name}: ${row.note}`);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const numeric = new Set([3, 4, 5]);
  const fmt = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (numeric.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  const out = [fmt(header), sep, ...lines.map(fmt)];
  if (notes.length) out.push('', 'Notes:', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}
