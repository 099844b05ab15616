// The nats-server config grammar: separators, comments, strings, numbers,
// arrays/maps, variables, includes, error positions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText, parseConfigFile, toPlain, ConfigError } from '../../src/config/parser.js';

function parse(text: string): unknown {
  return toPlain(parseConfigText(text, 't.conf'));
}

function parseError(text: string): ConfigError {
  try {
    parseConfigText(text, 't.conf');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail(`expected an error for ${JSON.stringify(text)}`);
}

test('key/value separators and entry separators', () => {
  assert.deepEqual(parse("foo='1'; bar=2.2; baz=true; boo=22"), { foo: '1', bar: 2.2, baz: true, boo: 22 });
  assert.deepEqual(parse('a = 1\nb: 2\nc 3\nd=4, e:5; f 6'), { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 });
  // a key separated from its value by a newline still takes it
  assert.deepEqual(parse('port\n4222'), { port: 4222 });
  // quoted keys
  assert.deepEqual(parse('"my key" = 1\n\'other\': 2'), { 'my key': 1, other: 2 });
});

test('comments everywhere', () => {
  const text = `
# hash comment
// slash comment
a = 1 # after a value
b = 2 // after a value
m {
  # inside a map
  x: 1 // after a map value
}
arr [
  1 # after an element
  // between elements
  2
]
`;
  assert.deepEqual(parse(text), { a: 1, b: 2, m: { x: 1 }, arr: [1, 2] });
});

test('optional top-level braces and a trailing brace', () => {
  assert.deepEqual(parse('{ listen: 0.0.0.0:4222 }'), { listen: '0.0.0.0:4222' });
  assert.deepEqual(parse('{\n  listen: 0.0.0.0:4222\n}\n# trailing'), { listen: '0.0.0.0:4222' });
  assert.deepEqual(parse('{\n {\n  listen: 0.0.0.0:4222 // c\n }\n # x\n}\n'), { listen: '0.0.0.0:4222' });
  assert.deepEqual(parse('{}'), {});
  assert.deepEqual(parse('accounts { users = [{}]}\n}\n'), { accounts: { users: [{}] } });
  assert.deepEqual(parse('{\n  "debug": False\n  "prof_port": 8221\n}'), { debug: false, prof_port: 8221 });
});

test('maps and arrays nest, with comma or newline separators, trailing comma tolerated', () => {
  const text = `
foo {
  host { ip = '127.0.0.1', port = 4242 }
  servers = [ "a.com", "b.com", "c.com", ]
}
array [
  { abc: 123 }
  { xyz: "word" }
]
nested: [[1, 2 ], [ "x" ] ]
`;
  assert.deepEqual(parse(text), {
    foo: { host: { ip: '127.0.0.1', port: 4242 }, servers: ['a.com', 'b.com', 'c.com'] },
    array: [{ abc: 123 }, { xyz: 'word' }],
    nested: [[1, 2], ['x']],
  });
  assert.deepEqual(parse('m = { a: 1 }\nn { b: 2 }'), { m: { a: 1 }, n: { b: 2 } });
});

test('strings: bare, double-quoted with escapes, single-quoted raw', () => {
  assert.deepEqual(parse('a: hello\nb: "x\\ty\\nz\\r\\"q\\\\"\nc: \'no \\t escapes\''), {
    a: 'hello', b: 'x\ty\nz\r"q\\', c: 'no \\t escapes',
  });
  // \xHH is a byte; two of them form one UTF-8 character
  assert.deepEqual(parse('a: "\\x41\\xc3\\xa9"'), { a: 'Aé' });
  // single quotes may span lines
  assert.deepEqual(parse("t = 'line one\nline two'"), { t: 'line one\nline two' });
  // quoted "$X" is literal
  assert.deepEqual(parse('a: "$NOT_A_VAR"'), { a: '$NOT_A_VAR' });
  // a bare string starting with digits
  assert.deepEqual(parse('foo = 3xyz'), { foo: '3xyz' });
  assert.deepEqual(parse('foo = 3Gyz'), { foo: '3Gyz' });
});

test('invalid escapes are errors naming the character', () => {
  const e = parseError('name: "a\\qb"');
  assert.match(e.message, /^t\.conf:1:\d+: Invalid escape character 'q'\. Only the following escape characters are allowed/);
  assert.match(parseError('a: "\\xZZ"').message, /Expected two hexadecimal digits after '\\x', but got 'ZZ'/);
});

test('multi-line raw block ends at a ) alone on its line', () => {
  assert.deepEqual(parse('a (\nline1 ) not the end\nline2\n)\nb: 2'), { a: '\nline1 ) not the end\nline2\n', b: 2 });
  assert.match(parseError('a (\nnever closed').message, /Unexpected EOF processing block\./);
});

test('booleans in any case; quoted booleans are strings', () => {
  for (const t of ['true', 'TRUE', 'yes', 'on', 'On']) assert.deepEqual(parse(`foo=${t}`), { foo: true });
  for (const f of ['false', 'no', 'off', 'OFF']) assert.deepEqual(parse(`foo=${f}`), { foo: false });
  assert.deepEqual(parse('foo="true"'), { foo: 'true' });
});

test('integers with size suffixes', () => {
  const text = `
k = 8k
kb = 4kb
ki = 3ki
kib = 4KiB
m = 1m
mb = 2MB
mi = 2Mi
mib = 64MiB
g = 2g
gb = 22GB
gi = 22Gi
t = 1t
tb = 1TB
p = 1p
pb = 1PB
e = 1e
neg = -1m
negb = -1GB
plain = -123
`;
  assert.deepEqual(parse(text), {
    k: 8000, kb: 4096, ki: 3072, kib: 4096, m: 1_000_000, mb: 2 * 1024 ** 2, mi: 2 * 1024 ** 2,
    mib: 64 * 1024 ** 2, g: 2e9, gb: 22 * 1024 ** 3, gi: 22 * 1024 ** 3, t: 1e12, tb: 1024 ** 4,
    p: 1e15, pb: 1024 ** 5, e: 1e18, neg: -1_000_000, negb: -(1024 ** 3), plain: -123,
  });
  assert.match(parseError('a: 99999999999999999999').message, /integer '99999999999999999999' is out of the range/);
  assert.match(parseError('a: 10e').message, /integer '10e' is out of the range/);
});

test('floats, datetimes, IP addresses and host:port', () => {
  assert.deepEqual(parse('f: 1.5\nneg: -0.25'), { f: 1.5, neg: -0.25 });
  const dt = parse('now = 2016-05-04T18:53:41Z') as { now: Date };
  assert.equal(dt.now.toISOString(), '2016-05-04T18:53:41.000Z');
  assert.deepEqual(parse('ip: 127.0.0.1\nlisten: 127.0.0.1:4222\nrnd: 0.0.0.0:-1\nh: localhost:4222'), {
    ip: '127.0.0.1', listen: '127.0.0.1:4222', rnd: '0.0.0.0:-1', h: 'localhost:4222',
  });
  assert.match(parseError('a: .5').message, /Floats must start with a digit/);
  assert.match(parseError('a: 1.x').message, /Floats must have a digit after the '\.', but got 'x' instead\./);
  assert.match(parseError('a: 2016-05-04').message, /Expected 'T' in ISO8601 datetime/);
  assert.match(parseError('a: 201-05-04T00:00:00Z').message, /All ISO8601 dates must be in full Zulu form\./);
});

test('duplicate keys: the last one wins', () => {
  assert.deepEqual(parse('port: 1\nport: 2'), { port: 2 });
  assert.deepEqual(parse('m { a: 1 }\nm { b: 2 }'), { m: { b: 2 } });
});

test('variables resolve inner block first, then outer, then environment', () => {
  assert.deepEqual(parse('index = 22\nfoo = $index'), { index: 22, foo: 22 });
  assert.deepEqual(parse('index = 22\nnest {\n  index = 11\n  foo = $index\n}\nbar = $index'), {
    index: 22, nest: { index: 11, foo: 11 }, bar: 22,
  });
  // variables may hold maps and arrays
  assert.deepEqual(parse('M { a: 1 }\nx: $M\nA [1, 2 ]\ny: $A'), { M: { a: 1 }, x: { a: 1 }, A: [1, 2], y: [1, 2] });
  // bcrypt hashes are literals, not variables
  assert.deepEqual(parse('password: $2a$11$ooo'), { password: '$2a$11$ooo' });
});

test('environment variables are parsed again as values', (t) => {
  const names = ['TSNATS_T_INT', 'TSNATS_T_STR', 'TSNATS_T_SIZE', 'TSNATS_T_MAP', 'TSNATS_T_QUOTED'];
  t.after(() => { for (const n of names) delete process.env[n]; });
  process.env.TSNATS_T_INT = '22';
  process.env.TSNATS_T_STR = 'xyz';
  process.env.TSNATS_T_SIZE = '2MB';
  process.env.TSNATS_T_MAP = '{ a: 1, b: [x, y] }';
  process.env.TSNATS_T_QUOTED = "'3xyz'";
  assert.deepEqual(parse('i: $TSNATS_T_INT\ns: $TSNATS_T_STR\nz: $TSNATS_T_SIZE\nm: $TSNATS_T_MAP\nq: $TSNATS_T_QUOTED'), {
    i: 22, s: 'xyz', z: 2 * 1024 * 1024, m: { a: 1, b: ['x', 'y'] }, q: '3xyz',
  });
  // a key in the file wins over the environment
  assert.deepEqual(parse('TSNATS_T_INT: 5\nv: $TSNATS_T_INT'), { TSNATS_T_INT: 5, v: 5 });
});

test('undefined variables and reference cycles are errors with the line', (t) => {
  t.after(() => { delete process.env.TSNATS_T_CYC_A; delete process.env.TSNATS_T_CYC_B; });
  const e = parseError('a: 1\nport: $NOPE_TSNATS_UNDEFINED');
  assert.equal(e.message, "t.conf:2:7: variable reference for 'NOPE_TSNATS_UNDEFINED' on line 2 can not be found");
  assert.equal(e.line, 2);
  assert.equal(e.file, 't.conf');
  process.env.TSNATS_T_CYC_A = '$TSNATS_T_CYC_B';
  process.env.TSNATS_T_CYC_B = '$TSNATS_T_CYC_A';
  const c = parseError('x: $TSNATS_T_CYC_A');
  assert.match(c.message, /variable reference for 'TSNATS_T_CYC_A' on line 1 could not be parsed: .*variable reference cycle for 'TSNATS_T_CYC_A'/);
});

test('a variable defined later in the file is not visible earlier', () => {
  assert.match(parseError('a: $LATER\nLATER: 1').message, /variable reference for 'LATER' on line 1 can not be found/);
});

test('used variables are marked so unknown-field checks can skip them', () => {
  const root = parseConfigText('SIZE: 2MB\nUNUSED: 3\nmax_payload: $SIZE', 't.conf');
  assert.equal(root.get('SIZE')!.usedAsVariable, true);
  assert.equal(root.get('UNUSED')!.usedAsVariable, false);
  assert.equal(root.get('max_payload')!.value, 2 * 1024 * 1024);
});

test('include merges a file into the current block, relative to the including file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'inc'));
  writeFileSync(join(dir, 'inc', 'passwords.conf'), 'ALICE_PASS: $2a$10$abc\nBOB: secret\n');
  writeFileSync(join(dir, 'inc', 'users.conf'), "include ./passwords.conf;\nusers = [ {user: alice, password: $ALICE_PASS} ]\n");
  writeFileSync(join(dir, 'main.conf'), "listen: 127.0.0.1:4222\nauthorization {\n  include 'inc/users.conf' # comment\n  timeout: 0.5\n  extra: $BOB\n}\ninclude \"inc/passwords.conf\"\n");
  const root = parseConfigFile(join(dir, 'main.conf'));
  assert.deepEqual(toPlain(root), {
    listen: '127.0.0.1:4222',
    authorization: {
      ALICE_PASS: '$2a$10$abc', BOB: 'secret', users: [{ user: 'alice', password: '$2a$10$abc' }],
      timeout: 0.5, extra: 'secret',
    },
    ALICE_PASS: '$2a$10$abc',
    BOB: 'secret',
  });
  // values keep the file they came from, for error messages
  const auth = root.get('authorization')!;
  assert.equal(auth.kind, 'map');
  const users = (auth.value as Map<string, { file: string; line: number }>).get('users')!;
  assert.equal(users.file, join(dir, 'inc', 'users.conf'));
  assert.equal(users.line, 2);
});

