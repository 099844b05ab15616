// deliverResult (src/core/deliver.ts) keeps its per-message route target list across messages,
// one list per nesting depth: a delivery that publishes from inside an internal subscriber's
// handler must not disturb the route targets of the delivery it runs in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deliverResult } from '../../src/core/deliver.js';
import type { Account } from '../../src/core/account.js';
import { ClientKind, InboundMsg, Subscription, type MsgSink, type RouteSink, type SublistResult } from '../../src/core/types.js';

const account = {} as Account;
const origin = { cid: 1, account: 'A', kind: 'client' as const };
const msgOf = (subject: string) => InboundMsg.create(origin, subject, '', undefined, Buffer.from('x'));

function route(name: string, log: string[]): RouteSink {
  return {
    kind: ClientKind.ROUTE, cid: 0,
    deliverMsg: () => false,
    forwardMsg: (_a: Account, m: InboundMsg, queues: string[] | null) => {
      log.push(`${name} ${m.subject}${queues ? ` [${queues.join(',')}]` : ''}`);
      return true;
    },
  };
}

let sid = 0;
const subOf = (subject: string, owner: MsgSink, queue?: string) => new Subscription(subject, queue, String(++sid), owner);

test('route targets: nested deliveries and queue groups each reach the right routes', () => {
  const log: string[] = [];
  const r1 = route('r1', log);
  const r2 = route('r2', log);
  const r3 = route('r3', log);
  // The inner delivery: a plain interest of r3 and a queue group only r2 serves.
  const inner: SublistResult = { psubs: [subOf('inner', r3)], qsubs: [[subOf('inner', r2, 'qi')]] };
  let nested = 0;
  const internal: MsgSink = {
    kind: ClientKind.SYSTEM, cid: 2,
    deliverMsg: () => {
      nested += deliverResult(account, inner, msgOf('inner'), null, false, false, null);
      return true;
    },
  };
  // The outer delivery: r1 (plain), then the internal subscriber that publishes, then r2 (plain)
  // and r1 again for a queue group, so r1's target collects a queue after the nested call.
  const outer: SublistResult = {
    psubs: [subOf('outer', r1), subOf('outer', internal), subOf('outer', r2)],
    qsubs: [[subOf('outer', r1, 'q1')]],
  };
  for (let round = 0; round < 3; round++) {
    log.length = 0;
    nested = 0;
    const n = deliverResult(account, outer, msgOf('outer'), null, false, false, null);
    assert.equal(n, 3, 'internal subscriber, r1 and r2');
    assert.equal(nested, 2, 'r3 and r2 for the inner message');
    assert.deepEqual(log, ['r3 inner', 'r2 inner [qi]', 'r1 outer [q1]', 'r2 outer']);
  }
  // A routed message (fromRoute) never goes to routes' plain interest: nothing is left over
  // from the earlier deliveries.
  log.length = 0;
  assert.equal(deliverResult(account, { psubs: [subOf('outer', r1)], qsubs: [] }, msgOf('outer'), null, false, true, null), 0);
  assert.deepEqual(log, []);
});
