// Building blocks of the seeded fuzz tests (issue 13, "Bad input"): corpora from
// the captured nats-server 2.9.10 transcripts, byte mutators, a garbage sender
// over raw TCP, and a watch on the event loop of the in-process server.
import net from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { vectorPath, vectorsDir } from './vectors.js';
import { join } from 'node:path';

export type Rnd = () => number;

export const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const randomBytes = (rnd: Rnd, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));

/** Interesting bytes for insertion: protocol separators, invalid UTF-8, digits. */
const SPICE = [' ', '\t', '\r\n', '\n', '\r', '*', '>', '.', '\u0000', '\xff', '\xc3', '9999999999', '-1', '"', '{', '}'];

/** One random mutation of `src` (flip, truncate, insert, duplicate, size change, splice of garbage). */
export function mutate(rnd: Rnd, src: Buffer): Buffer {
  const b = Buffer.from(src);
  const pos = Math.floor(rnd() * Math.max(1, b.length));
  switch (Math.floor(rnd() * 8)) {
    case 0:
      if (b.length) b[pos] = Math.floor(rnd() * 256);
      return b;
    case 1:
      return b.subarray(0, pos);
    case 2:
      return Buffer.concat([b.subarray(0, pos), randomBytes(rnd, 1 + Math.floor(rnd() * 8)), b.subarray(pos)]);
    case 3:
      return Buffer.concat([b, b.subarray(pos)]);
    case 4: // change a decimal number (sizes, sids, limits)
      return Buffer.from(b.toString('latin1').replace(/\d+/, (d) => String(pick(rnd, [0, 1, Number(d) + 1, Number(d) - 1, 2 ** 31, 2 ** 53]))), 'latin1');
    case 5:
      return Buffer.concat([b.subarray(0, pos), Buffer.from(pick(rnd, SPICE), 'latin1'), b.subarray(pos)]);
    case 6: // delete a slice
      return Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + Math.floor(rnd() * 16)))]);
    default:
      return randomBytes(rnd, 1 + Math.floor(rnd() * 64));
  }
}

/** Mutate a JSON document structurally (drop, retype or blow up a field, also nested) or as bytes. */
export function mutateJson(rnd: Rnd, doc: Record<string, unknown>): Buffer {
  if (rnd() < 0.3) return mutate(rnd, Buffer.from(JSON.stringify(doc)));
  return Buffer.from(JSON.stringify(mutateObject(rnd, doc)));
}

const JSON_VALUES: unknown[] = [
  null, true, -1, -5, 0, 1e300, -1e300, 9223372036854775807, 2 ** 64, 1.5, '', 'x'.repeat(300), '\u0000', 'a.>', '*',
  [], [''], ['a', 'a'], Array.from({ length: 200 }, (_, i) => `s.${i}`), {}, { name: 'N' }, [[[[]]]],
];

function mutateObject(rnd: Rnd, doc: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { ...doc };
  const keys = Object.keys(o);
  const k = keys.length > 0 && rnd() < 0.8 ? pick(rnd, keys) : pick(rnd, ['config', 'name', 'x', 'seq', 'batch', 'subjects']);
  const inner = o[k];
  switch (Math.floor(rnd() * 3)) {
    case 0: delete o[k]; break;
    case 1: o[k] = pick(rnd, JSON_VALUES); break;
    default:
      o[k] = inner !== null && typeof inner === 'object' && !Array.isArray(inner)
        ? mutateObject(rnd, inner as Record<string, unknown>) : pick(rnd, JSON_VALUES);
  }
  return o;
}

/** Frames a client sent to nats-server 2.9.10 in the captured client transcripts. */
export function clientCorpus(): Buffer[] {
  const dir = join(vectorsDir(), 'client');
  const out: Buffer[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const v = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { transcript?: { dir: string; text: string }[] };
    for (const e of v.transcript ?? []) if (e.dir === 'client->server') out.push(Buffer.from(e.text, 'utf8'));
  }
  if (out.length === 0) throw new Error('no client frames in test/fixtures/vectors/client');
  return out;
}

