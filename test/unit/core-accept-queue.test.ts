// AcceptQueue: a burst of accepted sockets is started in batches over event-loop turns, in
// accept order; sockets gone while queued are skipped; shutdown closes the ones never started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { AcceptQueue } from '../../src/server/accept-queue.js';

/** The parts of a net.Socket the queue uses: error listener, destroyed, resume, destroy. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  resumed = false;
  constructor(readonly n: number) { super(); }
  resume(): this { this.resumed = true; return this; }
  destroy(): this { this.destroyed = true; return this; }
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const asSocket = (s: FakeSocket) => s as unknown as net.Socket;

test('a burst is started in accept order, a batch per turn, each socket resumed first', async () => {
  const started: FakeSocket[] = [];
  const q = new AcceptQueue((s) => {
    const f = s as unknown as FakeSocket;
    assert.equal(f.resumed, true, 'resumed before the client starts');
    started.push(f);
  });
  const socks = Array.from({ length: 150 }, (_, i) => new FakeSocket(i));
  for (const s of socks) q.push(asSocket(s));
  assert.equal(started.length, 0, 'nothing starts inside the accept callback');
  await turn();
  assert.ok(started.length > 0 && started.length < 150, `first turn started ${started.length}`);
  while (started.length < 150) await turn();
  assert.deepEqual(started.map((s) => s.n), socks.map((s) => s.n));
  // The early error listener is removed once the client owns the socket.
  for (const s of socks) assert.equal(s.listenerCount('error'), 0);
  // A later lone connection starts on the next turn.
  const late = new FakeSocket(999);
  q.push(asSocket(late));
  await turn();
  assert.equal(started.at(-1), late);
});

test('an error while queued does not throw; the destroyed socket is skipped', async () => {
  const started: number[] = [];
  const q = new AcceptQueue((s) => { started.push((s as unknown as FakeSocket).n); });
  const a = new FakeSocket(1);
  const b = new FakeSocket(2);
  q.push(asSocket(a));
  q.push(asSocket(b));
  a.emit('error', new Error('read ECONNRESET')); // would throw without a listener
  a.destroy();
  await turn();
  assert.deepEqual(started, [2]);
});

test('clear() destroys the sockets that were never started', async () => {
  const started: number[] = [];
  const q = new AcceptQueue((s) => { started.push((s as unknown as FakeSocket).n); });
  const socks = Array.from({ length: 200 }, (_, i) => new FakeSocket(i));
  for (const s of socks) q.push(asSocket(s));
  await turn();
  const first = started.length;
  q.clear();
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(started.length, first, 'nothing starts after clear()');
  assert.ok(socks.slice(first).every((s) => s.destroyed));
  assert.ok(socks.slice(0, first).every((s) => !s.destroyed));
});
