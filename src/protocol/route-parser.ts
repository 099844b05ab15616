// Streaming parser for the route protocol (server <-> server inside one cluster),
// as spoken by nats-server 2.9.10 (its parser is server/parser.go `parse`, the route
// arguments are read by processRoutedMsgArgs / processRemoteSub / processRemoteUnsub in
// server/route.go; captured bytes in test/fixtures/vectors/route).
//
// Input is whatever the socket delivered: any op, argument line or payload may be
// split across reads and many ops may arrive in one read. Control lines are found
// with Buffer.indexOf (native) and tokenised in place; payloads are handed out as
// subarrays of the read buffer whenever the whole payload is in one read, so the
// common case copies nothing. The handler must copy anything it keeps.
//
// Errors follow nats-server's parser: an unknown op (or a payload not followed by
// CRLF) answers -ERR 'Unknown Protocol Operation' and closes; malformed arguments of
// a known op close the connection without an -ERR.
//
// Leaf mode (`{ leaf: true }`) reads the leaf-node protocol instead (nats-server's parser
// for a LEAF connection: processLeafSub / processLeafUnsub / processLeafMsgArgs /
// processLeafHeaderMsgArgs in server/leafnode.go). A leaf connection is bound to one
// account, so its lines carry none and there is no origin:
//   LS+ <subject>[ <queue> <weight>]    LS- <subject>[ <queue>]
//   LMSG <subject> [<reply> | + <reply> <q...> | '|' <q...>] <size>
//   HMSG <subject> [same reply/queue forms] <hdr> <size>
// RS+/RS-/RMSG are unknown ops there. Handlers see account '' for leaf interest and messages.

import { decodeName, LastName } from './names.js';
import { fieldEnd } from './tokens.js';

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

/** Op codes (the parser's own numbering). */
export const enum RouteOp {
  INFO = 1,
  CONNECT,
  PING,
  PONG,
  OK,
  ERR,
  RS_PLUS,
  RS_MINUS,
  LS_PLUS,
  LS_MINUS,
  RMSG,
  HMSG,
  LMSG,
  PUB,
  HPUB,
  SUB,
  UNSUB,
  A_PLUS,
  A_MINUS,
}

export interface RouteProtocolHandler {
  onInfo(json: string): void;
  onConnect(json: string): void;
  onPing(): void;
  onPong(): void;
  onOk(): void;
  onErr(text: string): void;
  /** RS+ (origin undefined) or LS+ (origin = leafnode origin cluster). weight is 0 for plain subs.
   *  In leaf mode: LS+ with account '' and no origin. */
  onRemoteSub(account: string, subject: string, queue: string | undefined, weight: number, origin: string | undefined): void;
  /** RS- or LS- (isLeaf). 2.9.10's LS- carries no origin. In leaf mode account is ''. */
  onRemoteUnsub(account: string, subject: string, queue: string | undefined, isLeaf: boolean): void;
  /**
   * RMSG/HMSG/LMSG. `args` is reused for every message; `data` is headers+payload (no trailing
   * CRLF). Both may be views into read buffers: valid during the call only.
   */
  onRoutedMsg(args: RoutedMsgArgs, data: Buffer): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * Arguments of the routed message being delivered (one instance per parser). The subject's and
 * the reply's bytes are ranges of `src` (the read buffer, valid during the call only); a view of
 * them is made only when read (`subjectBytes`, `replyBytes`): a JetStream ack (a new subject
 * every message) reaches an internal subscriber that never reads them, and a routed delivery's
 * `<reply>@<subject>` is cut into two views without one of the whole (takeRoutedReply).
 */
export class RoutedMsgArgs {
  account = '';
  subject = '';
  /** the buffer holding the subject and the reply */
  src: Buffer = EMPTY;
  subjectStart = 0;
  subjectEnd = 0;
  /** The subject's bytes when already a Buffer of their own (a repeated subject): else null. */
  subjectBuf: Buffer | null = EMPTY;
  /** The reply's range in `src`; replyStart is -1 when there is none. */
  replyStart = -1;
  replyEnd = -1;
  private replyView: Buffer | null = null;
  /** The reply as text, decoded on first read (most messages only forward the bytes). */
  private replyText: string | null = '';
  /** queue groups the sending server picked for us (undefined when none) */
  queues: string[] | undefined = undefined;
  /** header block length at the start of the data; -1 for RMSG (no headers) */
  hdrLen = -1;
  /** leafnode origin cluster (LMSG only) */
  origin: string | undefined = undefined;

