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

/**
 * Server bytes caused by another connection, which the transcript does not hold: before
 * expecting `entry`, do `cause` (then the bytes must arrive as captured).
 */
const CAUSES: Record<string, { entry: string; cause: (port: number) => Promise<void> }> = {
  // "HPUB from another connection is delivered as MSG with headers stripped" (the vector's
  // `what`): publish 'abc' with a header on nh.x as user a.
  msg_headers_to_non_header_client: {
    entry: 'MSG nh.x 1 3\r\nabc\r\n',
    cause: async (port) => {
      const other = await RawClient.connect(port);
      try {
        await other.waitFor(/^INFO \{.*\} \r\n/);
        other.send('CONNECT {"verbose":false,"headers":true,"user":"a","pass":"a"}\r\n');
        other.send('HPUB nh.x 22 25\r\nNATS/1.0\r\nFoo: bar\r\n\r\nabc\r\n');
        await other.flushPing();
      } finally {
        other.close();
      }
    },
  },
};

const vectors: Vector[] = vectorFiles('client')
  .map((f) => readVectorJson<Vector>('client', f))
  .filter((v) => Array.isArray(v.transcript));

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
      const caused = CAUSES[v.name];
      for (const e of entries) {
        if (e.dir === 'server->client') {
          if (caused?.entry === e.text) {
            await c.waitFor((x) => x.length >= expected.length, 5000);
            await caused.cause(h.port);
          }
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
