// Progress of long JetStream work (store recovery at start-up, stream catch-up from a leader,
// snapshot restore), so an operator waiting on a restart can see how far it is and how long it
// will take: a log line at most every `intervalMs` per task, and the tasks still running in
// /healthz?details=true. Work that finishes within one interval logs nothing.

export interface ProgressReport {
  /** what is being done, e.g. "recovering stream '$G > ORDERS'" */
  task: string;
  done: number;
  total: number;
  unit: string;
  percent: number;
  /** estimated seconds left at the rate so far (absent until there is a rate) */
  eta_seconds?: number;
  started: string;
}

/** nats-server-like pacing: often enough to watch, rare enough not to flood the log. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;

export class ProgressTask {
  private done = 0;
  private readonly startMs = Date.now();
  private lastLogMs = this.startMs;
  private ended = false;

  constructor(
    private readonly board: ProgressBoard,
    readonly task: string,
    readonly unit: string,
    private total: number,
    /** where `done` starts (a catch-up starts at the store's last sequence): the rate counts from here */
    private readonly base = 0,
  ) {
    this.done = base;
  }

  /** `done` of `total` units finished (total may be revised, e.g. a catch-up target that moved). */
  update(done: number, total = this.total): void {
    if (this.ended) return;
    this.done = done;
    this.total = total;
    const now = Date.now();
    if (now - this.lastLogMs < this.board.intervalMs || done >= total) return;
    this.lastLogMs = now;
    this.board.log(this.line(now));
  }

  /** The work is over (done or abandoned): it leaves /healthz; a line says so if it was long enough to log about. */
  end(outcome = 'done'): void {
    if (this.ended) return;
    this.ended = true;
    this.board.remove(this);
    const ms = Date.now() - this.startMs;
    if (ms >= this.board.intervalMs) this.board.log(`${this.task}: ${outcome} after ${(ms / 1000).toFixed(1)}s (${this.done}/${this.total} ${this.unit})`);
  }

  private etaSeconds(now: number): number | undefined {
    const moved = this.done - this.base;
    if (moved <= 0 || this.total <= this.done) return undefined;
    return Math.ceil(((now - this.startMs) / moved) * (this.total - this.done) / 1000);
  }

  private line(now: number): string {
    const r = this.report(now);
    const eta = r.eta_seconds !== undefined ? `, about ${r.eta_seconds}s left` : '';
    return `${this.task}: ${r.done}/${r.total} ${r.unit} (${r.percent}%)${eta}`;
  }

  report(now = Date.now()): ProgressReport {
    const percent = this.total > 0 ? Math.floor((Math.min(this.done, this.total) / this.total) * 100) : 0;
    const r: ProgressReport = { task: this.task, done: this.done, total: this.total, unit: this.unit, percent, started: new Date(this.startMs).toISOString() };
    const eta = this.etaSeconds(now);
    if (eta !== undefined) r.eta_seconds = eta;
    return r;
  }
}

/** The long tasks of one server (owned by the JetStream subsystem). */
export class ProgressBoard {
  private readonly tasks = new Set<ProgressTask>();

  constructor(readonly log: (msg: string) => void, readonly intervalMs = DEFAULT_PROGRESS_INTERVAL_MS) {}

  begin(task: string, unit: string, total: number, base = 0): ProgressTask {
    const t = new ProgressTask(this, task, unit, total, base);
    this.tasks.add(t);
    return t;
  }

  remove(t: ProgressTask): void {
    this.tasks.delete(t);
  }

  list(): ProgressReport[] {
    const now = Date.now();
    return [...this.tasks].map((t) => t.report(now));
  }
}

/** The chunks of a snapshot being restored, reporting the bytes handed on as they are consumed. */
export function* trackChunks(chunks: Buffer[], task: ProgressTask): Generator<Buffer> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let done = 0;
  for (const c of chunks) {
    yield c;
    done += c.length;
    task.update(done, total);
  }
}
