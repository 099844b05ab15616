// A validating JSON scanner that behaves like Go's encoding/json scanner, used only on the
// error path (after JSON.parse has rejected a request body) so that 10025 "invalid JSON: ..."
// answers carry the exact text nats-server's Go decoder produces, e.g.
// "invalid character 'b' looking for beginning of object key string".
//
// Two entry points mirror the two ways nats-server decodes a request:
//  - checkValidJson(): json.Unmarshal's up-front validation of the whole body as one value.
//  - readStreamValue(): one json.Decoder.Decode step; the Decoder reads values one after the
//    other from the body, so trailing text after a complete value is scanned as the NEXT
//    value (hence "looking for beginning of value", never "after top-level value"), and a
//    body that stops mid-value is io.ErrUnexpectedEOF ("unexpected EOF").
// Offsets are byte counts (Go's SyntaxError.Offset), so everything works on Buffers.

const OP_CONTINUE = 0;
const OP_SKIP_SPACE = 1;
const OP_END_OBJECT = 2;
const OP_END_ARRAY = 3;
const OP_END = 4;
const OP_ERROR = 5;

const PARSE_OBJECT_KEY = 0;
const PARSE_OBJECT_VALUE = 1;
const PARSE_ARRAY_VALUE = 2;

/** Go's encoding/json nesting limit. */
const MAX_NESTING_DEPTH = 10000;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isHex = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/**
 * Go's quoteChar: the byte as a one-character Go quoted literal. A byte >= 0x80 is shown as
 * the rune with that value (Go converts the byte, not the UTF-8 sequence), so the first byte
 * of "é" (0xC3) prints as 'Ã'.
 */
export function quoteChar(c: number): string {
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  return "'" + goQuoteRune(c) + "'";
}

/** strconv.Quote's escaping of a single rune in the range 0..255. */
function goQuoteRune(c: number): string {
  switch (c) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
    case 0x5c: return '\\\\';
  }
  if (c < 0x20 || c === 0x7f) return '\\x' + c.toString(16).padStart(2, '0');
  // C1 controls, NO-BREAK SPACE and SOFT HYPHEN are not printable for strconv.IsPrint.
  if ((c >= 0x80 && c <= 0xa0) || c === 0xad) return '\\u' + c.toString(16).padStart(4, '0');
  return String.fromCharCode(c);
}

export interface GoSyntaxError {
  message: string;
  /** Go's SyntaxError.Offset: bytes read when the error was detected. */
  offset: number;
}

type StepFn = (c: number) => number;

class GoScanner {
  bytes = 0;
  err: GoSyntaxError | undefined;
  endTop = false;
  private parseState: number[] = [];
  step: StepFn = (c) => this.beginValue(c);

  reset(): void {
    this.step = (c) => this.beginValue(c);
    this.parseState = [];
    this.err = undefined;
    this.endTop = false;
  }

  /** Go's scanner.eof: the end of a whole-body value (json.Unmarshal). */
  eof(): number {
    if (this.err) return OP_ERROR;
    if (this.endTop) return OP_END;
    this.step(0x20);
    if (this.endTop) return OP_END;
    if (!this.err) this.err = { message: 'unexpected end of JSON input', offset: this.bytes };
    return OP_ERROR;
  }

  private fail(c: number, context: string): number {
    this.step = () => OP_ERROR;
    this.err = { message: `invalid character ${quoteChar(c)} ${context}`, offset: this.bytes };
    return OP_ERROR;
  }

  private push(next: StepFn, state: number, op: number): number {
    this.step = next;
    this.parseState.push(state);
    if (this.parseState.length > MAX_NESTING_DEPTH) {
      this.step = () => OP_ERROR;
      this.err = { message: 'exceeded max depth', offset: this.bytes };
      return OP_ERROR;
    }
    return op;
  }

  private pop(): void {
    this.parseState.pop();
    if (this.parseState.length === 0) {
      this.step = (c) => this.endTopState(c);
      this.endTop = true;
    } else {
      this.step = (c) => this.endValue(c);
    }
  }