test('errors inside an included file name that file; a missing include names the directive', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-conf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.conf'), 'a: 1\nb: "\\q"\n');
  writeFileSync(join(dir, 'main.conf'), 'x: 1\ninclude ./bad.conf\n');
  assert.throws(() => parseConfigFile(join(dir, 'main.conf')), (e: ConfigError) => {
    assert.equal(e.file, join(dir, 'bad.conf'));
    assert.equal(e.line, 2);
    return true;
  });
  writeFileSync(join(dir, 'main2.conf'), 'x: 1\ninclude ./nope.conf\n');
  assert.throws(() => parseConfigFile(join(dir, 'main2.conf')), (e: ConfigError) => {
    assert.equal(e.line, 2);
    assert.match(e.message, /error parsing include file '\.\/nope\.conf', error opening config file: open .*nope\.conf: no such file or directory/);
    return true;
  });
  assert.throws(() => parseConfigFile(join(dir, 'absent.conf')), /error opening config file: open .*absent\.conf: no such file or directory/);
});

test('error positions use nats-server columns (0-based on line 1, from the newline after)', () => {
  const root = parseConfigText('port: 1\n  name: x\nm {\n   k: v\n}', 't.conf');
  assert.deepEqual([root.get('port')!.line, root.get('port')!.col], [1, 0]);
  assert.deepEqual([root.get('name')!.line, root.get('name')!.col], [2, 3]);
  const m = root.get('m')!.value as Map<string, { line: number; col: number }>;
  assert.deepEqual([m.get('k')!.line, m.get('k')!.col], [4, 4]);
});

