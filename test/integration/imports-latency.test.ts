// Service latency metrics of requests that got no answer, side by side with nats-server 2.9.10:
// 400 (a request without a reply subject), 408 (the requester unsubscribed its reply subject or
// disconnected before the answer came), 503 (nobody in the exporting account took it) and 504 (no
// answer within the export's response threshold).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { startConfigServers, type ConfigServer } from '../helpers/config-servers.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';

const CONF = `
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    exports: [
      { service: "none", latency: { sampling: 100, subject: "lat.results" } }
      { service: "slow", latency: { sampling: 100, subject: "lat.results" }, response_threshold: "200ms" }
      { service: "lost", latency: { sampling: 100, subject: "lat.results" } }
      { service: "echo", latency: { sampling: 100, subject: "lat.results" } }
    ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      { service: { account: A, subject: "none" } }
      { service: { account: A, subject: "slow" } }
      { service: { account: A, subject: "lost" } }
      { service: { account: A, subject: "echo" } }
    ]
  }
  SYS: { users: [ {user: sys, password: sys} ] }
}
system_account: SYS
`;

type Json = Record<string, unknown>;

const summary = (m: Json) => ({
  status: m.status, description: m.description, keys: Object.keys(m).sort(),
  requestor: (m.requestor as Json | undefined)?.acc, total: m.total, service: m.service,
});

/** The keys of a metric of a request that got no answer (no responder, no durations). */
const FAILED_KEYS = ['description', 'id', 'requestor', 'service', 'start', 'status', 'system', 'timestamp', 'total', 'type'];

/** Users a (exporter, who collects the metrics) and b (importer) connected to `s` for `steps`. */
async function withUsers(s: ConfigServer, steps: (a: NatsConnection, b: NatsConnection, metrics: Json[]) => Promise<Json>): Promise<Json> {
  const [a, b] = await Promise.all(['a', 'b'].map((u) => connect({ servers: s.url, user: u, pass: u })));
  try {
    const metrics: Json[] = [];
    a.subscribe('lat.results', { callback: (_e, m) => { metrics.push(m.json<Json>()); } });
    return await steps(a, b, metrics);
  } finally {
    for (const nc of [a, b]) await nc.close();
  }
}

/** `steps` on tsnats, then on nats-server, both started from CONF. */
async function sideBySide(t: TestContext, steps: (s: ConfigServer) => Promise<Json>): Promise<[Json, Json, ConfigServer[]]> {
  const servers = await startConfigServers(t, CONF);
  return [await steps(servers[0]), await steps(servers[1]), servers];
}

function scenario(s: ConfigServer): Promise<Json> {
  return withUsers(s, async (a, b, metrics) => {
    // the service that never answers
    a.subscribe('slow', { callback: () => {} });
    await a.flush();
    const out: Json = {};
    // a request with no reply subject: 400
    b.publish('none', 'x');
    await waitUntil(() => metrics.length >= 1);
    out.noReply = summary(metrics[0]);
    // nobody in A subscribes to "none": 503
    b.publish('none', 'x', { reply: createInbox() });
    await waitUntil(() => metrics.length >= 2);
    out.noResponder = summary(metrics[1]);
    // "slow" is taken but never answered: 504 once the 200ms threshold passed
    b.publish('slow', 'x', { reply: createInbox() });
    await waitUntil(() => metrics.length >= 3, 10_000);
    out.timeout = summary(metrics[2]);
    return out;
  });
}

test('latency metrics of failed requests: 400, 503 and 504 as nats-server', { skip: natsServerSkip() }, async (t) => {
  const [ts, ns] = await sideBySide(t, scenario);
  assert.deepEqual(ts.noReply, { status: 400, description: 'Bad Request', requestor: 'B', total: 0, service: 0, keys: FAILED_KEYS });
  assert.equal((ts.noResponder as Json).status, 503);
  assert.equal((ts.timeout as Json).status, 504);
  assert.deepEqual(ts, ns);
});

/** Requests to "lost" (taken, never answered, 2 minute threshold) whose requester stops listening. */
function lostScenario(s: ConfigServer): Promise<Json> {
  return withUsers(s, async (a, b, metrics) => {
    let taken = 0;
    a.subscribe('lost', { callback: () => { taken++; } });
    a.subscribe('echo', { callback: (_e, m) => { m.respond('pong'); } });
    await a.flush();
    const out: Json = {};
    // the requester unsubscribes its inbox while the service holds the request: 408
    const inbox = createInbox();
    const sub = b.subscribe(inbox);
    b.publish('lost', 'x', { reply: inbox });
    await waitUntil(() => taken === 1);
    sub.unsubscribe();
    await waitUntil(() => metrics.length >= 1);
    out.unsubscribed = summary(metrics[0]);
    // the requester (a request on its shared wildcard inbox) disconnects: 408
    const c = await connect({ servers: s.url, user: 'b', pass: 'b' });
    const pending = c.request('lost', 'y', { timeout: 60_000 }).then(() => 'answered', () => 'failed');
    await waitUntil(() => taken === 2);
    await c.close();
    out.pending = await pending;
    await waitUntil(() => metrics.length >= 2);
    out.disconnected = summary(metrics[1]);
    // an answer to an inbox that unsubscribes on its first message is no lost interest: one 200,
    // then the next metric is the 400 of the request without a reply
    const answer = await b.request('echo', 'ping', { noMux: true, timeout: 10_000 });
    out.answer = answer.string();
    b.publish('lost', 'z');
    await waitUntil(() => metrics.length >= 4);
    out.after = metrics.slice(2, 4).map((m) => m.status);
    return out;
  });
}

test('latency metric 408 when the requester stops listening, as nats-server', { skip: natsServerSkip() }, async (t) => {
  const [ts, ns, servers] = await sideBySide(t, lostScenario);
  assert.deepEqual(ts.unsubscribed, { status: 408, description: 'Request Timeout', requestor: 'B', total: 0, service: 0, keys: FAILED_KEYS });
  assert.equal((ts.disconnected as Json).status, 408);
  assert.deepEqual(ts.after, [200, 400]);
  assert.deepEqual(ts, ns);
  // the mappings of the lost requests are gone (nats-server's reverse response map cleanup)
  assert.equal(servers[0].h!.server.imports.pendingResponses(servers[0].h!.server.lookupAccount('A')!), 0);
});
