// Streaming byte-level parser for the client protocol (what a NATS client sends
// to the server). It knows nothing of sockets: feed it Buffers as they arrive,
// in any split, and it calls the handler synchronously for each complete op.
//
// Behaviour follows nats-server parser.go: case-insensitive op names, spaces or
// tabs between arguments, control lines ending in "\n" with an optional "\r",
// payloads that must be followed by exactly "\r\n", and the control-line limit
// applied to the accumulated argument bytes.
//
// Hot-path notes: control lines are located with Buffer.indexOf (native scan)
// instead of a per-byte JS loop; a payload that is complete in the read buffer
// is handed over as a subarray (no copy). Only frames split across reads are
// copied, into buffers that are never reused, so views handed to the handler
// stay valid.

import { copyName, decodeName, LastName } from './names.js';
import { fieldEnd } from './tokens.js';

/** Result of `ClientParser.parse`. Non-zero values mean: stop reading this connection. */
export const enum ParseResult {
  OK = 0,
  /** send -ERR 'Unknown Protocol Operation' and close */
  UNKNOWN_OP = 1,
  /** send -ERR 'maximum control line exceeded' and close */
  MAX_CONTROL_LINE = 2,
  /** malformed arguments: close silently (nats-server sends no -ERR here) */
  BAD_ARGS = 3,
  /** an op other than CONNECT arrived while authentication is pending */
  AUTH_VIOLATION = 4,
  /** the handler asked the parser to stop (connection is closing) */
  STOPPED = 5,
  /** the handler suspended parsing after a CONNECT (asynchronous authentication):
   *  the bytes from `resumeOffset` on were not parsed */
  SUSPENDED = 6,
}

/** Arguments of the PUB/HPUB being parsed. One instance per parser, reused. */
export class PubArgs {
  subject = '';
  /**
   * The subject's bytes are `subjectSrc[subjectStart, subjectEnd)`: a Buffer of its own when the
   * subject repeats the previous PUB's, else a range of the read buffer (read buffers are never
   * reused: it stays valid as the payload's view does). A new subject every message (JetStream
   * acks) thus costs no Buffer; `subjectBytes` makes a view only when read.
   */
  subjectSrc: Buffer = EMPTY_BUFFER;
  subjectStart = 0;
  subjectEnd = 0;
  get subjectBytes(): Buffer {
    const src = this.subjectSrc;
    return this.subjectStart === 0 && this.subjectEnd === src.length ? src : src.subarray(this.subjectStart, this.subjectEnd);
  }
  /** '' when the publish has no reply subject */
  reply = '';
  replyBytes: Buffer | null = null;
  /** length of the header block for HPUB; -1 for PUB */
  hdrLen = -1;
  /** total size (headers + payload) */
  size = 0;
}

export interface ClientOpHandler {
  /** A PUB/HPUB control line was parsed. Return false to abort (the handler
   *  has already answered and is closing the connection). */
  onPubArgs(pa: PubArgs): boolean;
  /** The full message: `buf[start, end)` holds headers+payload (no trailing CRLF).
   *  Take `buf.subarray(start, end)` to use it (read buffers are never reused, so a view stays valid). */
  onMsg(pa: PubArgs, buf: Buffer, start: number, end: number): void;
  onSub(subject: string, queue: string | undefined, sid: string): void;
  /** max is -1 when absent (or not a number: nats-server then unsubscribes at once) */
  onUnsub(sid: string, max: number): void;
  /** Return false when the CONNECT was rejected (handler answered and is closing). */
  onConnect(json: string): boolean;
  onPing(): void;
  onPong(): void;
  onInfo(json: string): void;
  onOk(): void;
  onErr(text: string): void;
}

export const EMPTY_BUFFER = Buffer.alloc(0);

/** fastPub result: let the state machine handle this op */
const FALLBACK = -1000;
const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

