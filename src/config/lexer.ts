// Lexer for the nats-server configuration format.
//
// The format is permissive (keys separated from values by '=', ':' or just
// whitespace; entries ended by newline, ',' or ';'; '#' and '//' comments;
// bare, quoted and multi-line raw strings; size-suffixed integers ...), and
// the edge cases are defined by nats-server's conf/lex.go. To accept and reject
// exactly the same files, this lexer is a state machine with the same states
// and transitions: every state is a method that consumes input and returns the
// next state, with a stack of states to return to after nested values.
//
// Positions: `offset` is the index of the token's first character. Line and
// column are derived from it the way nats-server reports them (see lineCol()).

export type TokenType =
  | 'key'
  | 'string'
  | 'bool'
  | 'integer'
  | 'float'
  | 'datetime'
  | 'arrayStart'
  | 'arrayEnd'
  | 'mapStart'
  | 'mapEnd'
  | 'variable'
  | 'include'
  | 'eof'
  | 'error';

export interface Token {
  type: TokenType;
  /** token text (for strings: with escapes decoded; for errors: the message) */
  value: string;
  /** index into the input where the token starts */
  offset: number;
}

type State = ((this: Lexer) => State) | null;

const EOF = '';

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\t';
}
function isNL(c: string): boolean {
  return c === '\n' || c === '\r';
}
// Go's unicode.IsSpace
function isSpace(c: string): boolean {
  return c !== EOF && /^[\s\u0085]$/.test(c);
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9' && c.length === 1;
}
function isKeySeparator(c: string): boolean {
  return c === '=' || c === ':';
}
function isNumberSuffix(c: string): boolean {
  return c !== EOF && 'kKmMgGtTpPeE'.includes(c);
}
/** Characters that end a number-like bare value (note: not ']'; see lexer notes). */
function endsNumber(c: string): boolean {
  return isNL(c) || c === EOF || c === '}' || c === ';' || c === ',' || isWhitespace(c);
}
function showChar(c: string): string {
  if (c === '\n') return '\\n';
  if (c === EOF) return '\u0000';
  return c;
}

export class Lexer {
  private readonly input: string;
  private start = 0;
  private pos = 0;
  /** width of the last character read by next(); 0 at end of input */
  private width = 0;
  private readonly stack: Exclude<State, null>[] = [];
  private readonly tokens: Token[] = [];
  /** decoded pieces of a string containing escapes, and where that string began */
  private stringParts: Buffer[] = [];
  private stringPartsStart = -1;
  /** state to resume after an escape sequence (bare or double-quoted string) */
  private stringState: Exclude<State, null> = this.lexString;

  constructor(input: string) {
    this.input = input;
  }

  /** Lex the whole input. The last token is always 'eof' or 'error'. */
  static tokenize(input: string): Token[] {
    const lx = new Lexer(input);
    let state: State = lx.lexTop;
    while (state) state = state.call(lx);
    return lx.tokens;
  }

  // ---- primitives -------------------------------------------------------

  private next(): string {
    if (this.pos >= this.input.length) {
      this.width = 0;
      return EOF;
    }
    const c = this.input[this.pos];
    this.width = 1;
    this.pos += 1;
    return c;
  }

  private backup(): void {
    this.pos -= this.width;
  }

  private peek(): string {
    return this.pos >= this.input.length ? EOF : this.input[this.pos];
  }

  private ignore(): void {
    this.start = this.pos;
  }

  private push(s: Exclude<State, null>): void {
    this.stack.push(s);
  }

  private pop(): State {
    const s = this.stack.pop();
    if (!s) return this.errorf('BUG in lexer: no states to pop.');
    return s;
  }

  private emit(type: TokenType): void {
    if (this.stringParts.length > 0) {
      this.emitString(type);
      return;
    }
    this.tokens.push({ type, value: this.input.slice(this.start, this.pos), offset: this.start });
    this.start = this.pos;
  }

