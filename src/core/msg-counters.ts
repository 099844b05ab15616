// Server-wide message counters a server-to-server link (route, leaf connection) adds to:
// varz in_msgs/in_bytes/out_msgs/out_bytes.

export interface MsgCounters { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }

export function countMsgIn(s: MsgCounters, bytes: number): void {
  s.inMsgs++;
  s.inBytes += bytes;
}

export function countMsgOut(s: MsgCounters, bytes: number): void {
  s.outMsgs++;
  s.outBytes += bytes;
}
