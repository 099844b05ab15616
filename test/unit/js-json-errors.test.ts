// Go's encoding/json error texts for malformed JetStream API request bodies. The expected
// strings are what nats-server's unmarshalRequest produces: strict mode (json.Decoder) appends
// " at offset N" (Go's byte offset) to syntax errors and says "unexpected EOF" for a cut-off
// body; non-strict mode falls back to json.Unmarshal (no offset, "unexpected end of JSON input",
// "after top-level value").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, isEmptyRequest, JsonDecodeError, type Schema } from '../../src/jetstream/api/json.js';
import { checkValidJson, quoteChar } from '../../src/jetstream/api/go-json-scanner.js';

const SCHEMA: Schema = { name: 'string', subjects: { array: 'string' }, max_msgs: 'int64', placement: { object: { cluster: 'string', tags: { array: 'string' } }, name: 'Placement' } };

function decodeError(body: string | Buffer, strict: boolean): string {
  try {
    decodeRequest(body, SCHEMA, 'StreamConfigRequest', strict);
  } catch (e) {
    assert.ok(e instanceof JsonDecodeError, `not a JsonDecodeError: ${String(e)}`);
    return e.message;
  }
  return '<decoded>';
}

// [body, strict (json.Decoder) message, non-strict (json.Unmarshal) message]
const TABLE: Array<[string | Buffer, string, string]> = [
  ['{bad', "invalid character 'b' looking for beginning of object key string at offset 2",
    "invalid character 'b' looking for beginning of object key string"],
  ['not json', "invalid character 'o' in literal null (expecting 'u') at offset 2",
    "invalid character 'o' in literal null (expecting 'u')"],
  ['nope', "invalid character 'o' in literal null (expecting 'u') at offset 2",
    "invalid character 'o' in literal null (expecting 'u')"],
  ['{"a":tx}', "invalid character 'x' in literal true (expecting 'r') at offset 7",
    "invalid character 'x' in literal true (expecting 'r')"],
  ['{"a":trx}', "invalid character 'x' in literal true (expecting 'u') at offset 8",
    "invalid character 'x' in literal true (expecting 'u')"],
  ['{"a":fals}', "invalid character '}' in literal false (expecting 'e') at offset 10",
    "invalid character '}' in literal false (expecting 'e')"],
  ['{"a":nul}', "invalid character '}' in literal null (expecting 'l') at offset 9",
    "invalid character '}' in literal null (expecting 'l')"],
  ['{"a" 1}', "invalid character '1' after object key at offset 6", "invalid character '1' after object key"],
  ['{"a":1 2}', "invalid character '2' after object key:value pair at offset 8",
    "invalid character '2' after object key:value pair"],
  ['{"a":[1 2]}', "invalid character '2' after array element at offset 9", "invalid character '2' after array element"],
  ['{"a":1,}', "invalid character '}' looking for beginning of object key string at offset 8",
    "invalid character '}' looking for beginning of object key string"],
  ['{"a":}', "invalid character '}' looking for beginning of value at offset 6",
    "invalid character '}' looking for beginning of value"],
  ['{"a":"\\q"}', "invalid character 'q' in string escape code at offset 8", "invalid character 'q' in string escape code"],
  ['{"a":"\\u12g4"}', "invalid character 'g' in \\u hexadecimal character escape at offset 11",
    "invalid character 'g' in \\u hexadecimal character escape"],
  ['{"a":-x}', "invalid character 'x' in numeric literal at offset 7", "invalid character 'x' in numeric literal"],
  ['{"a":1.e}', "invalid character 'e' after decimal point in numeric literal at offset 8",
    "invalid character 'e' after decimal point in numeric literal"],
  ['{"a":1e+x}', "invalid character 'x' in exponent of numeric literal at offset 9",
    "invalid character 'x' in exponent of numeric literal"],
  ['{"a":01}', "invalid character '1' after object key:value pair at offset 7",
    "invalid character '1' after object key:value pair"],
  // Control characters and quoting.
  ['{"a":"x\ny"}', "invalid character '\\n' in string literal at offset 8", "invalid character '\\n' in string literal"],
  ['{"a":"x\ty"}', "invalid character '\\t' in string literal at offset 8", "invalid character '\\t' in string literal"],
  ['{\u0001}', "invalid character '\\x01' looking for beginning of object key string at offset 2",
    "invalid character '\\x01' looking for beginning of object key string"],
  ['{\u007f}', "invalid character '\\x7f' looking for beginning of object key string at offset 2",
    "invalid character '\\x7f' looking for beginning of object key string"],
  ["{'a':1}", "invalid character '\\'' looking for beginning of object key string at offset 2",
    "invalid character '\\'' looking for beginning of object key string"],
  ['{"a""b"}', "invalid character '\"' after object key at offset 5", "invalid character '\"' after object key"],
  ['\\', "invalid character '\\\\' looking for beginning of value at offset 1", "invalid character '\\\\' looking for beginning of value"],
  // Multi-byte UTF-8: Go reports the first byte as the rune of that value, offsets count bytes.
  ['{é}', "invalid character 'Ã' looking for beginning of object key string at offset 2",
    "invalid character 'Ã' looking for beginning of object key string"],
  ['{"né":1 é}', "invalid character 'Ã' after object key:value pair at offset 10",
    "invalid character 'Ã' after object key:value pair"],
  // NO-BREAK SPACE is C2 A0 in UTF-8: Go shows the byte 0xC2 as 'Â'.
  ['{\u00a0}', "invalid character 'Â' looking for beginning of object key string at offset 2",
    "invalid character 'Â' looking for beginning of object key string"],
  [Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x80, 0x7d]), "invalid character '\\u0080' after object key at offset 5",
    "invalid character '\\u0080' after object key"],
  [Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), "invalid character 'ï' looking for beginning of value at offset 1",
    "invalid character 'ï' looking for beginning of value"],
  // Trailing garbage: the Decoder reads it as the next value, Unmarshal as text after the value.
  ['{}x', "invalid character 'x' looking for beginning of value at offset 3", "invalid character 'x' after top-level value"],
  ['{"name":"S"} }', "invalid character '}' looking for beginning of value at offset 14",
    "invalid character '}' after top-level value"],
  // After a top-level literal the Go Decoder counts the delimiting byte twice.
  ['null x', "invalid character 'x' looking for beginning of value at offset 7", "invalid character 'x' after top-level value"],
  ['{"name":"S"}{"bogus":1}', 'json: unknown field "bogus"', "invalid character '{' after top-level value"],
  // Truncation.
  ['{"name":', 'unexpected EOF', 'unexpected end of JSON input'],
  ['{"name":"S', 'unexpected EOF', 'unexpected end of JSON input'],
  ['{"name":"S"} {', 'unexpected EOF', "invalid character '{' after top-level value"],
  // Unmarshal feeds a space at the end, so a cut-off number or literal complains about ' '.
  ['{"a":1.', 'unexpected EOF', "invalid character ' ' after decimal point in numeric literal"],
  ['tru', 'unexpected EOF', "invalid character ' ' in literal true (expecting 'e')"],
  ['{"a":"\\u00', 'unexpected EOF', "invalid character ' ' in \\u hexadecimal character escape"],
];