const enum S {
  OP_START,
  OP_P, OP_PU, OP_PUB,
  OP_PI, OP_PIN, OP_PING,
  OP_PO, OP_PON, OP_PONG,
  OP_H, OP_HP, OP_HPU, OP_HPUB,
  OP_S, OP_SU, OP_SUB,
  OP_U, OP_UN, OP_UNS, OP_UNSU, OP_UNSUB,
  OP_C, OP_CO, OP_CON, OP_CONN, OP_CONNE, OP_CONNEC, OP_CONNECT,
  OP_I, OP_IN, OP_INF, OP_INFO,
  OP_PLUS, OP_PLUS_O, OP_PLUS_OK,
  OP_MINUS, OP_MINUS_E, OP_MINUS_ER, OP_MINUS_ERR,
  /** skipping the whitespace between an op name and its arguments */
  ARG_SPACE,
  /** inside an argument line, waiting for "\n" */
  ARG,
  MSG_PAYLOAD, MSG_END_R, MSG_END_N,
}

/** Which op an argument line belongs to. */
const enum ArgOp { PUB, HPUB, SUB, UNSUB, CONNECT, INFO, ERR }

export class ClientParser {
  readonly pa = new PubArgs();
  /** When true, the first byte of every op must start CONNECT (auth pending). */
  awaitingAuth = false;
  maxControlLine: number;

  private state = S.OP_START;
  private argOp = ArgOp.PUB;
  /** argument bytes carried over from a previous read (split control line) */
  private argCarry: Buffer | null = null;
  /** payload being assembled across reads */
  private msgBuf: Buffer | null = null;
  private msgPos = 0;
  private stopped = false;
  private suspendRequested = false;
  /** where parsing stopped in the last buffer when parse() returned SUSPENDED */
  resumeOffset = 0;
  /** start/end offsets of up to 4 argument fields */
  private readonly fields = new Int32Array(8);
  private lastReply: Buffer | null = null;
  private lastReplyStr = '';
  /** The previous PUB's subject (names.ts LastName: a repeat is neither decoded nor copied again). */
  private readonly lastSubject = new LastName();

  constructor(private readonly handler: ClientOpHandler, maxControlLine: number) {
    this.maxControlLine = maxControlLine;
  }

  /** Called by the handler when the connection is closing: stops the current parse loop. */
  stop(): void {
    this.stopped = true;
  }

  /** Called from onConnect: stop after this CONNECT and report where (SUSPENDED, resumeOffset). */
  suspend(): void {
    this.suspendRequested = true;
  }

