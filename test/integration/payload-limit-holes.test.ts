// Holes (issue 13): `max_payload: 0` meant "unlimited" and a PUB announcing 4 GB
// was accepted (the server then waited for 4 GB). nats-server 2.9.10 falls back
// to 1 MB for 0, and refuses a size of more than 9 digits as a protocol error
// (the connection is closed without an -ERR). Same config, both servers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.js';
import { spawnTsnats, spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startServer } from '../../src/index.js';

const PUBS = ['PUB foo 4294967296', 'PUB foo 9999999999', 'PUB foo 999999999', 'PUB foo 2000000', 'PUB foo 1048577', 'PUB foo 5'];

async function answers(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const pub of PUBS) {
    const c = await RawClient.connect(port);
    try {
      const info = JSON.parse((await c.readLine()).slice(5)) as { max_payload: number };
      out.push(`max_payload ${info.max_payload}`);
      c.send(`CONNECT {"verbose":false}\r\n${pub}\r\n${pub.endsWith(' 5') ? 'hello\r\n' : ''}PING\r\n`);
      const text = await c.waitFor((x) => x.includes('PONG') || x.includes('-ERR')).catch(() => c.text);
      if (text.includes('PONG')) out.push(`${pub}: accepted`);
      else {
        await c.waitClosed();
        const err = /-ERR '([^']*)'/.exec(text);
        out.push(`${pub}: closed${err ? ` with ${err[1]}` : ''}`);
      }
    } finally {
      c.close();
    }
  }
  return out;
}

function conf(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-maxpay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'mp.conf');
  writeFileSync(f, 'listen: 127.0.0.1:-1\nmax_payload: 0\n');
  return f;
}

const EXPECTED = PUBS.flatMap((p) => ['max_payload 1048576', p === 'PUB foo 5' ? `${p}: accepted`
  : p.split(' ')[2]!.length > 9 ? `${p}: closed` : `${p}: closed with Maximum Payload Violation`]);

async function run(t: TestContext, s: ChildServer): Promise<string[]> {
  t.after(() => s.stop());
  return answers(s.port);
}

test('tsnats: max_payload 0 falls back to 1 MB; a 10-digit size is a protocol error', async (t) => {
  assert.deepEqual(await run(t, await spawnTsnats(['-c', conf(t)])), EXPECTED);
  // and through the API (options built by hand)
  const h = await startServer({ port: 0, host: '127.0.0.1', maxPayloadBytes: 0 }, { quietLog: true });
  t.after(() => h.shutdown());
  assert.deepEqual(await answers(h.port), EXPECTED);
});

test('nats-server 2.9.10 answers the same', { skip: natsServerSkip() }, async (t) => {
  assert.deepEqual(await run(t, await spawnNatsServer(['-c', conf(t)])), EXPECTED);
});