test('malformed bodies get Go encoding/json error texts (strict and non-strict)', () => {
  for (const [body, strictText, laxText] of TABLE) {
    const label = Buffer.isBuffer(body) ? body.toString('hex') : JSON.stringify(body);
    assert.equal(decodeError(body, true), strictText, `strict ${label}`);
    assert.equal(decodeError(body, false), laxText, `non-strict ${label}`);
  }
});

test('top-level non-objects: a type error (strict stops at the first value)', () => {
  assert.equal(decodeError('1x', true), 'json: cannot unmarshal number into Go value of type server.StreamConfigRequest');
  assert.equal(decodeError('1x', false), "invalid character 'x' after top-level value");
  assert.equal(decodeError('[1]', true), 'json: cannot unmarshal array into Go value of type server.StreamConfigRequest');
});

test('bodies the Go Decoder accepts', () => {
  assert.deepEqual(decodeRequest('  \n\t ', SCHEMA, 'StreamConfigRequest', true), {});
  assert.deepEqual(decodeRequest('', SCHEMA, 'StreamConfigRequest', true), {});
  assert.deepEqual(decodeRequest('null', SCHEMA, 'StreamConfigRequest', true), {});
  // Several values decode one after the other into the same struct.
  assert.deepEqual(decodeRequest('{"name":"S","placement":{"cluster":"C"}} {"subjects":["a"],"placement":{"tags":["t"]}}\n',
    SCHEMA, 'StreamConfigRequest', true), { name: 'S', subjects: ['a'], placement: { cluster: 'C', tags: ['t'] } });
  assert.deepEqual(decodeRequest('{"name":"S"}{"name":"T"}', SCHEMA, 'StreamConfigRequest', false), { name: 'T' });
  // Non-strict: unknown fields are ignored by the json.Unmarshal fallback.
  assert.deepEqual(decodeRequest('{"name":"S","bogus":1}', SCHEMA, 'StreamConfigRequest', false), { name: 'S', bogus: 1 });
});

test('checkValidJson accepts what JSON.parse accepts', () => {
  for (const ok of ['{}', ' [1, -0.5e+3, "a\\u00e9\\n", true, false, null, {"x":{}}] ', '"x"', '0', '-12.5E-2']) {
    assert.equal(checkValidJson(Buffer.from(ok)), undefined, ok);
    JSON.parse(ok);
  }
  assert.deepEqual(checkValidJson(Buffer.from('{"a":1]')), { message: "invalid character ']' after object key:value pair", offset: 7 });
  assert.deepEqual(checkValidJson(Buffer.from('  ')), { message: 'unexpected end of JSON input', offset: 2 });
});

test('quoteChar follows Go strconv quoting', () => {
  assert.equal(quoteChar(0x62), "'b'");
  assert.equal(quoteChar(0x27), "'\\''");
  assert.equal(quoteChar(0x22), "'\"'");
  assert.equal(quoteChar(0x0a), "'\\n'");
  assert.equal(quoteChar(0x0d), "'\\r'");
  assert.equal(quoteChar(0x00), "'\\x00'");
  assert.equal(quoteChar(0x1b), "'\\x1b'");
  assert.equal(quoteChar(0x07), "'\\a'");
  assert.equal(quoteChar(0x5c), "'\\\\'");
  assert.equal(quoteChar(0x9f), "'\\u009f'");
  assert.equal(quoteChar(0xad), "'\\u00ad'");
  assert.equal(quoteChar(0xe9), "'é'");
});

test('isEmptyRequest matches nats-server (whitespace alone is not empty)', () => {
  const cases: Array<[string, boolean]> = [
    ['', true], ['{}', true], [' {} ', true], ['{ }', true], ['\n{\t}\n', true],
    [' ', false], ['\r\n', false], ['null', false], ['[]', false], ['{"a":1}', false], ['{bad', false], ['{}{}', false],
  ];
  for (const [body, empty] of cases) {
    assert.equal(isEmptyRequest(body), empty, JSON.stringify(body));
    assert.equal(isEmptyRequest(Buffer.from(body)), empty, JSON.stringify(body));
  }
});
