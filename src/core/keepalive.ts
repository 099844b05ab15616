// What a connection's ping timer does when it fires, shared by client and route connections
// (nats-server processPingTimer): the owner sends the PING or closes as stale.

export const enum PingAction {
  /** Heard from the peer within the interval and no RTT measurement due: just re-arm. */
  Skip,
  /** Too many PINGs unanswered: -ERR 'Stale Connection' and close. */
  Stale,
  /** Send a PING (and re-arm). */
  Ping,
}

/** An RTT measurement (a PING regardless of activity) is due first and then hourly. */
const RTT_REFRESH_MS = 3600_000;

export function pingTimerAction(
  nowMs: number, lastInMs: number, rttMeasuredMs: number, pingsOut: number, pingIntervalMs: number, pingMax: number,
): PingAction {
  const needRtt = rttMeasuredMs === 0 || nowMs - rttMeasuredMs > RTT_REFRESH_MS;
  if (nowMs - lastInMs < pingIntervalMs && !needRtt) return PingAction.Skip;
  if (pingsOut + 1 > pingMax) return PingAction.Stale;
  return PingAction.Ping;
}
