// Encoders for the route protocol, byte for byte as nats-server 2.9.10 writes it (server/route.go:
// sendRouteSubProtos / sendRouteUnSubProtos build RS+/RS- lines, client.go msgHeaderForRouteOrLeaf the
// RMSG/HMSG head; captured bytes in test/fixtures/vectors/route).
// Interest lines are rare and built as strings; the routed-message header is on the hot path
// and is written straight into a caller-supplied Buffer (see writeRoutedMsgHeader).
// The leaf-node protocol is the same with other verbs and no account (server/leafnode.go
// sendLeafNodeSubUpdate, client.go msgHeaderForRouteOrLeaf for kind LEAF): encodeLeafSub /
// encodeLeafUnsub, and writeRoutedMsgHead with a null account writes LMSG/HMSG.

import { encodeName, writeName } from './names.js';
import { writeUint } from './decimal.js';

export const PING_LINE = Buffer.from('PING\r\n', 'latin1');
export const PONG_LINE = Buffer.from('PONG\r\n', 'latin1');

/**
 * INFO line. nats-server writes the first INFO of a connection with a space before CRLF
 * (`INFO {..} \r\n`) and INFOs it forwards to other routes (gossip) without it.
 */
export function encodeInfoLine(json: string, trailingSpace = true): string {
  return trailingSpace ? `INFO ${json} \r\n` : `INFO ${json}\r\n`;
}

export function encodeConnectLine(json: string): string {
  return `CONNECT ${json}\r\n`;
}

export function encodeErrLine(text: string): string {
  return `-ERR '${text}'\r\n`;
}

/** `RS+ <acc> <subject>[ <queue> <weight>]\r\n` */
export function encodeRemoteSub(account: string, subject: string, queue?: string, weight = 1): string {
  return queue === undefined || queue === ''
    ? `RS+ ${account} ${subject}\r\n`
    : `RS+ ${account} ${subject} ${queue} ${weight}\r\n`;
}

/** `RS- <acc> <subject>[ <queue>]\r\n` */
export function encodeRemoteUnsub(account: string, subject: string, queue?: string): string {
  return queue === undefined || queue === ''
    ? `RS- ${account} ${subject}\r\n`
    : `RS- ${account} ${subject} ${queue}\r\n`;
}

/** `LS+ <subject>[ <queue> <weight>]\r\n` (leaf connections: no account) */
export function encodeLeafSub(subject: string, queue: string | undefined, weight: number): string {
  return queue === undefined || queue === '' ? `LS+ ${subject}\r\n` : `LS+ ${subject} ${queue} ${weight}\r\n`;
}

/** `LS- <subject>[ <queue>]\r\n` */
export function encodeLeafUnsub(subject: string, queue: string | undefined): string {
  return queue === undefined || queue === '' ? `LS- ${subject}\r\n` : `LS- ${subject} ${queue}\r\n`;
}

/**
 * Routed-message control line as a string:
 *   RMSG <acc> <subj> [<reply>] <size>
 *   RMSG <acc> <subj> + <reply> <q...> <size>   |   RMSG <acc> <subj> | <q...> <size>
 *   HMSG ... <hdr> <total>   (when headerBytes >= 0 and the peer takes headers)
 */
export function encodeRoutedMsgHeader(
  account: string, subject: string, reply: string, queues: readonly string[] | undefined,
  headerBytes: number, totalBytes: number,
): string {
  let s = headerBytes > 0 ? 'HMSG ' : 'RMSG ';
  s += account + ' ' + subject + ' ';
  if (queues !== undefined && queues.length > 0) {
    s += reply.length > 0 ? '+ ' + reply + ' ' : '| ';
    for (let i = 0; i < queues.length; i++) s += queues[i] + ' ';
  } else if (reply.length > 0) {
    s += reply + ' ';
  }
  if (headerBytes > 0) s += headerBytes + ' ';
  return s + totalBytes + '\r\n';
}

