// The server's statsz heartbeat in the system account (nats-server events.go: startStatszTimer,
// heartbeatStatsz, remoteServerUpdate, processNewServer). Every server publishes its
// ServerStatsMsg on `$SYS.SERVER.<id>.STATSZ` — first after 250 ms, then at doubling intervals
// up to 30 s (2.9.10's eventsHBInterval) — and announces itself at once whenever it hears a
// server it had not heard before. nats-server's JetStream meta leader places streams only on
// peers whose statsz (with the JetStream config and stats) it has received, so without this a
// Go meta leader never places anything on a tsnats server.
import type { InternalClient } from '../core/internal-client.js';

export const STATSZ_FIRST_MS = 250;
export const STATSZ_MAX_MS = 30_000;

export const statszSubject = (serverId: string): string => `$SYS.SERVER.${serverId}.STATSZ`;

export class StatszHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private interval = STATSZ_FIRST_MS;
  private sid = 0;
  /** Server ids heard from (not ours). */
  private readonly seen = new Set<string>();

  constructor(private readonly client: InternalClient, private readonly serverId: string,
    private readonly message: () => Record<string, unknown>) {}

  start(): void {
    this.sid = this.client.subscribe(statszSubject('*'), (subject) => {
      const id = subject.split('.')[2] ?? '';
      if (id === '' || id === this.serverId || this.seen.has(id)) return;
      this.seen.add(id);
      this.send(); // a new server learns about us without waiting for our next beat
    });
    this.schedule();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sid) this.client.unsubscribe(this.sid);
    this.sid = 0;
  }

  send(): void {
    this.client.publish(statszSubject(this.serverId), '', undefined, JSON.stringify(this.message()));
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.send();
      this.interval = Math.min(this.interval * 2, STATSZ_MAX_MS);
      this.schedule();
    }, this.interval);
    this.timer.unref();
  }
}
