// After server.shutdown() nothing an in-process server started may keep the process alive: no
// timer, socket, raft node or consumer of its own. The scenario runs in a child process
// (shutdown-handles-child.ts): a 3-server cluster, an R3 stream and an R3 durable under publish
// and fetch/ack load, one server stopped and restarted (catching up), streams and consumers
// being created, and then every server shut down in the middle of that. The child must then end
// by itself; if it does not, it reports what is still open and where each handle was created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

test('shutdown mid-activity: the servers of an in-process cluster leave nothing that holds the process', async () => {
  const script = new URL('./shutdown-handles-child.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
  const code = await new Promise<number | string>((resolve) => child.on('exit', (c, s) => resolve(c ?? s ?? 'unknown')));
  assert.match(out, /SHUTDOWN_DONE/, `the scenario did not finish:\n${err}`);
  assert.equal(code, 0, `the process did not end by itself after every server shut down:\n${err}`);
});