  /** the subject's bytes as received */
  get subjectBytes(): Buffer {
    let b = this.subjectBuf;
    if (b === null) b = this.subjectBuf = this.src.subarray(this.subjectStart, this.subjectEnd);
    return b;
  }

  /** The reply's bytes as received, null when there is none. */
  get replyBytes(): Buffer | null {
    if (this.replyStart < 0) return null;
    let b = this.replyView;
    if (b === null) b = this.replyView = this.src.subarray(this.replyStart, this.replyEnd);
    return b;
  }

  /** '' when there is no reply. */
  get reply(): string {
    const t = this.replyText;
    if (t !== null) return t;
    const r = decodeName(this.src, this.replyStart, this.replyEnd);
    this.replyText = r;
    return r;
  }

  /** The reply is `src[start, end)`, or none when start < 0. */
  setReplyRange(start: number, end: number): void {
    this.replyStart = start;
    this.replyEnd = end;
    this.replyView = null;
    this.replyText = start < 0 ? '' : null;
  }
}

/** Why parsing stopped. `errText` (when set) is sent as -ERR '<errText>' before closing. */
export class RouteParseError extends Error {
  constructor(
    message: string,
    readonly errText: string | undefined,
    /** connz-style close reason */
    readonly closeReason: string,
  ) {
    super(message);
  }
}

/** processLine's answer when the handler suspended parsing after a CONNECT (never surfaces from parse()). */
const SUSPENDED = new RouteParseError('suspended', undefined, '');

export const ERR_UNKNOWN_OP = 'Unknown Protocol Operation';
export const ERR_MAX_CONTROL_LINE = 'maximum control line exceeded';
export const ERR_AUTH_VIOLATION = 'Authorization Violation';

/** Ops whose remaining bytes up to the newline are ignored. */
const REST_IGNORED = 0;
/** Ops whose argument may start right after the name (INFO, CONNECT). */
const ARG_FREE = 1;
/** Ops that need a space or tab between name and arguments. */
const ARG_SEPARATED = 2;

interface OpName { name: Uint8Array; op: RouteOp; kind: number }

function opName(s: string, op: RouteOp, kind: number): OpName {
  return { name: Buffer.from(s, 'latin1'), op, kind };
}

// Candidates by upper-cased first byte.
const OPS_BY_FIRST: (OpName[] | undefined)[] = new Array(256);
function addOp(o: OpName): void {
  const f = o.name[0]!;
  (OPS_BY_FIRST[f] ??= []).push(o);
}
addOp(opName('RS+', RouteOp.RS_PLUS, ARG_SEPARATED));
addOp(opName('RS-', RouteOp.RS_MINUS, ARG_SEPARATED));
addOp(opName('RMSG', RouteOp.RMSG, ARG_SEPARATED));
addOp(opName('LS+', RouteOp.LS_PLUS, ARG_SEPARATED));
addOp(opName('LS-', RouteOp.LS_MINUS, ARG_SEPARATED));
addOp(opName('LMSG', RouteOp.LMSG, ARG_SEPARATED));
addOp(opName('HMSG', RouteOp.HMSG, ARG_SEPARATED));
addOp(opName('HPUB', RouteOp.HPUB, ARG_SEPARATED));
addOp(opName('PING', RouteOp.PING, REST_IGNORED));
addOp(opName('PONG', RouteOp.PONG, REST_IGNORED));
addOp(opName('PUB', RouteOp.PUB, ARG_SEPARATED));
addOp(opName('CONNECT', RouteOp.CONNECT, ARG_FREE));
addOp(opName('INFO', RouteOp.INFO, ARG_FREE));
addOp(opName('+OK', RouteOp.OK, REST_IGNORED));
addOp(opName('-ERR', RouteOp.ERR, ARG_SEPARATED));
addOp(opName('SUB', RouteOp.SUB, ARG_SEPARATED));
addOp(opName('UNSUB', RouteOp.UNSUB, ARG_SEPARATED));
addOp(opName('A+', RouteOp.A_PLUS, ARG_SEPARATED));
addOp(opName('A-', RouteOp.A_MINUS, ARG_SEPARATED));

const OP_NEED_MORE = -1;
const OP_BAD = -2;

function upper(b: number): number {
  return b >= 97 && b <= 122 ? b - 32 : b;
}

/** Index of the next LF at or after `from`, or -1. A short line (PING, PONG) ends within a few
 *  bytes, where a plain loop beats the call into the native scan; a message line (~100 bytes
 *  with a JetStream ack reply) is left to the native scan, several times faster than a loop. */
function findLF(buf: Buffer, from: number, len: number): number {
  const stop = from + 16 < len ? from + 16 : len;
  for (let i = from; i < stop; i++) if (buf[i] === LF) return i;
  return stop === len ? -1 : buf.indexOf(LF, stop);
}

function sameBytes(a: Buffer, aStart: number, b: Buffer, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aStart + i] !== b[i]) return false;
  return true;
}

