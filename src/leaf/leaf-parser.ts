// Parser of the leaf-node protocol as nats-server 2.9.10 speaks it on a leaf connection
// (server/parser.go for kind LEAF, processLeafSub / processLeafUnsub / processLeafMsgArgs /
// processLeafHeaderMsgArgs in server/leafnode.go). Unlike routes, lines carry no account: the
// connection is bound to one account.
//   LS+ <subject>[ <queue> <weight>]    LS- <subject>[ <queue>]
//   LMSG <subject> [+ <reply> <q>... | | <q>... | <reply>] <size>
//   HMSG <subject> [same reply/queue forms] <hdr size> <total size>
// Leaf links carry far less traffic than client ports, so this parser favours simplicity:
// it copies partial input and tokenises each control line with split.

import { decodeName } from '../protocol/names.js';

export interface LeafProtocolHandler {
  onInfo(json: string): void;
  onConnect(json: string): void;
  onPing(): void;
  onPong(): void;
  onErr(text: string): void;
  onLeafSub(subject: string, queue: string | undefined, weight: number): void;
  onLeafUnsub(subject: string, queue: string | undefined): void;
  /** `data` is headers+payload; hdrLen -1 without headers. Valid during the call only. */
  onLeafMsg(subject: string, reply: string, queues: string[] | null, hdrLen: number, data: Buffer): void;
}

export class LeafParseError extends Error {
  constructor(message: string, readonly errText: string | undefined) { super(message); }
}

interface PendingMsg { subject: string; reply: string; queues: string[] | null; hdrLen: number; size: number }

function size(s: string | undefined): number {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return -1;
  return Number(s);
}

export class LeafParser {
  private buf: Buffer = Buffer.alloc(0);
  private pending: PendingMsg | null = null;
  private stopped = false;

  constructor(private readonly h: LeafProtocolHandler, private readonly maxControlLine: number, private readonly maxPayload: number) {}

  stop(): void {
    this.stopped = true;
  }

  /** Feed bytes; returns an error when the connection must close. */
  parse(chunk: Buffer): LeafParseError | undefined {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let p = 0;
    const b = this.buf;
    while (!this.stopped && p < b.length) {
      const m = this.pending;
      if (m !== null) {
        if (b.length - p < m.size + 2) break;
        if (b[p + m.size] !== 13 || b[p + m.size + 1] !== 10) return new LeafParseError('payload not followed by CRLF', 'Unknown Protocol Operation');
        this.pending = null;
        this.h.onLeafMsg(m.subject, m.reply, m.queues, m.hdrLen, b.subarray(p, p + m.size));
        p += m.size + 2;
        continue;
      }
      const nl = b.indexOf(10, p);
      if (nl < 0) {
        if (b.length - p > this.maxControlLine) return new LeafParseError('control line too long', 'Maximum Control Line Exceeded');
        break;
      }
      // decodeName keeps invalid UTF-8 bytes of subjects and queues recoverable (protocol/names.ts).
      const line = decodeName(b, p, nl > p && b[nl - 1] === 13 ? nl - 1 : nl);
      p = nl + 1;
      const err = this.line(line);
      if (err !== undefined) return err;
    }
    this.buf = p >= b.length ? Buffer.alloc(0) : Buffer.from(b.subarray(p));
    return undefined;
  }

  private line(line: string): LeafParseError | undefined {
    const sp = line.search(/[ \t]/);
    const op = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const rest = sp < 0 ? '' : line.slice(sp + 1).trim();
    const args = rest === '' ? [] : rest.split(/[ \t]+/);
    switch (op) {
      case 'PING': this.h.onPing(); return undefined;
      case 'PONG': this.h.onPong(); return undefined;
      case '+OK': return undefined;
      case '-ERR': this.h.onErr(rest.replace(/^'|'$/g, '')); return undefined;
      case 'INFO': this.h.onInfo(rest); return undefined;
      case 'CONNECT': this.h.onConnect(rest); return undefined;
      case 'LS+':
        if (args.length === 1) this.h.onLeafSub(args[0]!, undefined, 0);
        else if (args.length === 3 && size(args[2]) >= 0) this.h.onLeafSub(args[0]!, args[1], size(args[2]));
        else return new LeafParseError(`processLeafSub Parse Error: '${rest}'`, undefined);
        return undefined;
      case 'LS-':
        if (args.length === 1 || args.length === 2) this.h.onLeafUnsub(args[0]!, args[1]);
        else return new LeafParseError(`processLeafUnsub Parse Error: '${rest}'`, undefined);
        return undefined;
      case 'LMSG': return this.msgArgs(args, false, rest);
      case 'HMSG': return this.msgArgs(args, true, rest);
      default: return new LeafParseError(`unknown op ${op}`, 'Unknown Protocol Operation');
    }
  }

  private msgArgs(args: string[], headers: boolean, rest: string): LeafParseError | undefined {
    const fixed = headers ? 3 : 2;
    if (args.length < fixed) return new LeafParseError(`processLeafMsgArgs Parse Error: '${rest}'`, undefined);
    let reply = '';
    let queues: string[] | null = null;
    const tail = headers ? 2 : 1;
    if (args.length === fixed + 1) reply = args[1]!;
    else if (args.length > fixed + 1) {
      const ind = args[1];
      if (ind === '+') {
        reply = args[2]!;
        queues = args.slice(3, args.length - tail);
      } else if (ind === '|') queues = args.slice(2, args.length - tail);
      else return new LeafParseError(`processLeafMsgArgs Bad or Missing Reply Indicator: '${rest}'`, undefined);
    }
    const total = size(args[args.length - 1]);
    const hdr = headers ? size(args[args.length - 2]) : -1;
    if (total < 0 || (headers && (hdr < 0 || hdr > total))) return new LeafParseError(`processLeafMsgArgs Bad or Missing Size: '${rest}'`, undefined);
    if (total > this.maxPayload) return new LeafParseError('maximum payload exceeded', 'Maximum Payload Violation');
    this.pending = { subject: args[0]!, reply, queues, hdrLen: hdr, size: total };
    return undefined;
  }
}