  parse(buf: Buffer): ParseResult {
    if (this.stopped) return ParseResult.STOPPED;
    const len = buf.length;
    let i = 0;
    while (i < len) {
      const state = this.state;
      if (state === S.ARG) {
        const r = this.parseArg(buf, i);
        if (r < 0) return -r as ParseResult;
        i = r;
        continue;
      }
      if (state === S.MSG_PAYLOAD) {
        const r = this.parsePayload(buf, i);
        if (r < 0) return -r as ParseResult;
        i = r;
        continue;
      }
      const b = buf[i];
      switch (state) {
        case S.OP_START:
          if (this.awaitingAuth && b !== 67 /* C */ && b !== 99 /* c */) return ParseResult.AUTH_VIOLATION;
          // Fast path for the hot op: "PUB" + space/tab (any case) with its whole
          // control line in this buffer; anything unusual falls back to the state machine.
          if ((b | 0x20) === 0x70 && i + 3 < len && (buf[i + 1] | 0x20) === 0x75 && (buf[i + 2] | 0x20) === 0x62) {
            const sp = buf[i + 3];
            if (sp === SPACE || sp === TAB) {
              const r = this.fastPub(buf, i + 4, len, false);
              if (r >= 0) {
                i = r;
                continue;
              }
              if (r !== FALLBACK) return -r as ParseResult;
              this.argOp = ArgOp.PUB;
              this.state = S.ARG_SPACE;
              i += 4;
              continue;
            }
          } else if ((b | 0x20) === 0x68 && i + 4 < len && (buf[i + 1] | 0x20) === 0x70
            && (buf[i + 2] | 0x20) === 0x75 && (buf[i + 3] | 0x20) === 0x62) {
            // "HPUB" + space/tab: same fast path when headers are in use.
            const sp = buf[i + 4];
            if (sp === SPACE || sp === TAB) {
              const r = this.fastPub(buf, i + 5, len, true);
              if (r >= 0) {
                i = r;
                continue;
              }
              if (r !== FALLBACK) return -r as ParseResult;
              this.argOp = ArgOp.HPUB;
              this.state = S.ARG_SPACE;
              i += 5;
              continue;
            }
          }
          switch (b) {
            case 80: case 112: this.state = S.OP_P; break; // P
            case 72: case 104: this.state = S.OP_H; break; // H
            case 83: case 115: this.state = S.OP_S; break; // S
            case 85: case 117: this.state = S.OP_U; break; // U
            case 67: case 99: this.state = S.OP_C; break; // C
            case 73: case 105: this.state = S.OP_I; break; // I
            case 43: this.state = S.OP_PLUS; break; // +
            case 45: this.state = S.OP_MINUS; break; // -
            default: return ParseResult.UNKNOWN_OP;
          }
          break;
        case S.OP_P:
          if (b === 85 || b === 117) this.state = S.OP_PU; // U
          else if (b === 73 || b === 105) this.state = S.OP_PI; // I
          else if (b === 79 || b === 111) this.state = S.OP_PO; // O
          else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PU:
          if (b === 66 || b === 98) this.state = S.OP_PUB; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PUB:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.PUB); else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PI:
          if (b === 78 || b === 110) this.state = S.OP_PIN; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PIN:
          if (b === 71 || b === 103) this.state = S.OP_PING; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PING: {
          // Everything up to the newline is ignored ("PING junk" is a PING).
          const nl = buf.indexOf(LF, i);
          if (nl < 0) return ParseResult.OK;
          i = nl;
          this.state = S.OP_START;
          this.handler.onPing();
          if (this.stopped) return ParseResult.STOPPED;
          break;
        }
        case S.OP_PO:
          if (b === 78 || b === 110) this.state = S.OP_PON; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PON:
          if (b === 71 || b === 103) this.state = S.OP_PONG; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PONG: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) return ParseResult.OK;
          i = nl;
          this.state = S.OP_START;
          this.handler.onPong();
          if (this.stopped) return ParseResult.STOPPED;
          break;
        }
        case S.OP_H:
          // HMSG is a server->client op: a client sending it is a protocol error.
          if (b === 80 || b === 112) this.state = S.OP_HP; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_HP:
          if (b === 85 || b === 117) this.state = S.OP_HPU; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_HPU:
          if (b === 66 || b === 98) this.state = S.OP_HPUB; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_HPUB:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.HPUB); else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_S:
          if (b === 85 || b === 117) this.state = S.OP_SU; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_SU:
          if (b === 66 || b === 98) this.state = S.OP_SUB; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_SUB:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.SUB); else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_U:
          if (b === 78 || b === 110) this.state = S.OP_UN; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_UN:
          if (b === 83 || b === 115) this.state = S.OP_UNS; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_UNS:
          if (b === 85 || b === 117) this.state = S.OP_UNSU; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_UNSU:
          if (b === 66 || b === 98) this.state = S.OP_UNSUB; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_UNSUB:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.UNSUB); else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_C:
          if (b === 79 || b === 111) this.state = S.OP_CO; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_CO:
          if (b === 78 || b === 110) this.state = S.OP_CON; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_CON:
          if (b === 78 || b === 110) this.state = S.OP_CONN; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_CONN:
          if (b === 69 || b === 101) this.state = S.OP_CONNE; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_CONNE:
          if (b === 67 || b === 99) this.state = S.OP_CONNEC; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_CONNEC:
          // nats-server accepts the JSON right after "CONNECT" without a separator.
          if (b === 84 || b === 116) { this.argOp = ArgOp.CONNECT; this.state = S.ARG_SPACE; } else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_I:
          if (b === 78 || b === 110) this.state = S.OP_IN; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_IN:
          if (b === 70 || b === 102) this.state = S.OP_INF; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_INF:
          if (b === 79 || b === 111) this.state = S.OP_INFO; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_INFO:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.INFO); else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PLUS:
          if (b === 79 || b === 111) this.state = S.OP_PLUS_O; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PLUS_O:
          if (b === 75 || b === 107) this.state = S.OP_PLUS_OK; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_PLUS_OK: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) return ParseResult.OK;
          i = nl;
          this.state = S.OP_START;
          this.handler.onOk();
          if (this.stopped) return ParseResult.STOPPED;
          break;
        }
        case S.OP_MINUS:
          if (b === 69 || b === 101) this.state = S.OP_MINUS_E; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_MINUS_E:
          if (b === 82 || b === 114) this.state = S.OP_MINUS_ER; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_MINUS_ER:
          if (b === 82 || b === 114) this.state = S.OP_MINUS_ERR; else return ParseResult.UNKNOWN_OP;
          break;
        case S.OP_MINUS_ERR:
          if (b === SPACE || b === TAB) this.beginArgs(ArgOp.ERR); else return ParseResult.UNKNOWN_OP;
          break;
        case S.ARG_SPACE:
          if (b !== SPACE && b !== TAB) {
            this.state = S.ARG;
            continue; // re-examine this byte as the first argument byte
          }
          break;
        case S.MSG_END_R:
          if (b !== CR) return ParseResult.UNKNOWN_OP;
          this.state = S.MSG_END_N;
          break;
        case S.MSG_END_N: {
          if (b !== LF) return ParseResult.UNKNOWN_OP;
          const msg = this.msgBuf!;
          this.msgBuf = null;
          this.state = S.OP_START;
          this.handler.onMsg(this.pa, msg, 0, msg.length);
          if (this.stopped) return ParseResult.STOPPED;
          break;
        }
        default:
          return ParseResult.UNKNOWN_OP;
      }
      i++;
    }
    return ParseResult.OK;
  }

  private beginArgs(op: ArgOp): void {
    this.argOp = op;
    this.state = S.ARG_SPACE;
  }

  /** Returns the next index, or -ParseResult on error. */
  private parseArg(buf: Buffer, start: number): number {
    const nl = buf.indexOf(LF, start);
    const mcl = this.maxControlLine;
    if (nl < 0) {
      // Split control line: keep what we have (copied, the read buffer is not ours to keep).
      const carry = this.argCarry;
      const piece = buf.subarray(start);
      this.argCarry = carry === null ? Buffer.from(piece) : Buffer.concat([carry, piece]);
      if (mcl > 0 && this.argCarry.length > mcl) return -ParseResult.MAX_CONTROL_LINE;
      return buf.length;
    }
    // The argument bytes are src[as, ae).
    let src = buf;
    let as = start;
    let ae = nl;
    if (this.argCarry !== null) {
      src = nl > start ? Buffer.concat([this.argCarry, buf.subarray(start, nl)]) : this.argCarry;
      this.argCarry = null;
      as = 0;
      ae = src.length;
    }
    if (ae > as && src[ae - 1] === CR) ae--;
    if (mcl > 0 && ae - as > mcl) return -ParseResult.MAX_CONTROL_LINE;
    const next = nl + 1;
    const op = this.argOp;
    if (op === ArgOp.PUB || op === ArgOp.HPUB) {
      if (!this.processPubArgs(src, as, ae, op === ArgOp.HPUB)) return -ParseResult.BAD_ARGS;
      if (!this.handler.onPubArgs(this.pa)) return -ParseResult.STOPPED;
      if (this.stopped) return -ParseResult.STOPPED;
      this.state = S.MSG_PAYLOAD;
      this.msgBuf = null;
      this.msgPos = 0;
      return next;
    }
    const arg = src.subarray(as, ae);
    this.state = S.OP_START;
    switch (op) {
      case ArgOp.SUB: {
        const r = this.processSub(arg);
        if (r !== ParseResult.OK) return -r;
        break;
      }
      case ArgOp.UNSUB: {
        const r = this.processUnsub(arg);
        if (r !== ParseResult.OK) return -r;
        break;
      }
      case ArgOp.CONNECT:
        if (!this.handler.onConnect(arg.toString())) return -ParseResult.STOPPED;
        if (this.suspendRequested) {
          this.suspendRequested = false;
          this.resumeOffset = next;
          return -ParseResult.SUSPENDED;
        }
        break;
      case ArgOp.INFO:
        this.handler.onInfo(arg.toString());
        break;
      case ArgOp.ERR:
        this.handler.onErr(arg.toString());
        break;
    }
    if (this.stopped) return -ParseResult.STOPPED;
    return next;
  }

  /** Returns the next index, or -ParseResult on error. */
  private parsePayload(buf: Buffer, start: number): number {
    const size = this.pa.size;
    const avail = buf.length - start;
    if (this.msgBuf === null) {
      if (avail >= size + 2) {
        // Whole payload and its CRLF are in this read: hand over a view.
        const end = start + size;
        if (buf[end] !== CR || buf[end + 1] !== LF) return -ParseResult.UNKNOWN_OP;
        this.state = S.OP_START;
        this.handler.onMsg(this.pa, buf, start, end);
        if (this.stopped) return -ParseResult.STOPPED;
        return end + 2;
      }
      // Split payload: the PUB arguments may be views into this read buffer;
      // Node hands out a fresh buffer per read, so those views stay valid.
      this.msgBuf = Buffer.allocUnsafe(size);
      this.msgPos = 0;
    }
    const need = size - this.msgPos;
    const n = avail < need ? avail : need;
    buf.copy(this.msgBuf, this.msgPos, start, start + n);
    this.msgPos += n;
    if (this.msgPos >= size) this.state = S.MSG_END_R;
    return start + n;
  }

  /**
   * Parse a PUB/HPUB whose control line starts at `i` (after the op). Returns the
   * index after what was consumed, FALLBACK when the state machine must handle
   * it (line split across reads, stray CR), or -ParseResult on error.
   */
  private fastPub(buf: Buffer, i: number, len: number, hpub: boolean): number {
    const f = this.fields;
    let n = 0;
    let start = -1;
    let p = i;
    while (p < len) {
      let b = buf[p];
      if (b === SPACE || b === TAB) {
        p++;
        continue;
      }
      if (b === LF || b === CR) break;
      // A field: scanned to its end in one tight loop (tokens.ts).
      start = p;
      p = fieldEnd(buf, p + 1, len);
      if (p >= len) break;
      b = buf[p];
      // The line's last field is recorded below, after the line-length check.
      if (b === LF || b === CR) break;
      if (n === 4) return -ParseResult.BAD_ARGS;
      f[n * 2] = start;
      f[n * 2 + 1] = p;
      n++;
      start = -1;
      p++;
    }
    if (p >= len) return FALLBACK;
    let eol = p;
    if (buf[p] === CR) {
      if (p + 1 >= len || buf[p + 1] !== LF) return FALLBACK;
      eol = p + 1;
    }
    const mcl = this.maxControlLine;
    if (mcl > 0 && p - i > mcl) return -ParseResult.MAX_CONTROL_LINE;
    if (start >= 0) {
      if (n === 4) return -ParseResult.BAD_ARGS;
      f[n * 2] = start;
      f[n * 2 + 1] = p;
      n++;
    }
    if (!this.applyPubFields(buf, n, hpub)) return -ParseResult.BAD_ARGS;
    if (!this.handler.onPubArgs(this.pa)) return -ParseResult.STOPPED;
    if (this.stopped) return -ParseResult.STOPPED;
    const ps = eol + 1;
    const size = this.pa.size;
    if (ps + size + 2 <= len) {
      const end = ps + size;
      if (buf[end] !== CR || buf[end + 1] !== LF) return -ParseResult.UNKNOWN_OP;
      this.handler.onMsg(this.pa, buf, ps, end);
      if (this.stopped) return -ParseResult.STOPPED;
      return end + 2;
    }
    this.state = S.MSG_PAYLOAD;
    this.msgBuf = null;
    this.msgPos = 0;
    return ps;
  }

  private processPubArgs(arg: Buffer, from: number, to: number, hpub: boolean): boolean {
    // Split on runs of spaces/tabs into at most 4 fields without allocating arrays.
    const f = this.fields;
    let n = 0;
    let start = -1;
    for (let i = from; i <= to; i++) {
      const b = i < to ? arg[i] : SPACE;
      if (b === SPACE || b === TAB) {
        if (start >= 0) {
          if (n === 4) return false;
          f[n * 2] = start;
          f[n * 2 + 1] = i;
          n++;
          start = -1;
        }
      } else if (start < 0) {
        start = i;
      }
    }
    return this.applyPubFields(arg, n, hpub);
  }

  /** Fill `pa` from the `n` fields recorded in `this.fields`. */
  private applyPubFields(arg: Buffer, n: number, hpub: boolean): boolean {
    const f = this.fields;
    const pa = this.pa;
    if (n < 2) return false;
    this.setSubject(arg, f[0], f[1]);
    if (!hpub) {
      if (n === 2) {
        pa.reply = '';
        pa.replyBytes = null;
        pa.size = parseSize(arg, f[2], f[3]);
      } else if (n === 3) {
        this.setReply(arg, f[2], f[3]);
        pa.size = parseSize(arg, f[4], f[5]);
      } else {
        return false;
      }
      pa.hdrLen = -1;
      return pa.size >= 0;
    }
    if (n === 3) {
      pa.reply = '';
      pa.replyBytes = null;
      pa.hdrLen = parseSize(arg, f[2], f[3]);
      pa.size = parseSize(arg, f[4], f[5]);
    } else if (n === 4) {
      this.setReply(arg, f[2], f[3]);
      pa.hdrLen = parseSize(arg, f[4], f[5]);
      pa.size = parseSize(arg, f[6], f[7]);
    } else {
      return false;
    }
    return pa.hdrLen >= 0 && pa.size >= 0 && pa.hdrLen <= pa.size;
  }

  /**
   * Subjects usually repeat: the previous string and one Buffer of the bytes serve every repeat.
   * A new subject is a range of the read buffer until it repeats.
   */
  private setSubject(buf: Buffer, s: number, e: number): void {
    const pa = this.pa;
    const last = this.lastSubject;
    if (last.matches(buf, s, e)) {
      pa.subject = last.text!;
      pa.subjectSrc = last.ownBytes(buf, s, e);
      pa.subjectStart = 0;
      pa.subjectEnd = e - s;
      return;
    }
    pa.subject = last.take(buf, s, e);
    pa.subjectSrc = buf;
    pa.subjectStart = s;
    pa.subjectEnd = e;
  }

  private setReply(buf: Buffer, s: number, e: number): void {
    const pa = this.pa;
    const prev = this.lastReply;
    if (prev !== null && sameBytes(prev, buf, s, e)) {
      pa.replyBytes = prev;
      pa.reply = this.lastReplyStr;
      return;
    }
    const b = copyName(buf, s, e);
    this.lastReply = b;
    this.lastReplyStr = decodeName(buf, s, e);
    pa.replyBytes = b;
    pa.reply = this.lastReplyStr;
  }

  private processSub(arg: Buffer): ParseResult {
    const f = splitFields(arg, 3);
    if (f === null) return ParseResult.BAD_ARGS;
    if (f.length === 2) this.handler.onSub(f[0], undefined, f[1]);
    else if (f.length === 3) this.handler.onSub(f[0], f[1], f[2]);
    else return ParseResult.BAD_ARGS;
    return ParseResult.OK;
  }

  private processUnsub(arg: Buffer): ParseResult {
    const f = splitFields(arg, 2);
    if (f === null || f.length === 0) return ParseResult.BAD_ARGS;
    if (f.length === 1) this.handler.onUnsub(f[0], -1);
    else {
      const b = Buffer.from(f[1]);
      this.handler.onUnsub(f[0], parseSize(b, 0, b.length));
    }
    return ParseResult.OK;
  }
}

function sameBytes(a: Buffer, buf: Buffer, s: number, e: number): boolean {
  return a.length === e - s && prefixEquals(a, buf, s, e);
}

/** a[0, e - s) equals buf[s, e) (a may be longer: the reused subject copy). */
function prefixEquals(a: Buffer, buf: Buffer, s: number, e: number): boolean {
  const n = e - s;
  if (a.length < n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== buf[s + i]) return false;
  return true;
}

/** Decimal size as nats-server's parseSize: digits only, -1 otherwise (or when too long). */
export function parseSize(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  // At most 9 digits (999,999,999), as nats-server: a longer size is a protocol error.
  if (len <= 0 || len > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Split on runs of whitespace (space, tab, CR, LF); null when more than `max` fields. */
export function splitFields(arg: Buffer, max: number): string[] | null {
  const out: string[] = [];
  let start = -1;
  const len = arg.length;
  for (let i = 0; i <= len; i++) {
    const b = i < len ? arg[i] : SPACE;
    if (b === SPACE || b === TAB || b === CR || b === LF) {
      if (start >= 0) {
        if (out.length === max) return null;
        out.push(decodeName(arg, start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}