  beginValue(c: number): number {
    if (isSpace(c)) return OP_SKIP_SPACE;
    switch (c) {
      case 0x7b: return this.push((x) => this.beginStringOrEmpty(x), PARSE_OBJECT_KEY, OP_CONTINUE);
      case 0x5b: return this.push((x) => this.beginValueOrEmpty(x), PARSE_ARRAY_VALUE, OP_CONTINUE);
      case 0x22: this.step = (x) => this.inString(x); return OP_CONTINUE;
      case 0x2d: this.step = (x) => this.neg(x); return OP_CONTINUE;
      case 0x30: this.step = (x) => this.zero(x); return OP_CONTINUE;
      case 0x74: this.step = this.literal('true', 1); return OP_CONTINUE;
      case 0x66: this.step = this.literal('false', 1); return OP_CONTINUE;
      case 0x6e: this.step = this.literal('null', 1); return OP_CONTINUE;
    }
    if (c >= 0x31 && c <= 0x39) { this.step = (x) => this.digits(x); return OP_CONTINUE; }
    return this.fail(c, 'looking for beginning of value');
  }

  private beginValueOrEmpty(c: number): number {
    if (isSpace(c)) return OP_SKIP_SPACE;
    if (c === 0x5d) return this.endValue(c);
    return this.beginValue(c);
  }

  private beginStringOrEmpty(c: number): number {
    if (isSpace(c)) return OP_SKIP_SPACE;
    if (c === 0x7d) {
      this.parseState[this.parseState.length - 1] = PARSE_OBJECT_VALUE;
      return this.endValue(c);
    }
    return this.beginString(c);
  }

  private beginString(c: number): number {
    if (isSpace(c)) return OP_SKIP_SPACE;
    if (c === 0x22) { this.step = (x) => this.inString(x); return OP_CONTINUE; }
    return this.fail(c, 'looking for beginning of object key string');
  }

  /** Go's stateEndValue: after a complete value inside (or at the top of) the document. */
  endValue(c: number): number {
    const n = this.parseState.length;
    if (n === 0) {
      this.step = (x) => this.endTopState(x);
      this.endTop = true;
      return this.endTopState(c);
    }
    if (isSpace(c)) { this.step = (x) => this.endValue(x); return OP_SKIP_SPACE; }
    switch (this.parseState[n - 1]) {
      case PARSE_OBJECT_KEY:
        if (c === 0x3a) {
          this.parseState[n - 1] = PARSE_OBJECT_VALUE;
          this.step = (x) => this.beginValue(x);
          return OP_CONTINUE;
        }
        return this.fail(c, 'after object key');
      case PARSE_OBJECT_VALUE:
        if (c === 0x2c) {
          this.parseState[n - 1] = PARSE_OBJECT_KEY;
          this.step = (x) => this.beginString(x);
          return OP_CONTINUE;
        }
        if (c === 0x7d) { this.pop(); return OP_END_OBJECT; }
        return this.fail(c, 'after object key:value pair');
      default:
        if (c === 0x2c) { this.step = (x) => this.beginValue(x); return OP_CONTINUE; }
        if (c === 0x5d) { this.pop(); return OP_END_ARRAY; }
        return this.fail(c, 'after array element');
    }
  }

  private endTopState(c: number): number {
    // Go records the complaint but still reports the end of the value.
    if (!isSpace(c)) this.fail(c, 'after top-level value');
    return OP_END;
  }

  private inString(c: number): number {
    if (c === 0x22) { this.step = (x) => this.endValue(x); return OP_CONTINUE; }
    if (c === 0x5c) { this.step = (x) => this.inStringEsc(x); return OP_CONTINUE; }
    if (c < 0x20) return this.fail(c, 'in string literal');
    return OP_CONTINUE;
  }

  private inStringEsc(c: number): number {
    switch (c) {
      case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74: case 0x5c: case 0x2f: case 0x22:
        this.step = (x) => this.inString(x);
        return OP_CONTINUE;
      case 0x75:
        this.step = this.unicodeEscape(4);
        return OP_CONTINUE;
    }
    return this.fail(c, 'in string escape code');
  }

  private unicodeEscape(remaining: number): StepFn {
    return (c) => {
      if (!isHex(c)) return this.fail(c, 'in \\u hexadecimal character escape');
      this.step = remaining === 1 ? (x) => this.inString(x) : this.unicodeEscape(remaining - 1);
      return OP_CONTINUE;
    };
  }

