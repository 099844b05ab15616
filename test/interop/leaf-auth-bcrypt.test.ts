// Passwords of `leafnodes { authorization }` as nats-server 2.9.10 checks them (comparePasswords):
// a bcrypt hash (single user or users list) takes the password it was made from, a plain one is
// compared in constant time; the same config gives the same verdicts on both servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { natsServerSkip } from '../helpers/nats-server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { leafPort, rawLeaf } from '../helpers/raw-leaf.js';

test('leafnodes authorization with bcrypt passwords: same verdicts as nats-server', { skip: natsServerSkip() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-bcrypt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hash = bcrypt.hashSync('secret', 4);
  const single = join(dir, 'single.conf');
  writeFileSync(single, `listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1", authorization { user: l, password: "${hash}" } }\n`);
  const users = join(dir, 'users.conf');
  writeFileSync(users, [
    'listen: 127.0.0.1:-1',
    'accounts { A {} }',
    `leafnodes { listen: "127.0.0.1:-1", authorization { users: [ {user: h, password: "${hash}", account: A}, {user: p, password: plain} ] } }`,
  ].join('\n'));
  const verdicts = async (s: ChildServer, tries: Array<[string, string]>): Promise<string[]> => {
    try {
      const port = await leafPort(s);
      const out: string[] = [];
      for (const [u, p] of tries) {
        const { c, reply } = await rawLeaf(port, u, p);
        c.close();
        out.push(`${u}/${p}: ${reply}`);
      }
      return out;
    } finally {
      await s.stop();
    }
  };
  const both = async (conf: string, tries: Array<[string, string]>): Promise<{ ns: string[]; ts: string[] }> => ({
    ns: await verdicts(await spawnNatsServer(['-c', conf]), tries),
    ts: await verdicts(await spawnTsnats(['-c', conf]), tries),
  });
  const one = await both(single, [['l', 'secret'], ['l', 'wrong'], ['l', hash]]);
  assert.deepEqual(one.ts, ['l/secret: PONG', "l/wrong: -ERR 'Authorization Violation'", `l/${hash}: -ERR 'Authorization Violation'`]);
  assert.deepEqual(one.ts, one.ns);
  const many = await both(users, [['h', 'secret'], ['h', 'plain'], ['p', 'plain'], ['p', 'plai'], ['x', 'secret']]);
  assert.deepEqual(many.ts, [
    'h/secret: PONG', "h/plain: -ERR 'Authorization Violation'", 'p/plain: PONG',
    "p/plai: -ERR 'Authorization Violation'", "x/secret: -ERR 'Authorization Violation'",
  ]);
  assert.deepEqual(many.ts, many.ns);
});