  /** Emit a string token, joining decoded escape pieces with the remaining raw text. */
  private emitString(type: TokenType = 'string'): void {
    if (this.stringParts.length > 0) {
      this.stringParts.push(Buffer.from(this.input.slice(this.start, this.pos), 'utf8'));
      const value = Buffer.concat(this.stringParts).toString('utf8');
      this.tokens.push({ type, value, offset: this.stringPartsStart });
      this.stringParts = [];
      this.stringPartsStart = -1;
    } else {
      this.tokens.push({ type, value: this.input.slice(this.start, this.pos), offset: this.start });
    }
    this.start = this.pos;
  }

  private addCurrentStringPart(dropChars: number): void {
    if (this.stringParts.length === 0) this.stringPartsStart = this.start;
    this.stringParts.push(Buffer.from(this.input.slice(this.start, this.pos - dropChars), 'utf8'));
    this.start = this.pos;
  }

  private addStringPart(bytes: Buffer): State {
    if (this.stringParts.length === 0) this.stringPartsStart = this.start;
    this.stringParts.push(bytes);
    this.start = this.pos;
    return this.stringState;
  }

  private errorf(message: string): null {
    this.tokens.push({ type: 'error', value: message, offset: this.pos });
    return null;
  }

  private emitEofOrError(): State {
    if (this.pos > this.start) return this.errorf('Unexpected EOF.');
    this.emit('eof');
    return null;
  }

  // ---- top level ------------------------------------------------------------

