// Golden bytes: replay the client side of the transcripts captured from
// nats-server 2.9.10 (test/fixtures/vectors/client) against tsnats and expect
// the same server bytes (INFO aside) and the same close behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { readVectorJson, vectorFiles } from '../helpers/vectors.js';

interface Entry { dir: 'server->client' | 'client->server'; text: string }
interface Vector { name: string; transcript?: Entry[]; closed_by_server_before_client_close: boolean }

/** Transcripts that need something other than this one connection. */
const LEAVE_OUT = new Set([
  // the MSG is caused by a publish on another connection that is not in the transcript
  'msg_headers_to_non_header_client',
]);

const vectors: Vector[] = vectorFiles('client')
  .map((f) => readVectorJson<Vector>('client', f))
  .filter((v) => Array.isArray(v.transcript) && !LEAVE_OUT.has(v.name));

test('golden client transcripts from nats-server 2.9.10', async (t) => {
  // The captures ran against a server with account APP holding users a/a and
  // lim/lim (publish deny deny.>, subscribe deny nosub.>): the same config here.
  const h = await startTestServer({
    accounts: [{
      name: 'APP',
      users: [
        { user: 'a', password: 'a' },
        { user: 'lim', password: 'lim', permissions: { publish: { deny: ['deny.>'] }, subscribe: { deny: ['nosub.>'] } } },
      ],
      exports: [],
      imports: [],
      mappings: {},
    }],
  }, t, { configAuth: true });
  assert.ok(vectors.length >= 15, `found ${vectors.length} transcripts`);
  await Promise.all(vectors.map(async (v) => {
    const entries = v.transcript!.filter((e, i) => !(i === 0 && e.dir === 'server->client' && e.text.startsWith('INFO ')));
    const c = await RawClient.connect(h.port);
    try {
      await c.waitFor(/^INFO \{.*\} \r\n/);
      const info = c.text;
      c.clear();
      assert.match(info, /"auth_required":true/);
      let expected = '';
      for (const e of entries) {
        if (e.dir === 'server->client') {
          expected += e.text;
        } else {
          await c.waitFor((x) => x.length >= expected.length, 5000);
          c.send(e.text);
        }
      }
      if (v.closed_by_server_before_client_close) await c.waitClosed(5000);
      else await c.waitFor((x) => x.length >= expected.length, 5000);
      assert.equal(c.text, expected, v.name);
      assert.equal(c.isClosed, v.closed_by_server_before_client_close, `${v.name}: close behaviour`);
    } finally {
      c.close();
    }
  }));
});
