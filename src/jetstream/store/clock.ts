// Nanosecond wall clock. Date.now() has millisecond resolution; the sub-millisecond part comes
// from the monotonic high-resolution timer, anchored once to the wall clock so that timestamps
// are close to real time and never go backwards within a process.
const anchorNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function nowNs(): bigint {
  return anchorNs + process.hrtime.bigint();
}

export function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

export function msToNs(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * 1_000_000n;
}