  private lexTop(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexTop;
    }
    switch (r) {
      case '{':
        this.push(this.lexTop);
        this.ignore();
        return this.lexBlockStart;
      case '#':
        this.push(this.lexTop);
        return this.lexCommentStart;
      case '/':
        if (this.next() === '/') {
          this.push(this.lexTop);
          return this.lexCommentStart;
        }
        this.backup();
        return this.emitEofOrError();
      case EOF:
        return this.emitEofOrError();
    }
    this.backup();
    this.push(this.lexTopValueEnd);
    return this.lexKeyStart;
  }

  private lexTopValueEnd(): State {
    const r = this.next();
    if (r === '#') {
      this.push(this.lexTop);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexTop);
        return this.lexCommentStart;
      }
      this.backup();
      return this.lexTopValueEnd;
    }
    if (isWhitespace(r)) return this.lexTopValueEnd;
    if (isNL(r) || r === EOF || r === ';' || r === ',' || r === '}') {
      this.ignore();
      return this.lexTop;
    }
    return this.errorf(
      `Expected a top-level value to end with a new line, comment or EOF, but got '${showChar(r)}' instead.`,
    );
  }

  // ---- optional top-level { ... } ---------------------------------------------

  private lexBlockStart(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexBlockStart;
    }
    switch (r) {
      case '{':
        this.push(this.lexBlockEnd);
        this.ignore();
        return this.lexBlockStart;
      case '}':
        this.ignore();
        return this.pop();
      case '#':
        this.push(this.lexBlockStart);
        return this.lexCommentStart;
      case '/':
        if (this.next() === '/') {
          this.push(this.lexBlockStart);
          return this.lexCommentStart;
        }
        this.backup();
        return this.emitEofOrError();
      case EOF:
        return this.emitEofOrError();
    }
    this.backup();
    this.push(this.lexBlockValueEnd);
    return this.lexKeyStart;
  }

  private lexBlockValueEnd(): State {
    const r = this.next();
    if (r === '#') {
      this.push(this.lexBlockValueEnd);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexBlockValueEnd);
        return this.lexCommentStart;
      }
      this.backup();
      return this.lexBlockValueEnd;
    }
    if (isWhitespace(r)) return this.lexBlockValueEnd;
    if (isNL(r) || r === ';' || r === ',') {
      this.ignore();
      return this.lexBlockStart;
    }
    if (r === '}') {
      this.backup();
      return this.lexBlockEnd;
    }
    return this.errorf(
      `Expected a block-level value to end with a new line, comment or EOF, but got '${showChar(r)}' instead.`,
    );
  }

  private lexBlockEnd(): State {
    const r = this.next();
    if (r === '#') {
      this.push(this.lexBlockStart);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexBlockStart);
        return this.lexCommentStart;
      }
      this.backup();
      return this.lexBlockEnd;
    }
    if (isNL(r) || isWhitespace(r)) return this.lexBlockEnd;
    if (r === ';' || r === ',') {
      this.ignore();
      return this.lexBlockStart;
    }
    if (r === '}') {
      this.ignore();
      return this.pop();
    }
    return this.errorf(`Expected a block-level to end with a '}', but got '${showChar(r)}' instead.`);
  }

  // ---- keys -------------------------------------------------------------------

  private lexKeyStart(): State {
    const r = this.peek();
    if (isKeySeparator(r)) return this.errorf(`Unexpected key separator '${r}'`);
    if (isSpace(r)) {
      this.next();
      this.ignore();
      return this.lexKeyStart;
    }
    if (r === '"') {
      this.next();
      this.ignore();
      return this.lexDubQuotedKey;
    }
    if (r === "'") {
      this.next();
      this.ignore();
      return this.lexQuotedKey;
    }
    this.ignore();
    this.next();
    return this.lexKey;
  }

  private lexDubQuotedKey(): State {
    return this.quotedKey('"', this.lexDubQuotedKey);
  }

  private lexQuotedKey(): State {
    return this.quotedKey("'", this.lexQuotedKey);
  }

  private quotedKey(quote: string, self: Exclude<State, null>): State {
    const r = this.peek();
    if (r === quote) {
      this.emit('key');
      this.next();
      this.ignore();
      return this.lexKeyEnd;
    }
    if (r === EOF) return this.emitEofOrError();
    this.next();
    return self;
  }

  /** A key followed by a space may be the `include` keyword. */
  private keyCheckKeyword(fallThrough: Exclude<State, null>, pushAfterInclude: State): State {
    const key = this.input.slice(this.start, this.pos).toLowerCase();
    if (key === 'include') {
      this.ignore();
      if (pushAfterInclude) this.push(pushAfterInclude);
      return this.lexIncludeStart;
    }
    this.emit('key');
    return fallThrough;
  }

  private lexKey(): State {
    const r = this.peek();
    if (isSpace(r)) return this.keyCheckKeyword(this.lexKeyEnd, null);
    if (isKeySeparator(r) || r === EOF) {
      this.emit('key');
      return this.lexKeyEnd;
    }
    this.next();
    return this.lexKey;
  }

  private lexKeyEnd(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexKeyEnd;
    }
    if (isKeySeparator(r)) {
      this.ignore();
      return this.lexValue;
    }
    if (r === EOF) {
      this.emit('eof');
      return null;
    }
    this.backup();
    return this.lexValue;
  }

  // ---- include ------------------------------------------------------------------

  private lexIncludeStart(): State {
    const r = this.next();
    if (isWhitespace(r)) {
      this.ignore();
      return this.lexIncludeStart;
    }
    this.backup();
    return this.lexInclude;
  }

  private lexInclude(): State {
    const r = this.next();
    if (r === "'") {
      this.ignore();
      return this.lexIncludeQuotedString;
    }
    if (r === '"') {
      this.ignore();
      return this.lexIncludeDubQuotedString;
    }
    if (r === '[') return this.errorf('Expected include value but found start of an array');
    if (r === '{') return this.errorf('Expected include value but found start of a map');
    if (r === '(') return this.errorf('Expected include value but found start of a block');
    if (isDigit(r) || r === '-') return this.errorf('Expected include value but found start of a number');
    if (r === '\\') return this.errorf('Expected include value but found escape sequence');
    if (isNL(r)) return this.errorf('Expected include value but found new line');
    this.backup();
    return this.lexIncludeString;
  }

  private lexIncludeQuotedString(): State {
    return this.includeQuoted("'", 'Unexpected EOF in quoted include', this.lexIncludeQuotedString);
  }

  private lexIncludeDubQuotedString(): State {
    return this.includeQuoted('"', 'Unexpected EOF in double quoted include', this.lexIncludeDubQuotedString);
  }

  private includeQuoted(quote: string, eofMessage: string, self: Exclude<State, null>): State {
    const r = this.next();
    if (r === quote) {
      this.backup();
      this.emit('include');
      this.next();
      this.ignore();
      return this.pop();
    }
    if (r === EOF) return this.errorf(eofMessage);
    return self;
  }

  private lexIncludeString(): State {
    const r = this.next();
    if (isNL(r) || r === EOF || r === ';' || r === '}' || isWhitespace(r)) {
      this.backup();
      this.emit('include');
      return this.pop();
    }
    if (r === "'") {
      this.backup();
      this.emit('include');
      this.next();
      this.ignore();
      return this.pop();
    }
    return this.lexIncludeString;
  }

  // ---- values -----------------------------------------------------------------

  private lexValue(): State {
    const r = this.next();
    if (isWhitespace(r)) {
      this.ignore();
      return this.lexValue;
    }
    if (r === '[') {
      this.ignore();
      this.emit('arrayStart');
      return this.lexArrayValue;
    }
    if (r === '{') {
      this.ignore();
      this.emit('mapStart');
      return this.lexMapKeyStart;
    }
    if (r === "'") {
      this.ignore();
      return this.lexQuotedString;
    }
    if (r === '"') {
      this.ignore();
      this.stringState = this.lexDubQuotedString;
      return this.lexDubQuotedString;
    }
    if (r === '-') return this.lexNegNumberStart;
    if (r === '(') {
      this.ignore();
      return this.lexBlock;
    }
    if (isDigit(r)) {
      this.backup();
      return this.lexNumberOrDateOrStringOrIPStart;
    }
    if (r === '.') return this.errorf('Floats must start with a digit');
    if (isNL(r)) return this.errorf('Expected value but found new line');
    this.backup();
    this.stringState = this.lexString;
    return this.lexString;
  }

  // ---- arrays ---------------------------------------------------------------------

  private lexArrayValue(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexArrayValue;
    }
    if (r === '#') {
      this.push(this.lexArrayValue);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexArrayValue);
        return this.lexCommentStart;
      }
      this.backup();
      return this.errorf("Unexpected array value terminator ','.");
    }
    if (r === ',') return this.errorf("Unexpected array value terminator ','.");
    if (r === ']') return this.lexArrayEnd;
    this.backup();
    this.push(this.lexArrayValueEnd);
    return this.lexValue;
  }

  private lexArrayValueEnd(): State {
    const r = this.next();
    if (isWhitespace(r)) {
      this.ignore();
      return this.lexArrayValueEnd;
    }
    if (r === '#') {
      this.push(this.lexArrayValueEnd);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexArrayValueEnd);
        return this.lexCommentStart;
      }
      this.backup();
      this.ignore();
      return this.lexArrayValue;
    }
    if (r === ',' || isNL(r)) {
      this.ignore();
      return this.lexArrayValue;
    }
    if (r === ']') return this.lexArrayEnd;
    return this.errorf(
      `Expected an array value terminator ',' or an array terminator ']', but got '${showChar(r)}' instead.`,
    );
  }

  private lexArrayEnd(): State {
    this.ignore();
    this.emit('arrayEnd');
    return this.pop();
  }

  // ---- maps -----------------------------------------------------------------------

  private lexMapKeyStart(): State {
    const r = this.peek();
    if (isKeySeparator(r)) return this.errorf(`Unexpected key separator '${r}'.`);
    if (r === ']') return this.errorf(`Unexpected array end '${r}' processing map.`);
    if (isSpace(r)) {
      this.next();
      this.ignore();
      return this.lexMapKeyStart;
    }
    if (r === '}') {
      this.next();
      this.ignore();
      return this.lexMapEnd;
    }
    if (r === '#') {
      this.next();
      this.push(this.lexMapKeyStart);
      return this.lexCommentStart;
    }
    if (r === '/') {
      this.next();
      if (this.next() === '/') {
        this.push(this.lexMapKeyStart);
        return this.lexCommentStart;
      }
      // nats-server drops a lone '/' in front of a map key; so do we.
      this.backup();
    } else if (r === "'") {
      this.next();
      this.ignore();
      return this.lexMapQuotedKey;
    } else if (r === '"') {
      this.next();
      this.ignore();
      return this.lexMapDubQuotedKey;
    } else if (r === EOF) {
      return this.errorf('Unexpected EOF processing map.');
    }
    this.ignore();
    this.next();
    return this.lexMapKey;
  }

  private lexMapQuotedKey(): State {
    const r = this.peek();
    if (r === EOF) return this.errorf('Unexpected EOF processing quoted map key.');
    if (r === "'") {
      this.emit('key');
      this.next();
      this.ignore();
      return this.lexMapKeyEnd;
    }
    this.next();
    return this.lexMapQuotedKey;
  }

  private lexMapDubQuotedKey(): State {
    const r = this.peek();
    if (r === EOF) return this.errorf('Unexpected EOF processing double quoted map key.');
    if (r === '"') {
      this.emit('key');
      this.next();
      this.ignore();
      return this.lexMapKeyEnd;
    }
    this.next();
    return this.lexMapDubQuotedKey;
  }

  private lexMapKey(): State {
    const r = this.peek();
    if (r === EOF) return this.errorf('Unexpected EOF processing map key.');
    if (isSpace(r)) return this.keyCheckKeyword(this.lexMapKeyEnd, this.lexMapValueEnd);
    if (isKeySeparator(r)) {
      this.emit('key');
      return this.lexMapKeyEnd;
    }
    this.next();
    return this.lexMapKey;
  }

  private lexMapKeyEnd(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexMapKeyEnd;
    }
    if (isKeySeparator(r)) {
      this.ignore();
      return this.lexMapValue;
    }
    this.backup();
    return this.lexMapValue;
  }

  private lexMapValue(): State {
    const r = this.next();
    if (isSpace(r)) {
      this.ignore();
      return this.lexMapValue;
    }
    if (r === ',') return this.errorf("Unexpected map value terminator ','.");
    if (r === '}') {
      this.ignore();
      return this.lexMapEnd;
    }
    this.backup();
    this.push(this.lexMapValueEnd);
    return this.lexValue;
  }

  private lexMapValueEnd(): State {
    const r = this.next();
    if (isWhitespace(r)) {
      this.ignore();
      return this.lexMapValueEnd;
    }
    if (r === '#') {
      this.push(this.lexMapValueEnd);
      return this.lexCommentStart;
    }
    if (r === '/') {
      if (this.next() === '/') {
        this.push(this.lexMapValueEnd);
        return this.lexCommentStart;
      }
      this.backup();
      this.ignore();
      return this.lexMapKeyStart;
    }
    if (r === ';' || r === ',' || isNL(r)) {
      this.ignore();
      return this.lexMapKeyStart;
    }
    if (r === '}') {
      this.ignore();
      return this.lexMapEnd;
    }
    return this.errorf(
      `Expected a map value terminator ',' or a map terminator '}', but got '${showChar(r)}' instead.`,
    );
  }

  private lexMapEnd(): State {
    this.ignore();
    this.emit('mapEnd');
    return this.pop();
  }

  // ---- strings ----------------------------------------------------------------------

  private isBool(): boolean {
    const s = this.input.slice(this.start, this.pos).toLowerCase();
    return s === 'true' || s === 'false' || s === 'on' || s === 'off' || s === 'yes' || s === 'no';
  }

  private isVariable(): boolean {
    if (this.start >= this.input.length) return false;
    if (this.input[this.start] === '$') {
      this.start += 1;
      return true;
    }
    return false;
  }

  /** single-quoted: no escapes, may span lines */
  private lexQuotedString(): State {
    const r = this.next();
    if (r === "'") {
      this.backup();
      this.emit('string');
      this.next();
      this.ignore();
      return this.pop();
    }
    if (r === EOF) return this.emitEofOrError();
    return this.lexQuotedString;
  }

  private lexDubQuotedString(): State {
    const r = this.next();
    if (r === '\\') {
      this.addCurrentStringPart(1);
      return this.lexStringEscape;
    }
    if (r === '"') {
      this.backup();
      this.emitString();
      this.next();
      this.ignore();
      return this.pop();
    }
    if (r === EOF) return this.emitEofOrError();
    return this.lexDubQuotedString;
  }

  /** unquoted string: may turn out to be a boolean or a $variable */
  private lexString(): State {
    const r = this.next();
    if (r === '\\') {
      this.addCurrentStringPart(1);
      return this.lexStringEscape;
    }
    if (isNL(r) || r === EOF || r === ';' || r === ',' || r === ']' || r === '}' || isWhitespace(r)) {
      this.backup();
      if (this.stringParts.length > 0) {
        this.emitString();
      } else if (this.isBool()) {
        this.emit('bool');
      } else if (this.isVariable()) {
        this.emit('variable');
      } else {
        this.emitString();
      }
      return this.pop();
    }
    if (r === "'") {
      this.backup();
      this.emitString();
      this.next();
      this.ignore();
      return this.pop();
    }
    return this.lexString;
  }

  /** `key (` raw text `)`: ends at a ')' standing alone on its own line */
  private lexBlock(): State {
    const r = this.next();
    if (r === ')') {
      const closeAt = this.pos - 1;
      const prev = closeAt > 0 ? this.input[closeAt - 1] : EOF;
      const after = this.peek();
      if (prev === '\n' && (after === '\n' || after === EOF)) {
        this.tokens.push({ type: 'string', value: this.input.slice(this.start, closeAt), offset: this.start });
        this.ignore();
        return this.pop();
      }
    } else if (r === EOF) {
      return this.errorf('Unexpected EOF processing block.');
    }
    return this.lexBlock;
  }

  private lexStringEscape(): State {
    const r = this.next();
    switch (r) {
      case 'x':
        return this.lexStringBinary;
      case 't':
        return this.addStringPart(Buffer.from('\t'));
      case 'n':
        return this.addStringPart(Buffer.from('\n'));
      case 'r':
        return this.addStringPart(Buffer.from('\r'));
      case '"':
        return this.addStringPart(Buffer.from('"'));
      case '\\':
        return this.addStringPart(Buffer.from('\\'));
    }
    return this.errorf(
      `Invalid escape character '${showChar(r)}'. Only the following escape characters are allowed: ` +
        '\\xXX, \\t, \\n, \\r, \\", \\\\.',
    );
  }

  private lexStringBinary(): State {
    const endOfLine = "Expected two hexadecimal digits after '\\x', but hit end of line";
    if (isNL(this.next())) return this.errorf(endOfLine);
    if (isNL(this.next())) return this.errorf(endOfLine);
    const hex = this.input.slice(this.pos - 2, this.pos);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
      return this.errorf(`Expected two hexadecimal digits after '\\x', but got '${hex}'`);
    }
    this.addStringPart(Buffer.from(hex, 'hex'));
    return this.stringState;
  }

  // ---- numbers, dates, IPs ----------------------------------------------------------

  private lexNumberOrDateOrStringOrIPStart(): State {
    const r = this.next();
    if (!isDigit(r)) {
      if (r === '.') return this.errorf("Floats must start with a digit, not '.'.");
      return this.errorf(`Expected a digit but got '${showChar(r)}'.`);
    }
    return this.lexNumberOrDateOrStringOrIP;
  }

  private lexNumberOrDateOrStringOrIP(): State {
    const r = this.next();
    if (r === '-') {
      if (this.pos - this.start !== 5) return this.errorf('All ISO8601 dates must be in full Zulu form.');
      return this.lexDateAfterYear;
    }
    if (isDigit(r)) return this.lexNumberOrDateOrStringOrIP;
    if (r === '.') return this.lexFloatStart;
    if (isNumberSuffix(r)) return this.lexConvenientNumber;
    if (!endsNumber(r)) {
      // Not a number after all (e.g. "3xyz"): it is a bare string.
      this.stringState = this.lexString;
      return this.lexString;
    }
    this.backup();
    this.emit('integer');
    return this.pop();
  }

  /** after a size suffix letter: "1k", "1Mb", "2GiB" */
  private lexConvenientNumber(): State {
    const r = this.next();
    if (r === 'b' || r === 'B' || r === 'i' || r === 'I') return this.lexConvenientNumber;
    this.backup();
    if (endsNumber(r) || isDigit(r)) {
      this.emit('integer');
      return this.pop();
    }
    this.stringState = this.lexString;
    return this.lexString;
  }

  private lexDateAfterYear(): State {
    const format = '00-00T00:00:00Z';
    for (const f of format) {
      const r = this.next();
      if (f === '0') {
        if (!isDigit(r)) {
          return this.errorf(`Expected digit in ISO8601 datetime, but found '${showChar(r)}' instead.`);
        }
      } else if (f !== r) {
        return this.errorf(`Expected '${f}' in ISO8601 datetime, but found '${showChar(r)}' instead.`);
      }
    }
    this.emit('datetime');
    return this.pop();
  }

  private lexNegNumberStart(): State {
    const r = this.next();
    if (!isDigit(r)) {
      if (r === '.') return this.errorf("Floats must start with a digit, not '.'.");
      return this.errorf(`Expected a digit but got '${showChar(r)}'.`);
    }
    return this.lexNegNumber;
  }

  private lexNegNumber(): State {
    const r = this.next();
    if (isDigit(r)) return this.lexNegNumber;
    if (r === '.') return this.lexFloatStart;
    if (isNumberSuffix(r)) return this.lexConvenientNumber;
    this.backup();
    this.emit('integer');
    return this.pop();
  }

  private lexFloatStart(): State {
    const r = this.next();
    if (!isDigit(r)) {
      return this.errorf(`Floats must have a digit after the '.', but got '${showChar(r)}' instead.`);
    }
    return this.lexFloat;
  }

  private lexFloat(): State {
    const r = this.next();
    if (isDigit(r)) return this.lexFloat;
    // A second '.' means this was an IP address, not a float.
    if (r === '.') return this.lexIPAddr;
    this.backup();
    this.emit('float');
    return this.pop();
  }

  /** "127.0.0.1", "127.0.0.1:4222", "0.0.0.0:-1" lex as strings */
  private lexIPAddr(): State {
    const r = this.next();
    if (isDigit(r) || r === '.' || r === ':' || r === '-') return this.lexIPAddr;
    this.backup();
    this.emit('string');
    return this.pop();
  }

  // ---- comments -------------------------------------------------------------------

  private lexCommentStart(): State {
    this.ignore();
    return this.lexComment;
  }

  private lexComment(): State {
    const r = this.peek();
    if (isNL(r) || r === EOF) {
      this.ignore();
      return this.pop();
    }
    this.next();
    return this.lexComment;
  }
}

/**
 * Line (1-based) and column of offsets, as nats-server reports them: the
 * column counts from the newline that ends the previous line, so it is 0-based
 * on line 1 and 1-based on later lines ("file.conf:1:0", "file.conf:2:1").
 */
export class LineIndex {
  /** offsets of every '\n' in the input */
  private readonly newlines: number[] = [];

  constructor(private readonly input: string) {
    for (let i = input.indexOf('\n'); i >= 0; i = input.indexOf('\n', i + 1)) this.newlines.push(i);
  }

  at(offset: number): { line: number; col: number } {
    const end = Math.min(offset, this.input.length);
    // number of newlines strictly before `end`
    let lo = 0;
    let hi = this.newlines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.newlines[mid] < end) lo = mid + 1;
      else hi = mid;
    }
    const lineStart = lo === 0 ? 0 : this.newlines[lo - 1];
    return { line: lo + 1, col: offset - lineStart };
  }
}

/** One-off form of LineIndex.at. */
export function lineCol(input: string, offset: number): { line: number; col: number } {
  return new LineIndex(input).at(offset);
}
