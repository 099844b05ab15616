// The bodies a client sends to a $JS.ACK reply subject (nats-server AckAck, AckOK, AckNext,
// AckNak, AckProgress, AckTerm), compared as bytes so no string is made per ack.

export const ACK_ACK = Buffer.from('+ACK');
export const ACK_OK = Buffer.from('+OK');
export const ACK_NEXT = Buffer.from('+NXT');
export const ACK_NAK = Buffer.from('-NAK');
export const ACK_PROGRESS = Buffer.from('+WPI');
export const ACK_TERM = Buffer.from('+TERM');

export function startsWith(b: Buffer, prefix: Buffer): boolean {
  if (b.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false;
  return true;
}

/** The whole body is exactly `body`. */
export function isBody(b: Buffer, body: Buffer): boolean {
  return b.length === body.length && startsWith(b, body);
}
