// The moment a connection's credentials expire (a user or account JWT `exp`): one timer that
// fires then, shared by clients and leaf links.

/** setTimeout holds at most ~24.8 days: a later expiry re-arms on the way. */
const MAX_DELAY = 2 ** 31 - 1;

export class Expiry {
  private timer: NodeJS.Timeout | null = null;

  /** Call `fire` at `atMs` (epoch ms), replacing any expiry set before. */
  set(atMs: number, fire: () => void): void {
    this.clear();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (Date.now() < atMs) this.set(atMs, fire);
      else fire();
    }, Math.min(Math.max(0, atMs - Date.now()), MAX_DELAY));
    this.timer.unref();
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