/** Largest control line writeRoutedMsgHeader can produce for these strings (UTF-8 worst case). */
export function routedMsgHeaderMaxBytes(
  account: string, subject: string, reply: string, queues: readonly string[] | undefined,
): number {
  let n = 5 + 3 * (account.length + subject.length + reply.length) + 4 + 2 + 2 * 11 + 2;
  if (queues !== undefined) for (let i = 0; i < queues.length; i++) n += 3 * queues[i]!.length + 1;
  return n;
}

function writeStr(buf: Buffer, off: number, s: string): number {
  // Names keep the bytes the peer sent (see names.ts); ASCII takes the latin1 path there.
  return writeName(buf, off, s);
}

/**
 * Write the routed-message control line (same bytes as encodeRoutedMsgHeader) into `buf`
 * at `off`; returns the new offset. The caller guarantees routedMsgHeaderMaxBytes() of room.
 */
export function writeRoutedMsgHeader(
  buf: Buffer, off: number, account: string, subject: string, reply: string,
  queues: readonly string[] | undefined, headerBytes: number, totalBytes: number,
): number {
  // Not on the hot path (route connections call writeRoutedMsgHead with bytes at hand).
  return writeRoutedMsgHead(
    buf, off, encodeName(account), encodeName(subject), reply.length > 0 ? encodeName(reply) : null,
    queues ?? null, headerBytes, totalBytes,
  );
}

function copyBytes(src: Buffer, dst: Buffer, p: number): number {
  const n = src.length;
  if (n < 48) {
    for (let i = 0; i < n; i++) dst[p++] = src[i]!;
    return p;
  }
  src.copy(dst, p);
  return p + n;
}

/** Room writeRoutedMsgHead needs for the control line (payload and CRLF come on top). */
export function routedMsgHeadRoom(
  accountBytes: Buffer | null, subjectBytes: Buffer, replyBytes: Buffer | null, queues: readonly string[] | null,
): number {
  let n = 5 + (accountBytes === null ? 0 : accountBytes.length + 1) + subjectBytes.length + 1 + (replyBytes === null ? 0 : replyBytes.length + 3) + 2 + 24 + 2;
  if (queues !== null) for (let i = 0; i < queues.length; i++) n += 3 * queues[i]!.length + 1;
  return n;
}

/**
 * Hot-path form of writeRoutedMsgHeader for bytes already at hand (account name bytes, the
 * subject/reply bytes of the message being routed). Writes the control line only; returns the
 * new offset. `headerBytes` > 0 selects HMSG. A null account writes the leaf form
 * (`LMSG <subject> ...` / `HMSG <subject> ...`).
 */
export function writeRoutedMsgHead(
  buf: Buffer, off: number, accountBytes: Buffer | null, subjectBytes: Buffer, replyBytes: Buffer | null,
  queues: readonly string[] | null, headerBytes: number, totalBytes: number,
): number {
  const hasHdr = headerBytes > 0;
  buf[off] = hasHdr ? 72 : accountBytes === null ? 76 : 82;
  buf[off + 1] = 77;
  buf[off + 2] = 83;
  buf[off + 3] = 71;
  buf[off + 4] = 32;
  let p = off + 5;
  if (accountBytes !== null) {
    p = copyBytes(accountBytes, buf, p);
    buf[p++] = 32;
  }
  p = copyBytes(subjectBytes, buf, p);
  buf[p++] = 32;
  if (queues !== null && queues.length > 0) {
    if (replyBytes !== null && replyBytes.length > 0) {
      buf[p++] = 43;
      buf[p++] = 32;
      p = copyBytes(replyBytes, buf, p);
      buf[p++] = 32;
    } else {
      buf[p++] = 124;
      buf[p++] = 32;
    }
    for (let i = 0; i < queues.length; i++) {
      p = writeStr(buf, p, queues[i]!);
      buf[p++] = 32;
    }
  } else if (replyBytes !== null && replyBytes.length > 0) {
    p = copyBytes(replyBytes, buf, p);
    buf[p++] = 32;
  }
  if (hasHdr) {
    p = writeUint(buf, p, headerBytes);
    buf[p++] = 32;
  }
  p = writeUint(buf, p, totalBytes);
  buf[p++] = 13;
  buf[p++] = 10;
  return p;
}
