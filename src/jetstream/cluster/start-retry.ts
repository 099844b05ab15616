// Starting a stream's or consumer's raft group on this server can fail for a
// reason that passes: EMFILE at the open-files limit, ENOSPC, EIO. The meta
// assignment that asked for the group does not come again, so a failed start
// used to leave this server out of the group until its next restart: an R3
// stream ran on two replicas, or had no quorum at all, with nothing in the
// log after the first error. Here a failed start is tried again, with a
// doubling delay, for as long as the assignment still names this server.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/** Retry timers by asset key, with the delay that grows while starts keep failing. */
export class StartRetries {
  private readonly pending = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
  private readonly delays = new Map<string, number>();
  /** Failed starts per key since its last success (logs and tests: how often a start was retried). */
  private readonly failed = new Map<string, number>();
  private closed = false;

  /** Run `attempt` later; the delay doubles with each failure of the same key (reset by `succeeded`). */
  schedule(key: string, attempt: () => void): void {
    if (this.closed) return;
    this.cancel(key);
    const delayMs = Math.min((this.delays.get(key) ?? FIRST_DELAY_MS / 2) * 2, MAX_DELAY_MS);
    this.delays.set(key, delayMs);
    this.failed.set(key, (this.failed.get(key) ?? 0) + 1);
    const timer = setTimeout(() => {
      this.pending.delete(key);
      if (!this.closed) attempt();
    }, delayMs);
    timer.unref();
    this.pending.set(key, { timer, delayMs });
  }

  /** The group started (or is no longer wanted here): forget its timer and backoff. */
  succeeded(key: string): void {
    this.cancel(key);
    this.delays.delete(key);
    this.failed.delete(key);
  }

  /** How many retries of `key` were scheduled since it last started (0 when none is pending). */
  failures(key: string): number {
    return this.failed.get(key) ?? 0;
  }

  private cancel(key: string): void {
    const p = this.pending.get(key);
    if (p) clearTimeout(p.timer);
    this.pending.delete(key);
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.delays.clear();
    this.failed.clear();
  }
}

/**
 * How long the other peers of a new group wait for its preferred first leader (placement's
 * choice, which campaigns as soon as its group starts) before one of them campaigns instead.
 */
const PREFERRED_GRACE_MS = 2_000;

/**
 * A group's preferred peer whose start failed (EMFILE, a full disk: it is retried later) never
 * campaigns, and the others waited a whole election timeout (4-9 s) before they elected: longer
 * than a client waits for the answer to its create, which only the group's first leader sends.
 * So one other peer (the lowest id, so that the others never split the vote among themselves)
 * campaigns once the grace has passed with no leader known (`campaignIfLeaderless` checks that).
 * Returns the timer to clear when the group stops, or undefined when this peer is not the stand-in.
 */
export function standInForPreferred(peers: readonly string[], preferred: string, self: string,
  campaignIfLeaderless: () => void): NodeJS.Timeout | undefined {
  if (!preferred || preferred === self || !peers.includes(preferred)) return undefined;
  const standIn = peers.filter((p) => p !== preferred).sort()[0];
  if (standIn !== self) return undefined;
  const timer = setTimeout(campaignIfLeaderless, PREFERRED_GRACE_MS);
  timer.unref();
  return timer;
}

// Fault injection for tests, off unless set. In a child process:
// TSNATS_FAULT_FAIL_GROUP_STARTS=<server name>:<count>, read once when this module loads; in-process
// tests call injectStartFaults. The next <count> stream or consumer group starts on that server fail
// half-way (after the local store is opened), as EMFILE would.
const FAULT_ENV = /^([^:]+):(\d+)$/.exec(process.env.TSNATS_FAULT_FAIL_GROUP_STARTS ?? '');
const fault = { server: FAULT_ENV?.[1] ?? '', left: FAULT_ENV ? Number(FAULT_ENV[2]) : 0, hits: 0 };

/** Tests: fail the next `count` group starts on server `serverName` (Infinity: until called again with 0). */
export function injectStartFaults(serverName: string, count: number): void {
  fault.server = serverName;
  fault.left = count;
}

/** Tests: how many group starts the injected fault has failed so far. */
export function injectedStartFaultHits(): number {
  return fault.hits;
}

/** Throws while injected failures are left for this server. */
export function injectedStartFault(serverName: string): void {
  if (fault.left <= 0 || fault.server !== serverName) return;
  fault.left--;
  fault.hits++;
  const e = new Error('EMFILE: too many open files (injected fault)') as NodeJS.ErrnoException;
  e.code = 'EMFILE';
  throw e;
}