/** Route frames of the captured route transcript (both directions: a server receives either kind). */
export function routeCorpus(): Buffer[] {
  const v = JSON.parse(readFileSync(vectorPath('route', 'route_transcript.json'), 'utf8')) as {
    transcript: { text: string }[]; server_frames: { raw_text: string }[];
  };
  const out = [...v.transcript.map((e) => e.text), ...v.server_frames.map((f) => f.raw_text)]
    .filter((t) => typeof t === 'string' && !t.startsWith('INFO') && !t.startsWith('CONNECT'))
    .map((t) => Buffer.from(t, 'utf8'));
  if (out.length === 0) throw new Error('no route frames in test/fixtures/vectors/route');
  return out;
}

/**
 * Open a raw connection, send `prefix` then `frames` in random pieces, wait a little and
 * close. Returns everything the server sent.
 */
export async function sendGarbage(port: number, rnd: Rnd, prefix: Buffer[], frames: Buffer[]): Promise<string> {
  const s = net.connect({ port, host: '127.0.0.1' });
  let text = '';
  s.on('data', (d) => { text += d.toString('latin1'); });
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.on('close', () => r()));
  await new Promise<void>((r) => { s.once('connect', () => r()); s.once('close', () => r()); });
  for (const f of [...prefix, ...frames]) {
    let off = 0;
    while (off < f.length && !s.destroyed) {
      const n = 1 + Math.floor(rnd() * f.length);
      s.write(f.subarray(off, off + n));
      off += n;
      if (rnd() < 0.1) await new Promise((r) => setImmediate(r));
    }
  }
  await new Promise((r) => setTimeout(r, 2 + Math.floor(rnd() * 10)));
  s.destroy();
  await closed;
  return text;
}

/**
 * Longest event-loop stall seen while it runs, in ms. A 5 ms ticker measures each gap between
 * ticks in wall time and in process CPU time and keeps the smaller: a gap without CPU spent is
 * the machine not scheduling us (a loaded CI box), not the server blocking its loop, while a
 * long synchronous handler burns CPU for the whole gap. (CPU time counts every thread of the
 * process, so the figure errs on the high side.)
 */
export class StallWatch {
  private timer: NodeJS.Timeout;
  private lastWall = performance.now();
  private lastCpu = process.cpuUsage();
  maxMs = 0;

  constructor(private readonly tickMs = 5) {
    this.timer = setInterval(() => this.tick(), tickMs);
  }

  private tick(): void {
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const wallGap = wall - this.lastWall - this.tickMs;
    const cpuGap = (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    this.maxMs = Math.max(this.maxMs, Math.min(wallGap, cpuGap));
    this.lastWall = wall;
    this.lastCpu = cpu;
  }

  stop(): number {
    this.tick();
    clearInterval(this.timer);
    return this.maxMs;
  }
}

/**
 * Run `phase` while watching the event loop (StallWatch); a phase whose worst stall exceeds
 * `limitMs` is retried once, then fails. The seed is part of every failure message.
 * `prepare` runs before each attempt, outside the watch (set-up that is not what is measured).
 */
export async function withLoopWatch(
  name: string, seed: number, limitMs: number, phase: (attempt: number) => Promise<number>,
  prepare?: (attempt: number) => Promise<void>,
): Promise<{ inputs: number; maxDelayMs: number }> {
  let worst = 0;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (prepare !== undefined) await prepare(attempt);
    const w = new StallWatch();
    let inputs: number;
    try {
      inputs = await phase(attempt);
    } finally {
      worst = w.stop();
    }
    if (worst <= limitMs) return { inputs, maxDelayMs: worst };
  }
  throw new Error(`${name}: the event loop stalled ${worst.toFixed(0)} ms (> ${limitMs} ms) twice (seed ${seed}, TSNATS_FUZZ_SEED to reproduce)`);
}

/** Everything left after removing well-formed server frames from a client-port transcript. */
export function strayClientOutput(out: string): string {
  return out
    .replace(/^INFO \{.*?\} \r\n/, '')
    .replace(/(PING|PONG|\+OK)\r\n/g, '')
    .replace(/-ERR '[^'\r\n]*'\r\n/g, '')
    .replace(/H?MSG [^\r\n]*\r\n[\s\S]*?\r\n/g, '');
}
