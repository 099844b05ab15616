// Malformed JetStream API bodies against the installed nats-server 2.9.10 and tsnats. 2.9.10
// answers a decode failure with a bare "invalid JSON" (newer servers, which tsnats follows,
// append Go's decoder text), so the live comparison checks that both servers reject the same
// bodies with 10025, and that our description carries the exact Go text. Skipped cleanly
// when nats-server is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';

// [subject, body, Go text tsnats must append to "invalid JSON: " (undefined: compare whole answers)]
const CASES: Array<[string, string, string | undefined]> = [
  ['$JS.API.STREAM.CREATE.X', '{bad', "invalid character 'b' looking for beginning of object key string at offset 2"],
  ['$JS.API.STREAM.CREATE.X', 'not json', "invalid character 'o' in literal null (expecting 'u') at offset 2"],
  ['$JS.API.STREAM.CREATE.X', '{"name":"X","subjects":["a" "b"]}', "invalid character '\"' after array element at offset 29"],
  ['$JS.API.STREAM.CREATE.X', '{"name":"X\u0001"}', "invalid character '\\x01' in string literal at offset 11"],
  ['$JS.API.STREAM.CREATE.X', '{é}', "invalid character 'Ã' looking for beginning of object key string at offset 2"],
  ['$JS.API.STREAM.CREATE.X', '{"name":"X"}x', "invalid character 'x' looking for beginning of value at offset 13"],
  ['$JS.API.STREAM.CREATE.X', '{"name":', 'unexpected EOF'],
  ['$JS.API.STREAM.CREATE.X', '{"name":"X","max_msgs":1.e}', "invalid character 'e' after decimal point in numeric literal at offset 26"],
  // isEmptyRequest: whitespace alone is not an empty request; an object without members is.
  ['$JS.API.STREAM.DELETE.X', ' ', undefined],
  ['$JS.API.STREAM.DELETE.X', ' { } ', undefined],
  ['$JS.API.STREAM.INFO.X', 'null', undefined],
];

async function ask(url: string): Promise<Array<Record<string, any>>> {
  const nc: NatsConnection = await connect({ servers: url, reconnect: false });
  try {
    const out: Array<Record<string, any>> = [];
    for (const [subject, body] of CASES) {
      const m = await nc.request(subject, new TextEncoder().encode(body), { timeout: 5000 });
      out.push(JSON.parse(new TextDecoder().decode(m.data)));
    }
    return out;
  } finally {
    await nc.close();
  }
}

test('malformed API bodies: nats-server 2.9.10 and tsnats reject alike; tsnats gives Go\'s text', {
  skip: natsServerSkip(),
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsonerr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ns = await spawnNatsServer(['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', join(dir, 'ref')]);
  t.after(() => ns.stop());
  const theirs = await ask(`nats://127.0.0.1:${ns.port}`);
  const h = await startTestServer({ jetstream: { enabled: true, storeDir: join(dir, 'ours'), maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 1000, strict: true } }, t);
  const ours = await ask(h.clientUrl);
  for (let i = 0; i < CASES.length; i++) {
    const [subject, body, goText] = CASES[i]!;
    const label = `${subject} ${JSON.stringify(body)}`;
    if (goText === undefined) {
      assert.deepEqual(ours[i], theirs[i], label);
      continue;
    }
    assert.deepEqual(theirs[i]!.error, { code: 400, err_code: 10025, description: 'invalid JSON' }, `2.9.10 ${label}`);
    assert.deepEqual(ours[i]!.error, { code: 400, err_code: 10025, description: `invalid JSON: ${goText}` }, `tsnats ${label}`);
  }
});
