// A server at its open-files limit must keep running. Node reads resident
// memory and the interface list through /proc and sockets, and those reads
// throw EMFILE when no descriptor is left; the STATSZ heartbeat, $SYS PING
// requests and /varz used to let that throw end the process. Here a tsnats
// child runs under `ulimit -n 64`, raw connections use up its descriptors,
// and the system account asks for STATSZ and VARZ while it is full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { killServer, launchServer, ServerDir, terminateServer } from '../helpers/cluster-proc.js';
import { pollUntil } from '../helpers/wait.js';

const LIMIT = 64;
const cli = new URL('../../src/cli.js', import.meta.url).pathname;

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

test(`a server under ulimit -n ${LIMIT} answers STATSZ and VARZ with every descriptor in use, and recovers`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-nofile-'));
  const n = new ServerDir(1, 'n1', dir);
  const held: net.Socket[] = [];
  t.after(async () => {
    for (const s of held) s.destroy();
    await terminateServer(n, 5_000).catch(() => killServer(n));
    rmSync(dir, { recursive: true, force: true });
  });
  const conf = join(dir, 'n1.conf');
  writeFileSync(conf, [
    'server_name: n1',
    'host: 127.0.0.1',
    'port: -1',
    'http: "127.0.0.1:-1"',
    `ports_file_dir: "${dir}"`,
    'accounts { SYS { users [{ user: sys, password: sys }] }, APP { users [{ user: a, password: a }] } }',
    'system_account: SYS',
    // the harness waits for every listener in the ports file, a cluster port included
    'cluster { name: c1, listen: "127.0.0.1:-1" }',
  ].join('\n'));
  const ports = await launchServer(n, 'bash', ['-c', `ulimit -n ${LIMIT} && exec "${process.execPath}" "${cli}" -c "${conf}"`]);
  const url = ports.nats![0]!;
  const { port } = new URL(url);
  const pid = n.proc!.pid!;

  const sys = await connect({ servers: url, user: 'sys', pass: 'sys' });
  t.after(() => sys.close());
  // Use up the server's descriptors with idle connections; it accepts until EMFILE.
  await pollUntil(async () => {
    for (let i = 0; i < 8; i++) {
      const s = net.connect(Number(port), '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 20));
    return openDescriptors(pid) >= LIMIT ? true : undefined;
  }, 'server descriptors exhausted', 20_000, 0);
  assert.ok(openDescriptors(pid) >= LIMIT);

  // The heartbeat path: a server id it has not heard of makes it publish its STATSZ at once.
  sys.publish('$SYS.SERVER.NOTASERVER000000000000000000000000000000000000000000000.STATSZ', '{}');
  const statsz = (await sys.request('$SYS.REQ.SERVER.PING.STATSZ', '', { timeout: 5_000 })).json<{ statsz: { mem: number; cores: number } }>();
  assert.ok(statsz.statsz.mem > 0, `statsz.mem at the limit: ${statsz.statsz.mem}`);
  assert.ok(statsz.statsz.cores > 0, `statsz.cores at the limit: ${statsz.statsz.cores}`);
  const varz = (await sys.request('$SYS.REQ.SERVER.PING.VARZ', '', { timeout: 5_000 })).json<{ data: { mem: number } }>();
  assert.ok(varz.data.mem > 0, `varz mem at the limit: ${varz.data.mem}`);
  await sys.flush();
  assert.ok(n.alive, `server exited at the limit:\n${n.log().slice(-2000)}`);

  // Descriptors freed: new clients connect again and /varz over HTTP works.
  for (const s of held.splice(0)) s.destroy();
  await pollUntil(() => (openDescriptors(pid) < LIMIT - 16 ? true : undefined), 'descriptors released', 20_000, 20);
  const app = await connect({ servers: url, user: 'a', pass: 'a' });
  const sub = app.subscribe('after.limit', { max: 1 });
  app.publish('after.limit', 'ok');
  for await (const m of sub) assert.equal(m.string(), 'ok');
  await app.close();
  const httpVarz = await (await fetch(`${ports.monitoring![0]!}/varz`)).json() as { mem: number };
  assert.ok(httpVarz.mem > 0);
  assert.ok(n.alive);
});