  private neg(c: number): number {
    if (c === 0x30) { this.step = (x) => this.zero(x); return OP_CONTINUE; }
    if (c >= 0x31 && c <= 0x39) { this.step = (x) => this.digits(x); return OP_CONTINUE; }
    return this.fail(c, 'in numeric literal');
  }

  private digits(c: number): number {
    if (isDigit(c)) return OP_CONTINUE;
    return this.zero(c);
  }

  private zero(c: number): number {
    if (c === 0x2e) { this.step = (x) => this.dot(x); return OP_CONTINUE; }
    if (c === 0x65 || c === 0x45) { this.step = (x) => this.exp(x); return OP_CONTINUE; }
    return this.endValue(c);
  }

  private dot(c: number): number {
    if (isDigit(c)) { this.step = (x) => this.fraction(x); return OP_CONTINUE; }
    return this.fail(c, 'after decimal point in numeric literal');
  }

  private fraction(c: number): number {
    if (isDigit(c)) return OP_CONTINUE;
    if (c === 0x65 || c === 0x45) { this.step = (x) => this.exp(x); return OP_CONTINUE; }
    return this.endValue(c);
  }

  private exp(c: number): number {
    if (c === 0x2b || c === 0x2d) { this.step = (x) => this.expSign(x); return OP_CONTINUE; }
    return this.expSign(c);
  }

  private expSign(c: number): number {
    if (isDigit(c)) { this.step = (x) => this.expDigits(x); return OP_CONTINUE; }
    return this.fail(c, 'in exponent of numeric literal');
  }

  private expDigits(c: number): number {
    if (isDigit(c)) return OP_CONTINUE;
    return this.endValue(c);
  }

  /** true/false/null: `word[index]` is the next expected byte. */
  private literal(word: string, index: number): StepFn {
    return (c) => {
      const want = word.charCodeAt(index);
      if (c !== want) return this.fail(c, `in literal ${word} (expecting '${word[index]}')`);
      this.step = index === word.length - 1 ? (x) => this.endValue(x) : this.literal(word, index + 1);
      return OP_CONTINUE;
    };
  }
}

/**
 * json.Unmarshal's validation of `body` as exactly one JSON value: undefined when valid,
 * otherwise Go's SyntaxError (message without offset, as Unmarshal reports it).
 */
export function checkValidJson(body: Buffer): GoSyntaxError | undefined {
  const scan = new GoScanner();
  for (let i = 0; i < body.length; i++) {
    scan.bytes++;
    if (scan.step(body[i]!) === OP_ERROR) return scan.err;
  }
  return scan.eof() === OP_ERROR ? scan.err : undefined;
}

export type StreamRead =
  | { kind: 'value'; start: number; end: number }
  | { kind: 'eof' }
  | { kind: 'unexpected-eof' }
  | { kind: 'syntax'; error: GoSyntaxError };

/**
 * A json.Decoder over one body: next() is one Decode's readValue. The byte counter runs
 * across values like Go's (a byte that ends a top-level number or literal is counted again
 * when the next value is read, exactly as the Go Decoder does).
 */
export class GoJsonStream {
  private readonly scan = new GoScanner();
  private pos = 0;

  constructor(private readonly body: Buffer) {}

  next(): StreamRead {
    const scan = this.scan;
    const body = this.body;
    scan.reset();
    const start = this.pos;
    let p = start;
    for (; p < body.length; p++) {
      scan.bytes++;
      const op = scan.step(body[p]!);
      if (op === OP_END) {
        this.pos = p;
        return { kind: 'value', start, end: p };
      }
      if ((op === OP_END_OBJECT || op === OP_END_ARRAY) && scan.endValue(0x20) === OP_END) {
        this.pos = p + 1;
        return { kind: 'value', start, end: p + 1 };
      }
      if (op === OP_ERROR) {
        this.pos = body.length;
        return { kind: 'syntax', error: scan.err! };
      }
    }
    this.pos = body.length;
    if (scan.step(0x20) === OP_END) return { kind: 'value', start, end: p };
    for (let i = start; i < body.length; i++) {
      if (!isSpace(body[i]!)) return { kind: 'unexpected-eof' };
    }
    return { kind: 'eof' };
  }
}
