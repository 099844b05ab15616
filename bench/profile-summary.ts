// Sums self time per function in a V8 .cpuprofile (from node --cpu-prof) and
// prints the top frames. Usage: node dist/bench/profile-summary.js <file.cpuprofile> [top=25] [fromUs-toUs]
// The optional window keeps the samples taken in it, in the profile's clock (CLOCK_MONOTONIC µs, the
// clock of process.hrtime: the cluster-r3 bench prints its drains' windows in it).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FrameTime {
  frame: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** sampled time minus (idle): what the shares are relative to */
  busyMs: number;
  /** self time per function; (garbage collector) and (program) appear by those names, (idle) is left out */
  frames: FrameTime[];
  /** self time per source file (url), for a coarser picture */
  files: FrameTime[];
}

/** Samples taken between `fromUs` and `toUs` (monotonic µs, as the profile's startTime). */
export interface ProfileWindow { fromUs: number; toUs: number }

export function summarizeProfile(path: string, window?: ProfileWindow): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; attribute the gap after a
  // sample to that sample (the usual convention of DevTools).
  let at = p.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const dt = i + 1 < deltas.length ? deltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const frames = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    totalUs += us;
    const cf = n.callFrame;
    const file = cf.url ? shortUrl(cf.url) : '';
    const name = `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
    frames.set(name, (frames.get(name) ?? 0) + us);
    const fileKey = file || cf.functionName || '(native)';
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const busyUs = totalUs - (frames.get('(idle)') ?? 0);
  frames.delete('(idle)');
  files.delete('(idle)');
  const toList = (m: Map<string, number>) =>
    [...m.entries()]
      .map(([frame, us]) => ({ frame, selfMs: us / 1000, share: busyUs ? us / busyUs : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { totalMs: totalUs / 1000, busyMs: busyUs / 1000, frames: toList(frames), files: toList(files) };
}

function shortUrl(url: string): string {
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 6);
  if (url.startsWith('node:')) return url;
  return basename(url);
}

export function renderSummary(s: ProfileSummary, top = 25): string {
  const lines = [`sampled ${s.totalMs.toFixed(0)} ms, busy (not idle) ${s.busyMs.toFixed(0)} ms; shares are of busy time`, '', 'self time by function:'];
  for (const f of s.frames.slice(0, top)) {
    lines.push(`${f.selfMs.toFixed(0).padStart(8)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }
  lines.push('', 'self time by file:');
  for (const f of s.files.slice(0, 12)) {
    lines.push(`${f.selfMs.toFixed(0).padStart(8)} ms ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.frame}`);
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile-summary.js <file.cpuprofile> [top] [fromUs-toUs]');
    process.exit(2);
  }
  const w = process.argv[4]?.split('-').map(Number);
  const window = w && w.length === 2 && w.every(Number.isFinite) ? { fromUs: w[0]!, toUs: w[1]! } : undefined;
  console.log(renderSummary(summarizeProfile(file, window), Number(process.argv[3] ?? 25)));
}
