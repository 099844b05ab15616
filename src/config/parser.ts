// Parser for the nats-server configuration format: turns the lexer's tokens
// into a tree of ConfNodes (maps, arrays and scalars), resolving $variables and
// `include` directives. Semantics follow nats-server's conf/parse.go:
//
//  - integers carry size suffixes (k=1000, kb/ki/kib=1024, m, mb, g, gb, ... e, eb);
//  - $NAME looks in the enclosing maps (inner to outer), then the environment,
//    whose value is parsed again as a config value; "$2a$..." is a bcrypt hash;
//  - `include file` parses the file (relative to the including file) on its own
//    and merges its top-level keys into the current map;
//  - a duplicate key replaces the earlier value.
//
// Every node remembers file, line and column (for a map entry: those of its key),
// so later checks can report errors as `<file>:<line>:<col>: <message>`.

import { readFileSync } from 'node:fs';
import { dirname, join, isAbsolute } from 'node:path';
import { Lexer, LineIndex, type Token } from './lexer.js';

export type ConfKind = 'string' | 'integer' | 'float' | 'bool' | 'datetime' | 'array' | 'map';

export type ConfMap = Map<string, ConfNode>;

export type ConfNode =
  | ConfNodeOf<'string', string>
  | ConfNodeOf<'integer', number>
  | ConfNodeOf<'float', number>
  | ConfNodeOf<'bool', boolean>
  | ConfNodeOf<'datetime', Date>
  | ConfNodeOf<'array', ConfNode[]>
  | ConfNodeOf<'map', ConfMap>;

export interface ConfNodeOf<K extends ConfKind, V> {
  kind: K;
  value: V;
  file: string;
  line: number;
  col: number;
  /** set on a definition when some $reference used it (nats-server then accepts it as an unknown key) */
  usedAsVariable: boolean;
}

/** A configuration error located in a file: message reads `<file>:<line>:<col>: <reason>`. */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly reason: string;
  /** every error found in one load, in file order (this error is the first) */
  errors: ConfigError[];

  constructor(file: string, line: number, col: number, reason: string) {
    // line 0: the error concerns the file as a whole (e.g. it cannot be opened)
    super(line > 0 ? `${file}:${line}:${col}: ${reason}` : reason);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    this.col = col;
    this.reason = reason;
    this.errors = [this];
  }

  static at(node: { file: string; line: number; col: number }, reason: string): ConfigError {
    return new ConfigError(node.file, node.line, node.col, reason);
  }
}

/** Multiplier of an integer size suffix (case-insensitive), per nats-server. */
const SIZE_SUFFIXES: Record<string, bigint> = (() => {
  const out: Record<string, bigint> = { '': 1n };
  const letters = ['k', 'm', 'g', 't', 'p', 'e'];
  letters.forEach((l, i) => {
    const n = BigInt(i + 1);
    out[l] = 1000n ** n;
    for (const s of ['b', 'i', 'ib']) out[l + s] = 1024n ** n;
  });
  return out;
})();

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

const ENV_KEY = 'pk';
const BCRYPT_PREFIX = '2a$';

interface PendingKey {
  name: string;
  file: string;
  line: number;
  col: number;
}

interface Frame {
  container: ConfMap | ConfNode[];
  file: string;
  line: number;
  col: number;
}

class Parser {
  private readonly frames: Frame[] = [];
  private readonly keys: PendingKey[] = [];
  private readonly lines: LineIndex;
  readonly root: ConfMap = new Map();

  constructor(
    private readonly text: string,
    /** file name used in positions ('' for text without a file) */
    private readonly file: string,
    /** names of environment variables being expanded (cycle detection, shared with sub-parsers) */
    private readonly envRefs: Set<string>,
  ) {
    this.lines = new LineIndex(text);
  }

  private pos(offset: number): { file: string; line: number; col: number } {
    const { line, col } = this.lines.at(offset);
    return { file: this.file, line, col };
  }

  private fail(offset: number, reason: string): never {
    const p = this.pos(offset);
    throw new ConfigError(p.file, p.line, p.col, reason);
  }

