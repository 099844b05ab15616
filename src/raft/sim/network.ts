// The simulated network both simulators send through: directed links that can be cut,
// random loss and duplication, a delay per copy, and stragglers that may overtake other
// messages; everything else keeps FIFO order per link, as a route (one TCP stream) would.

import type { Prng } from './prng.js';

export interface NetworkConditions {
  loss: number;
  dup: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability of a long delay (reordering), and its range. */
  slowProb: number;
  slowMaxMs: number;
}

export const CALM: NetworkConditions = { loss: 0, dup: 0, minDelayMs: 0.05, maxDelayMs: 1, slowProb: 0, slowMaxMs: 0 };

export class SimLinks {
  /** Directed links that drop everything: blocked[from][to]. */
  readonly blocked: boolean[][] = [];
  /** Arrival time of the last in-order message on each link. */
  private readonly lastAt: number[][] = [];

  constructor(nodes: number) {
    for (let i = 0; i < nodes; i++) {
      this.blocked.push(new Array<boolean>(nodes).fill(false));
      this.lastAt.push(new Array<number>(nodes).fill(0));
    }
  }

  /** Cut every link between the servers in sideA and the others (symmetric partition). */
  partition(sideA: ReadonlySet<number>): void {
    const n = this.blocked.length;
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (sideA.has(a) !== sideA.has(b)) this.blocked[a][b] = true;
  }

  heal(): void {
    for (const row of this.blocked) row.fill(false);
  }

  /** One message from -> to sent at `now`: arriveAt is called for each copy that gets through (0, 1 or 2). */
  send(from: number, to: number, now: number, net: NetworkConditions, rng: Prng, arriveAt: (at: number) => void): void {
    if (this.blocked[from][to]) return;
    if (net.loss > 0 && rng.chance(net.loss)) return;
    const copies = net.dup > 0 && rng.chance(net.dup) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let at = now + rng.range(net.minDelayMs, net.maxDelayMs);
      if (net.slowProb > 0 && rng.chance(net.slowProb)) {
        // A straggler: may overtake or be overtaken (reordering).
        at += rng.range(0, net.slowMaxMs);
      } else {
        const last = this.lastAt[from][to];
        if (at <= last) at = last + 0.0001;
        this.lastAt[from][to] = at;
      }
      arriveAt(at);
    }
  }
}
