// Encoders for what the server sends to clients (INFO, PING/PONG, +OK, -ERR,
// MSG/HMSG control lines). The MSG/HMSG frames themselves are written straight
// into a connection's outbound buffer by core/outbound.ts; this module holds
// the constant frames and the control-line layouts.

export const PING = Buffer.from('PING\r\n');
export const PONG = Buffer.from('PONG\r\n');
export const OK = Buffer.from('+OK\r\n');
export const CRLF = Buffer.from('\r\n');
export const MSG_OP = Buffer.from('MSG ');
export const HMSG_OP = Buffer.from('HMSG ');

/** `-ERR '<text>'\r\n` */
export function errFrame(text: string): Buffer {
  return Buffer.from(`-ERR '${text}'\r\n`);
}

/** `INFO {json} \r\n` — note the space before CRLF, as nats-server writes it. */
export function infoFrame(info: object | string): Buffer {
  const json = typeof info === 'string' ? info : JSON.stringify(info);
  return Buffer.from(`INFO ${json} \r\n`);
}

/** Control line of a MSG (for tests and low-volume senders). */
export function msgFrame(subject: string, sid: string, reply: string, payload: Buffer): Buffer {
  const head = reply ? `MSG ${subject} ${sid} ${reply} ${payload.length}\r\n` : `MSG ${subject} ${sid} ${payload.length}\r\n`;
  return Buffer.concat([Buffer.from(head), payload, CRLF]);
}

/** A full HMSG frame (for tests and low-volume senders). */
export function hmsgFrame(subject: string, sid: string, reply: string, headers: Buffer, payload: Buffer): Buffer {
  const total = headers.length + payload.length;
  const head = reply
    ? `HMSG ${subject} ${sid} ${reply} ${headers.length} ${total}\r\n`
    : `HMSG ${subject} ${sid} ${headers.length} ${total}\r\n`;
  return Buffer.concat([Buffer.from(head), headers, payload, CRLF]);
}

/** -ERR texts (nats-server errors.go / client.go), exact. */
export const Err = {
  UNKNOWN_PROTOCOL: 'Unknown Protocol Operation',
  AUTH_VIOLATION: 'Authorization Violation',
  AUTH_TIMEOUT: 'Authentication Timeout',
  AUTH_EXPIRED: 'User Authentication Expired',
  MAX_CONTROL_LINE: 'maximum control line exceeded',
  MAX_PAYLOAD: 'Maximum Payload Violation',
  BAD_CLIENT_PROTOCOL: 'invalid client protocol',
  NO_RESPONDERS_REQUIRES_HEADERS: 'no responders requires headers support',
  MAX_CONNECTIONS: 'maximum connections exceeded',
  MAX_ACCOUNT_CONNECTIONS: 'maximum account active connections exceeded',
  STALE_CONNECTION: 'Stale Connection',
  TLS_REQUIRED: 'Secure Connection - TLS Required',
  INVALID_SUBJECT: 'Invalid Subject',
  INVALID_PUBLISH_SUBJECT: 'Invalid Publish Subject',
  MAX_SUBSCRIPTIONS: 'maximum subscriptions exceeded',
  pubViolation: (subject: string) => `Permissions Violation for Publish to "${subject}"`,
  subViolation: (subject: string) => `Permissions Violation for Subscription to "${subject}"`,
  queueSubViolation: (subject: string, queue: string) =>
    `Permissions Violation for Subscription to "${subject}" using queue "${queue}"`,
  /** a subscription a config reload no longer allows was removed */
  subRemoved: (subject: string, sid: string) => `Permissions Violation for Subscription to "${subject}" (sid "${sid}")`,
  replyViolation: (reply: string) => `Permissions Violation for Publish with Reply of "${reply}"`,
  tooManyTokens: (subject: string) => `Permissions Violation for Subscription to "${subject}", too many tokens`,
} as const;