  run(): ConfMap {
    this.frames.push({ container: this.root, file: this.file, line: 1, col: 0 });
    const tokens = Lexer.tokenize(this.text);
    let prev: Token | undefined;
    for (const tok of tokens) {
      if (tok.type === 'eof') {
        // A trailing '}' lexes as a key; it is allowed so that JSON-like files parse.
        if (prev && prev.type === 'key' && prev.value !== '}') {
          this.fail(this.text.length, 'config is invalid');
        }
        break;
      }
      prev = tok;
      this.process(tok);
    }
    return this.root;
  }

  private process(tok: Token): void {
    const p = this.pos(tok.offset);
    switch (tok.type) {
      case 'error':
        this.fail(tok.offset, tok.value);
        break;
      case 'key':
        this.keys.push({ name: tok.value, ...p });
        break;
      case 'mapStart':
        this.frames.push({ container: new Map(), ...p });
        break;
      case 'mapEnd': {
        const f = this.frames.pop()!;
        this.setValue({ kind: 'map', value: f.container as ConfMap, file: f.file, line: f.line, col: f.col, usedAsVariable: false });
        break;
      }
      case 'arrayStart':
        this.frames.push({ container: [], ...p });
        break;
      case 'arrayEnd': {
        const f = this.frames.pop()!;
        this.setValue({ kind: 'array', value: f.container as ConfNode[], file: f.file, line: f.line, col: f.col, usedAsVariable: false });
        break;
      }
      case 'string':
        this.setValue({ kind: 'string', value: tok.value, ...p, usedAsVariable: false });
        break;
      case 'bool':
        this.setValue({ kind: 'bool', value: ['true', 'yes', 'on'].includes(tok.value.toLowerCase()), ...p, usedAsVariable: false });
        break;
      case 'integer':
        this.setValue({ kind: 'integer', value: this.parseInteger(tok), ...p, usedAsVariable: false });
        break;
      case 'float': {
        const v = Number(tok.value);
        if (!Number.isFinite(v)) this.fail(tok.offset, `float '${tok.value}' is out of the range`);
        this.setValue({ kind: 'float', value: v, ...p, usedAsVariable: false });
        break;
      }
      case 'datetime': {
        const d = new Date(tok.value);
        if (Number.isNaN(d.getTime())) this.fail(tok.offset, `expected Zulu formatted DateTime, but got '${tok.value}'`);
        this.setValue({ kind: 'datetime', value: d, ...p, usedAsVariable: false });
        break;
      }
      case 'variable':
        // the token starts after the '$'; report the reference at the '$'
        this.setValue(this.resolveVariable({ ...tok, offset: tok.offset - 1 }, this.pos(tok.offset - 1)));
        break;
      case 'include':
        this.include(tok);
        break;
      default:
        break;
    }
  }