test('structural errors', () => {
  assert.match(parseError('aaaaaaaaaa').message, /^t\.conf:1:10: config is invalid$/);
  assert.match(parseError('port: 4222\nfoo {\n').message, /^t\.conf:3:\d+: Unexpected EOF processing map\.$/);
  assert.match(parseError('x = [1, 2,, 3]').message, /Unexpected array value terminator ','\./);
  assert.match(parseError('a = 1 b').message, /Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead\./);
  assert.match(parseError('m { a: 1 b: 2 }').message, /Expected a map value terminator ',' or a map terminator '}', but got 'b' instead\./);
  assert.match(parseError('a: [ 1 2 ]').message, /Expected an array value terminator ',' or an array terminator '\]', but got '2' instead\./);
  assert.match(parseError('= 1').message, /Unexpected key separator '='/);
  assert.match(parseError('a:\n').message, /Expected value but found new line/);
  assert.match(parseError('include [a]').message, /Expected include value but found start of an array/);
  assert.match(parseError("a: 'never closed").message, /Unexpected EOF\./);
  assert.match(parseError('m {').message, /Unexpected EOF processing map\./);
});

test('CRLF line endings', () => {
  assert.deepEqual(parse('port: 4222\r\nhost: h\r\nm {\r\n  a: 1\r\n  b: [x,\r\n y]\r\n}\r\n'), {
    port: 4222, host: 'h', m: { a: 1, b: ['x', 'y'] },
  });
});

test('a large file parses whole (its parse time is measured by npm run bench, not here)', () => {
  let text = 'accounts {\n A {\n users = [\n';
  for (let i = 0; i < 5000; i++) text += `  {user: u${i}, password: p${i}, permissions: {publish: ["a.>"], subscribe: ">"}}\n`;
  text += ' ]\n }\n}\n';
  const root = toPlain(parseConfigText(text, 't.conf')) as { accounts: { A: { users: Array<{ user: string; password: string }> } } };
  assert.equal(root.accounts.A.users.length, 5000);
  assert.deepEqual([root.accounts.A.users[0]!.user, root.accounts.A.users[4999]!.password], ['u0', 'p4999']);
});

test('empty and comment-only files parse to nothing', () => {
  assert.deepEqual(parse(''), {});
  assert.deepEqual(parse('\n\n   \n'), {});
  assert.deepEqual(parse('# only\n// comments\n'), {});
});
