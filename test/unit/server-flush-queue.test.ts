// FlushQueue: output queued by socket reads is written once per event-loop turn, or at once
// when a burst of reads has gone past the read budget (so PONGs and subscribers are not held
// back while a long burst is parsed) or when only the reading connection has output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlushQueue } from '../../src/server/flush-queue.js';
import type { Client } from '../../src/core/client.js';

/** A connection that counts its flushes and re-queues itself the way Client does. */
function fakeClient(q: FlushQueue): { client: Client; flushes: () => number; queueOutput: () => void } {
  let flushes = 0;
  let queued = false;
  const client = {
    flush(): void {
      queued = false;
      flushes++;
    },
  } as unknown as Client;
  return {
    client,
    flushes: () => flushes,
    queueOutput: () => {
      if (!queued) {
        queued = true;
        q.add(client);
      }
    },
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('reads in one event-loop turn share one flush per connection', async () => {
  const q = new FlushQueue();
  const a = fakeClient(q);
  const b = fakeClient(q);
  // Four 64 KiB reads minus one byte stay under the budget: nothing is written yet.
  for (let i = 0; i < 4; i++) {
    a.queueOutput();
    b.queueOutput();
    q.afterRead(a.client, i === 3 ? 64 * 1024 - 1 : 64 * 1024, 60);
  }
  assert.equal(a.flushes(), 0);
  assert.equal(b.flushes(), 0);
  await turn();
  assert.equal(a.flushes(), 1);
  assert.equal(b.flushes(), 1);
});

test('a burst past the read budget is flushed at the end of the read', async () => {
  const q = new FlushQueue();
  const pub = fakeClient(q);
  const a = fakeClient(q);
  for (let i = 0; i < 4; i++) {
    a.queueOutput();
    q.afterRead(pub.client, 64 * 1024, 60);
  }
  // The fourth read reached 256 KiB: written without waiting for the turn to end.
  assert.equal(a.flushes(), 1);
  // The budget starts again after a flush.
  a.queueOutput();
  q.afterRead(pub.client, 64 * 1024, 60);
  assert.equal(a.flushes(), 1);
  await turn();
  assert.equal(a.flushes(), 2);
});

test('a read past the message budget is flushed at the end of the read', () => {
  const q = new FlushQueue();
  const pub = fakeClient(q);
  const a = fakeClient(q);
  // One 64 KiB read of 16-byte messages holds ~2,600 of them: no reason to hold it back.
  a.queueOutput();
  q.afterRead(pub.client, 64 * 1024, 2600);
  assert.equal(a.flushes(), 1);
  // Small reads add up to the budget.
  a.queueOutput();
  q.afterRead(pub.client, 1000, 1000);
  assert.equal(a.flushes(), 1);
  q.afterRead(pub.client, 24, 24);
  assert.equal(a.flushes(), 2);
});

test('flushNow writes at once and restarts the budget', async () => {
  const q = new FlushQueue();
  const pub = fakeClient(q);
  const a = fakeClient(q);
  a.queueOutput();
  q.afterRead(pub.client, 200 * 1024, 60);
  q.flushNow();
  assert.equal(a.flushes(), 1);
  a.queueOutput();
  q.afterRead(pub.client, 100 * 1024, 60);
  assert.equal(a.flushes(), 1);
  await turn();
  assert.equal(a.flushes(), 2);
});

test("a read whose only output is the reader's own is written at once", async () => {
  const q = new FlushQueue();
  const pub = fakeClient(q);
  const sub = fakeClient(q);
  // A PING with no subscriber output: the PONG goes out at the end of the read.
  pub.queueOutput();
  q.afterRead(pub.client, 100, 60);
  assert.equal(pub.flushes(), 1);
  // The same read also queued a subscriber's MSG: both wait for the end of the turn.
  pub.queueOutput();
  sub.queueOutput();
  q.afterRead(pub.client, 100, 60);
  assert.equal(pub.flushes(), 1);
  assert.equal(sub.flushes(), 0);
  await turn();
  assert.equal(pub.flushes(), 2);
  assert.equal(sub.flushes(), 1);
});
