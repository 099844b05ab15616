// Shared shapes of the benchmark harness: what a suite is, what it returns,
// and what the runner hands it. Suites written by other engineers import
// these types (from dist/bench/lib/types.js at run time).

import type { ServerKind, ServerSpec, RunningServer } from './servers.js';

/** How a row is judged. Ratios are tsnats / nats-server. */
export type Target =
  | { kind: 'ratio-at-least'; ratio: number }  // throughput: tsnats >= ratio x nats-server
  | { kind: 'ratio-at-most'; ratio: number }   // latency: tsnats <= ratio x nats-server
  | { kind: 'at-most'; value: number };        // absolute ceiling on the tsnats figure (same unit as the row)

export interface BenchRow {
  /** what was measured, e.g. "pub -> sub 16B" */
  name: string;
  /** null when the tsnats side was skipped or failed (say why in note) */
  tsnats: number | null;
  /** null when nats-server is absent or the row does not apply to it */
  natsServer: number | null;
  /** e.g. "msgs/s", "us", "MB", "ms" */
  unit: string;
  target?: Target;
  /** shown under the table: skips, failures, configuration differences */
  note?: string;
}

export interface BenchContext {
  /** servers to compare, in order; nats-server is missing when not installed */
  kinds: ServerKind[];
  /** start a server of the given kind; the runner stops every server a suite leaves running */
  startServer(spec: ServerSpec): Promise<RunningServer>;
  /** progress line on stderr (the table goes to stdout) */
  log(msg: string): void;
  /** smaller counts for a quick sanity run (--quick) */
  quick: boolean;
  /** fresh temp directory, removed when the run ends */
  tempDir(prefix: string): string;
  /** why tsnats cannot run at all (no dist/src/cli.js), or undefined */
  tsnatsUnavailable?: string;
}

export interface BenchSuite {
  /** selects the suite on the command line: npm run bench -- <name> */
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchRow[]>;
}