/** nats-server's parseSize: 1..9 ASCII digits, else -1. */
export function parseRouteSize(buf: Uint8Array, start: number, end: number): number {
  const l = end - start;
  if (l <= 0 || l > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const STATE_LINE = 0;
const STATE_PAYLOAD = 1;
const STATE_DEAD = 2;

export interface RouteParserOptions {
  /** Limit for a control line (nats-server: 16 x max_control_line for routes = 64 KiB). */
  maxControlLineBytes?: number;
  /** Largest payload accepted; protects memory against a broken peer. */
  maxPayloadBytes?: number;
  /** Read the leaf-node protocol (see the top of this file) instead of the route protocol. */
  leaf?: boolean;
}

export class RouteParser {
  /** When true, the first op must be CONNECT (cluster authorization configured on the accept side). */
  awaitingConnect = false;

  private state = STATE_LINE;
  private stopped = false;
  /**
   * Input kept while parsing is suspended (a CONNECT being checked off the event loop); null
   * when not suspended. Nothing after the CONNECT is acted on until resume().
   */
  private held: Buffer[] | null = null;
  /** Bytes of an incomplete control line carried over from earlier reads. */
  private lineCarry: Buffer | null = null;
  /** Bytes used in lineCarry, which grows by doubling: a long line arriving in many reads costs linear time. */
  private carryLen = 0;
  private readonly maxLine: number;
  private readonly maxPayload: number;
  /** leaf mode: no account (and no origin) in interest and message lines */
  private readonly leaf: boolean;

  // Token positions of the current argument line (start,end pairs).
  private tok = new Int32Array(32);
  private ntok = 0;

  // Pending message (between its control line and the end of its payload).
  private mOp: RouteOp = RouteOp.RMSG;
  private readonly margs = new RoutedMsgArgs();
  private mSize = 0;
  /** Buffer collecting a payload that spans reads (size + CRLF). */
  private payloadBuf: Buffer | null = null;
  private payloadHave = 0;

  // Last routed subject, reused while it repeats.
  /** The previous message's subject (names.ts LastName: a repeat is neither decoded nor copied again). */
  private readonly lastSubject = new LastName();

  // Small cache so the few account names in use are not re-decoded per message.
  private accBytes: Buffer[] = [];
  private accNames: string[] = [];

  constructor(private readonly handler: RouteProtocolHandler, opts: RouteParserOptions = {}) {
    this.maxLine = opts.maxControlLineBytes ?? 64 * 1024;
    this.maxPayload = opts.maxPayloadBytes ?? 64 * 1024 * 1024;
    this.leaf = opts.leaf === true;
  }

  private appendCarry(buf: Buffer, s: number, e: number): void {
    const need = this.carryLen + (e - s);
    if (this.lineCarry === null || this.lineCarry.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (this.lineCarry?.length ?? 0), 256));
      if (this.lineCarry !== null) this.lineCarry.copy(grown, 0, 0, this.carryLen);
      this.lineCarry = grown;
    }
    buf.copy(this.lineCarry, this.carryLen, s, e);
    this.carryLen = need;
  }

  /** Stop processing (e.g. the handler closed the connection); later parse() calls do nothing. */
  stop(): void {
    this.stopped = true;
    this.state = STATE_DEAD;
    this.held = null;
    this.lineCarry = null;
    this.payloadBuf = null;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Called by the handler from onConnect: parse nothing after this CONNECT until resume(). */
  suspend(): void {
    if (this.held === null) this.held = [];
  }

  get isSuspended(): boolean {
    return this.held !== null;
  }

  /**
   * Parse what was kept while suspended. It may suspend again (a second CONNECT in the kept
   * bytes): what follows stays kept. Returns an error as parse() does.
   */
  resume(): RouteParseError | undefined {
    const held = this.held;
    this.held = null;
    if (held === null) return undefined;
    for (let i = 0; i < held.length; i++) {
      const err = this.parse(held[i]!);
      if (err) return err;
      const again = this.held as Buffer[] | null;
      if (again !== null) {
        for (let j = i + 1; j < held.length; j++) again.push(held[j]!);
        return undefined;
      }
    }
    return undefined;
  }

  /** Feed bytes. Returns an error when the connection must be closed (the parser is then dead). */
  parse(buf: Buffer): RouteParseError | undefined {
    if (this.held !== null) {
      // once per read, not per message: the reader pauses while suspended, so this is rare
      this.held.push(buf);
      return undefined;
    }
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      if (this.stopped) return undefined;
      if (this.state === STATE_PAYLOAD) {
        const need = this.mSize + 2;
        if (this.payloadBuf === null) {
          if (len - pos >= need) {
            const end = pos + this.mSize;
            if (buf[end] !== CR || buf[end + 1] !== LF) return this.fail(ERR_UNKNOWN_OP, 'payload not followed by CRLF');
            this.state = STATE_LINE;
            // No view for an empty payload (every JetStream ack is one).
            this.emitMsg(end === pos ? EMPTY : buf.subarray(pos, end));
            pos = end + 2;
            continue;
          }
          this.payloadBuf = Buffer.allocUnsafe(need);
          buf.copy(this.payloadBuf, 0, pos, len);
          this.payloadHave = len - pos;
          return undefined;
        }
        const take = Math.min(need - this.payloadHave, len - pos);
        buf.copy(this.payloadBuf, this.payloadHave, pos, pos + take);
        this.payloadHave += take;
        pos += take;
        if (this.payloadHave < need) return undefined;
        const pb = this.payloadBuf;
        this.payloadBuf = null;
        if (pb[this.mSize] !== CR || pb[this.mSize + 1] !== LF) return this.fail(ERR_UNKNOWN_OP, 'payload not followed by CRLF');
        this.state = STATE_LINE;
        this.emitMsg(pb.subarray(0, this.mSize));
        continue;
      }
      if (this.state === STATE_DEAD) return undefined;

      // STATE_LINE
      const nl = findLF(buf, pos, len);
      if (this.lineCarry !== null) {
        const end = nl < 0 ? len : nl;
        if (this.carryLen + (end - pos) > this.maxLine) {
          return this.fail(ERR_MAX_CONTROL_LINE, 'control line too long', 'Maximum Control Line Exceeded');
        }
        this.appendCarry(buf, pos, end);
        if (nl < 0) return this.checkPartialLine(this.lineCarry, 0, this.carryLen);
        const line = this.lineCarry.subarray(0, this.carryLen);
        this.lineCarry = null;
        this.carryLen = 0;
        pos = nl + 1;
        const err = this.processLine(line, 0, line.length);
        if (err) return this.stopAt(err, buf, pos);
        continue;
      }
      if (nl < 0) {
        const err = this.checkPartialLine(buf, pos, len);
        if (err) return err;
        this.carryLen = 0;
        this.appendCarry(buf, pos, len);
        return undefined;
      }
      const err = this.processLine(buf, pos, nl);
      pos = nl + 1;
      if (err) return this.stopAt(err, buf, pos);
    }
    return undefined;
  }

  /** A line ended parsing: a real error, or a suspension that keeps the rest of this read. */
  private stopAt(err: RouteParseError, buf: Buffer, pos: number): RouteParseError | undefined {
    if (err !== SUSPENDED) return err;
    // copied: the caller may reuse its read buffer
    if (pos < buf.length) this.held!.push(Buffer.from(buf.subarray(pos)));
    return undefined;
  }

  private fail(errText: string | undefined, message: string, closeReason = 'Protocol Violation'): RouteParseError {
    this.state = STATE_DEAD;
    this.stopped = true;
    this.lineCarry = null;
    this.payloadBuf = null;
    return new RouteParseError(message, errText, closeReason);
  }

  /** Validate what we have of a line that has no newline yet. */
  private checkPartialLine(buf: Buffer, s: number, e: number): RouteParseError | undefined {
    if (e - s > this.maxLine) return this.fail(ERR_MAX_CONTROL_LINE, 'control line too long', 'Maximum Control Line Exceeded');
    if (e === s) return undefined;
    const op = this.matchOp(buf, s, e, false);
    if (op === OP_BAD) return this.badOp(buf, s, e);
    if (this.awaitingConnect && upper(buf[s]!) !== 67 /* C */) return this.authFail();
    return undefined;
  }

  private badOp(buf: Buffer, s: number, e: number): RouteParseError {
    if (this.awaitingConnect && upper(buf[s]!) !== 67) return this.authFail();
    const snippet = JSON.stringify(buf.toString('latin1', s, Math.min(e, s + 32)));
    return this.fail(ERR_UNKNOWN_OP, `route parser ERROR, proto=${snippet}`);
  }

  private authFail(): RouteParseError {
    return this.fail(ERR_AUTH_VIOLATION, 'operation before CONNECT', 'Authentication Failure');
  }

  private argStart = 0;

  /**
   * Identify the op at buf[s..e). For complete lines e excludes the LF. Returns the op,
   * OP_NEED_MORE (partial line that may still become valid) or OP_BAD.
   */
  private matchOp(buf: Buffer, s: number, e: number, complete: boolean): number {
    // Fast path for the hot ops as nats-server writes them: "RMSG " / "HMSG ".
    if (e - s > 5 && buf[s + 1] === 77 && buf[s + 2] === 83 && buf[s + 3] === 71 && buf[s + 4] === SPACE) {
      const b0 = buf[s];
      if ((b0 === 82 && !this.leaf) || b0 === 72) {
        let p = s + 5;
        while (p < e && (buf[p] === SPACE || buf[p] === TAB)) p++;
        this.argStart = p;
        return b0 === 82 ? RouteOp.RMSG : RouteOp.HMSG;
      }
    }
    const cands = OPS_BY_FIRST[upper(buf[s]!)];
    if (cands === undefined) return OP_BAD;
    const avail = e - s;
    let needMore = false;
    for (let c = 0; c < cands.length; c++) {
      const o = cands[c]!;
      const n = o.name;
      const k = avail < n.length ? avail : n.length;
      let i = 1;
      while (i < k && upper(buf[s + i]!) === n[i]) i++;
      if (i < k) continue;
      if (avail < n.length) {
        needMore = true;
        continue;
      }
      let p = s + n.length;
      if (o.kind === REST_IGNORED) {
        this.argStart = p;
        return o.op;
      }
      if (o.kind === ARG_SEPARATED) {
        if (p === e) {
          needMore = true;
          continue;
        }
        const b = buf[p];
        if (b !== SPACE && b !== TAB) continue;
      }
      while (p < e && (buf[p] === SPACE || buf[p] === TAB)) p++;
      this.argStart = p;
      return o.op;
    }
    return needMore && !complete ? OP_NEED_MORE : OP_BAD;
  }

  private processLine(buf: Buffer, s: number, e: number): RouteParseError | undefined {
    if (e - s > this.maxLine) return this.fail(ERR_MAX_CONTROL_LINE, 'control line too long', 'Maximum Control Line Exceeded');
    if (e === s) return this.badOp(buf, s, e + 1);
    const op = this.matchOp(buf, s, e, true);
    if (op < 0 || (this.leaf && (op === RouteOp.RS_PLUS || op === RouteOp.RS_MINUS || op === RouteOp.RMSG))) {
      return this.badOp(buf, s, e);
    }
    if (this.awaitingConnect) {
      if (op !== RouteOp.CONNECT) return this.authFail();
      this.awaitingConnect = false;
    }
    // Drop a CR right before the LF.
    let end = e;
    if (end > s && buf[end - 1] === CR) end--;
    const a = this.argStart > end ? end : this.argStart;
    const h = this.handler;
    switch (op as RouteOp) {
      case RouteOp.PING:
        h.onPing();
        return undefined;
      case RouteOp.PONG:
        h.onPong();
        return undefined;
      case RouteOp.OK:
        h.onOk();
        return undefined;
      case RouteOp.INFO:
        h.onInfo(buf.toString('utf8', a, end));
        return undefined;
      case RouteOp.CONNECT:
        h.onConnect(buf.toString('utf8', a, end));
        return this.held !== null && !this.stopped ? SUSPENDED : undefined;
      case RouteOp.ERR:
        h.onErr(buf.toString('utf8', a, end));
        return undefined;
      case RouteOp.RS_PLUS:
      case RouteOp.LS_PLUS:
        return this.processSub(buf, a, end, op === RouteOp.LS_PLUS);
      case RouteOp.RS_MINUS:
      case RouteOp.LS_MINUS:
        return this.processUnsub(buf, a, end, op === RouteOp.LS_MINUS);
      case RouteOp.RMSG:
      case RouteOp.LMSG:
      case RouteOp.HMSG:
        return this.processMsgArgs(buf, a, end, op);
      case RouteOp.PUB:
      case RouteOp.HPUB:
        return this.processPubArgs(buf, a, end, op);
      default:
        // SUB, UNSUB, A+, A-: nats-server accepts these on a route and does nothing with them.
        return undefined;
    }
  }

  private tokenize(buf: Buffer, s: number, e: number): number {
    let n = 0;
    let i = s;
    while (i < e) {
      const b = buf[i];
      if (b === SPACE || b === TAB || b === CR || b === LF) {
        i++;
        continue;
      }
      const end = fieldEnd(buf, i + 1, e);
      n = this.pushTok(n, i, end);
      i = end + 1;
    }
    this.ntok = n;
    return n;
  }

  private pushTok(n: number, start: number, end: number): number {
    if ((n + 1) * 2 > this.tok.length) {
      const t = new Int32Array(this.tok.length * 2);
      t.set(this.tok);
      this.tok = t;
    }
    this.tok[n * 2] = start;
    this.tok[n * 2 + 1] = end;
    return n + 1;
  }

  private str(buf: Buffer, t: number): string {
    return decodeName(buf, this.tok[t * 2]!, this.tok[t * 2 + 1]!);
  }

  private account(buf: Buffer, t: number): string {
    const s = this.tok[t * 2]!;
    const e = this.tok[t * 2 + 1]!;
    const l = e - s;
    const ab = this.accBytes;
    for (let i = 0; i < ab.length; i++) {
      const c = ab[i]!;
      if (c.length === l && sameBytes(buf, s, c, l)) return this.accNames[i]!;
    }
    const name = decodeName(buf, s, e);
    if (ab.length >= 8) {
      ab.shift();
      this.accNames.shift();
    }
    ab.push(Buffer.from(buf.subarray(s, e)));
    this.accNames.push(name);
    return name;
  }

  private size(buf: Buffer, t: number): number {
    return parseRouteSize(buf, this.tok[t * 2]!, this.tok[t * 2 + 1]!);
  }

  /** RS+, the route form of LS+ (origin first), or in leaf mode LS+ (no account, no origin). */
  private processSub(buf: Buffer, s: number, e: number, isLs: boolean): RouteParseError | undefined {
    const n = this.tokenize(buf, s, e);
    const leaf = this.leaf;
    const off = isLs && !leaf ? 1 : 0;
    // token index of the subject: after the origin and the account (none of them in leaf mode)
    const st = leaf ? 0 : 1 + off;
    let queue: string | undefined;
    let weight = 0;
    if (n === st + 1) {
      queue = undefined;
    } else if (n === st + 3) {
      queue = this.str(buf, st + 1);
      weight = this.size(buf, st + 2);
      // nats-server keeps whatever it parsed; a member count below one makes no sense, count it as one.
      if (weight < 1) weight = 1;
    } else {
      const name = leaf ? 'processLeafSub' : 'processRemoteSub';
      return this.fail(undefined, `${name} Parse Error: '${buf.toString('utf8', s, e)}'`);
    }
    const origin = off ? this.str(buf, 0) : undefined;
    this.handler.onRemoteSub(leaf ? '' : this.account(buf, off), this.str(buf, st), queue, weight, origin);
    return undefined;
  }

  private processUnsub(buf: Buffer, s: number, e: number, isLeaf: boolean): RouteParseError | undefined {
    const n = this.tokenize(buf, s, e);
    const st = this.leaf ? 0 : 1;
    if (n !== st + 1 && n !== st + 2) {
      const name = this.leaf ? 'processLeafUnsub' : 'processRemoteUnsub';
      return this.fail(undefined, `${name} parse error: '${buf.toString('utf8', s, e)}'`);
    }
    const queue = n === st + 2 ? this.str(buf, st + 1) : undefined;
    this.handler.onRemoteUnsub(this.leaf ? '' : this.account(buf, 0), this.str(buf, st), queue, isLeaf);
    return undefined;
  }

  /**
   * RMSG <acc> <subj> [reply] <size>
   * RMSG <acc> <subj> (+ <reply> | '|') <q...> <size>
   * HMSG: same with <hdr> <size>; LMSG: <origin> first, always <hdr> <size>.
   * Leaf mode: no account and no origin; LMSG has <size> only, HMSG <hdr> <size>.
   */
  private processMsgArgs(buf: Buffer, s: number, e: number, op: RouteOp): RouteParseError | undefined {
    const n = this.tokenize(buf, s, e);
    const leaf = this.leaf;
    const off = op === RouteOp.LMSG && !leaf ? 1 : 0;
    const withHdr = leaf ? op === RouteOp.HMSG : op !== RouteOp.RMSG;
    const sizes = withHdr ? 2 : 1;
    // token index of the subject: after the origin and the account (none of them in leaf mode)
    const st = leaf ? 0 : 1 + off;
    const fixed = st + 1 + sizes;
    const name = leaf ? (withHdr ? 'processLeafHeaderMsgArgs' : 'processLeafMsgArgs')
      : op === RouteOp.RMSG ? 'processRoutedMsgArgs' : op === RouteOp.HMSG ? 'processRoutedHeaderMsgArgs' : 'processRoutedOriginClusterMsgArgs';
    if (n < fixed) return this.fail(undefined, `${name} Parse Error: '${buf.toString('utf8', s, e)}'`);
    let replyTok = -1;
    let queues: string[] | undefined;
    if (n === fixed + 1) {
      replyTok = st + 1;
    } else if (n > fixed + 1) {
      const ind = st + 1;
      const is = this.tok[ind * 2]!;
      if (this.tok[ind * 2 + 1]! - is !== 1 || (buf[is] !== 43 /* + */ && buf[is] !== 124 /* | */)) {
        return this.fail(undefined, `${name} Bad or Missing Reply Indicator: '${buf.toString('utf8', s, e)}'`);
      }
      let q = ind + 1;
      if (buf[is] === 43) {
        replyTok = q;
        q++;
      }
      const qEnd = n - sizes;
      if (q < qEnd) {
        queues = new Array<string>(qEnd - q);
        for (let i = q; i < qEnd; i++) queues[i - q] = this.str(buf, i);
      }
    }
    const size = this.size(buf, n - 1);
    let hdr = -1;
    if (withHdr) {
      hdr = this.size(buf, n - 2);
      if (hdr < 0) return this.fail(undefined, `${name} Bad or Missing Header Size: '${buf.toString('utf8', s, e)}'`);
    }
    if (size < 0) return this.fail(undefined, `${name} Bad or Missing Size: '${buf.toString('utf8', s, e)}'`);
    if (hdr > size) return this.fail(undefined, `${name} Header Size larger then TotalSize: '${buf.toString('utf8', s, e)}'`);
    if (size > this.maxPayload) return this.fail(undefined, `${name} payload of ${size} bytes is over the limit`);
    const m = this.margs;
    this.mOp = op;
    m.origin = off ? this.str(buf, 0) : undefined;
    m.account = leaf ? '' : this.account(buf, off);
    const ss = this.tok[st * 2]!;
    const sl = this.tok[st * 2 + 1]! - ss;
    m.src = buf;
    m.subjectStart = ss;
    m.subjectEnd = ss + sl;
    const last = this.lastSubject;
    if (last.matches(buf, ss, ss + sl)) {
      // Same subject as the previous message (the common case on a busy route): no decode, and
      // from the second one on its bytes are one Buffer of their own.
      m.subject = last.text!;
      m.subjectBuf = last.ownBytes(buf, ss, ss + sl);
    } else {
      // A new one (every routed JetStream ack): a range of the read buffer, no view, no copy.
      m.subject = last.take(buf, ss, ss + sl);
      m.subjectBuf = null;
    }
    if (replyTok < 0) m.setReplyRange(-1, -1);
    else m.setReplyRange(this.tok[replyTok * 2]!, this.tok[replyTok * 2 + 1]!);
    m.queues = queues;
    m.hdrLen = hdr;
    this.mSize = size;
    this.state = STATE_PAYLOAD;
    return undefined;
  }

  /** PUB/HPUB on a route: nats-server parses them and then drops the message (no account). */
  private processPubArgs(buf: Buffer, s: number, e: number, op: RouteOp): RouteParseError | undefined {
    const n = this.tokenize(buf, s, e);
    const hpub = op === RouteOp.HPUB;
    const ok = hpub ? n === 3 || n === 4 : n === 2 || n === 3;
    if (!ok) return this.fail(undefined, `processPub Parse Error: '${buf.toString('utf8', s, e)}'`);
    const size = this.size(buf, n - 1);
    const hdr = hpub ? this.size(buf, n - 2) : 0;
    if (size < 0 || hdr < 0 || hdr > size || size > this.maxPayload) {
      return this.fail(undefined, `processPub Bad or Missing Size: '${buf.toString('utf8', s, e)}'`);
    }
    this.mOp = op;
    this.mSize = size;
    this.state = STATE_PAYLOAD;
    return undefined;
  }

  private emitMsg(data: Buffer): void {
    const op = this.mOp;
    if (op === RouteOp.PUB || op === RouteOp.HPUB) return;
    this.handler.onRoutedMsg(this.margs, data);
  }
}