  private parseInteger(tok: Token): number {
    const text = tok.value;
    let digits = 0;
    while (digits < text.length && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] === '-')) digits++;
    const numText = text.slice(0, digits);
    if (!/^-?[0-9]+$/.test(numText)) this.fail(tok.offset, `expected integer, but got '${text}'`);
    const suffix = text.slice(digits).trim().toLowerCase();
    const mult = SIZE_SUFFIXES[suffix];
    // nats-server silently drops a value with an unknown suffix ("1kbb"); we refuse it instead.
    if (mult === undefined) this.fail(tok.offset, `expected integer, but got '${text}'`);
    const n = BigInt(numText);
    if (n > INT64_MAX || n < INT64_MIN) this.fail(tok.offset, `integer '${text}' is out of the range`);
    const v = n * mult;
    if (v > INT64_MAX || v < INT64_MIN) this.fail(tok.offset, `integer '${text}' is out of the range`);
    return Number(v);
  }

  private setValue(node: ConfNode): void {
    const frame = this.frames[this.frames.length - 1];
    if (Array.isArray(frame.container)) {
      frame.container.push(node);
      return;
    }
    const key = this.keys.pop();
    if (!key) this.fail(this.text.length, 'config is invalid');
    // A map entry is reported at its key: more useful in messages.
    node.file = key.file;
    node.line = key.line;
    node.col = key.col;
    frame.container.delete(key.name);
    frame.container.set(key.name, node);
  }

  private resolveVariable(tok: Token, at: { file: string; line: number; col: number }): ConfNode {
    const name = tok.value;
    const lineNo = at.line;
    if (name.startsWith(BCRYPT_PREFIX)) {
      return { kind: 'string', value: '$' + name, ...at, usedAsVariable: false };
    }
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const c = this.frames[i].container;
      if (c instanceof Map) {
        const def = c.get(name);
        if (def) {
          def.usedAsVariable = true;
          return { ...def, ...at, usedAsVariable: false } as ConfNode;
        }
      }
    }
    if (this.envRefs.has(name)) {
      this.fail(tok.offset, `variable reference for '${name}' on line ${lineNo} could not be parsed: variable reference cycle for '${name}'`);
    }
    const envValue = process.env[name];
    if (envValue === undefined) {
      this.fail(tok.offset, `variable reference for '${name}' on line ${lineNo} can not be found`);
    }
    // The environment value is parsed as the value of a one-line config ("pk=<value>"),
    // so PORT=4222 gives an integer and SIZE=2MB a size.
    let parsed: ConfNode | undefined;
    this.envRefs.add(name);
    try {
      parsed = new Parser(`${ENV_KEY}=${envValue}`, '', this.envRefs).run().get(ENV_KEY);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.fail(tok.offset, `variable reference for '${name}' on line ${lineNo} could not be parsed: ${e.reason}`);
    } finally {
      this.envRefs.delete(name);
    }
    if (!parsed) this.fail(tok.offset, `variable reference for '${name}' on line ${lineNo} can not be found`);
    return restamp(parsed, at);
  }

  private include(tok: Token): void {
    const base = this.file === '' ? '.' : dirname(this.file);
    const target = isAbsolute(tok.value) ? tok.value : join(base, tok.value);
    let text: string;
    try {
      text = readConfigText(target);
    } catch (e) {
      this.fail(tok.offset, `error parsing include file '${tok.value}', ${(e as Error).message}`);
    }
    const included = new Parser(text, target, this.envRefs).run();
    const into = this.frames[this.frames.length - 1].container as ConfMap;
    for (const [k, v] of included) {
      into.delete(k);
      into.set(k, v);
    }
  }
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'ENOENT' ? 'no such file or directory'
        : err.code === 'EACCES' ? 'permission denied'
          : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new Error(`error opening config file: open ${file}: ${reason}`);
  }
}

/** Copy a node tree, giving every node the given position (values that came from an env variable). */
function restamp(node: ConfNode, at: { file: string; line: number; col: number }): ConfNode {
  if (node.kind === 'map') {
    const m: ConfMap = new Map();
    for (const [k, v] of node.value) m.set(k, restamp(v, at));
    return { ...node, ...at, value: m };
  }
  if (node.kind === 'array') {
    return { ...node, ...at, value: node.value.map((v) => restamp(v, at)) };
  }
  return { ...node, ...at } as ConfNode;
}

/** Parse configuration text. `file` is used in error positions and to resolve includes. */
export function parseConfigText(text: string, file = '', envRefs: Set<string> = new Set()): ConfMap {
  return new Parser(text, file, envRefs).run();
}

/** Read and parse a configuration file (includes are relative to its directory). */
export function parseConfigFile(file: string, envRefs: Set<string> = new Set()): ConfMap {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (e) {
    throw new ConfigError(file, 0, 0, (e as Error).message);
  }
  return new Parser(text, file, envRefs).run();
}

/** Plain JavaScript value of a node tree (maps become objects, datetimes Dates). */
export function toPlain(node: ConfNode | ConfMap): unknown {
  if (node instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of node) o[k] = toPlain(v);
    return o;
  }
  if (node.kind === 'map') return toPlain(node.value);
  if (node.kind === 'array') return node.value.map((v) => toPlain(v));
  return node.value;
}
