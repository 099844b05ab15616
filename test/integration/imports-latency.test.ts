// Service latency metrics of requests that got no answer, side by side with nats-server 2.9.10:
// 400 (a request without a reply subject), 408 (the requester unsubscribed its reply subject or
// disconnected before the answer came), 503 (nobody in the exporting account took it) and 504 (no
// answer within the export's response threshold).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
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

// An export sampled by trace headers only: a request is measured when its trace headers ask for it,
// and the metric's `header` field carries the headers that decided (nats-server shouldSample).
const TRACED_CONF = `
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    exports: [ { service: "traced", latency: { sampling: headers, subject: "lat.results" } } ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [ { service: { account: A, subject: "traced" } } ]
  }
}
`;

/** Header sets sent one request each, in order: some ask for sampling, some refuse, some are not trace headers. */
const TRACE_CASES: Array<Array<[string, string]>> = [
  [],
  [['X-Other', '1']],
  [['uber-trace-id', '479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1'], ['uberctx-user', 'alice'], ['X-Other', 'y']],
  [['Uber-Trace-Id', '479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:0']],
  [['Uber-Trace-Id', '479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1:extra']],
  [['Uber-Trace-Id', 'a:b:c:03']],
  [['X-B3-Sampled', '1'], ['X-B3-TraceId', '80f198ee56343ba864fe8b2a57d3eff7'], ['X-B3-SpanId', 'e457b5a2e4d86bd1'], ['X-B3-ParentSpanId', '05e3ac9a4f6e3b90']],
  [['X-B3-Sampled', '0'], ['X-B3-TraceId', '80f198ee56343ba864fe8b2a57d3eff7']],
  [['X-B3-Sampled', 'true'], ['X-B3-TraceId', '80f198ee56343ba864fe8b2a57d3eff8']],
  [['X-B3-TraceId', '80f198ee56343ba864fe8b2a57d3eff9']],
  [['b3', '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90']],
  [['b3', '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0']],
  [['b3', '0']],
  [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'], ['tracestate', 'congo=t61rcWkgMzE']],
  [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00']],
  [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-01']],
];

/** Every case through the import (answered), then a marker request that is always sampled: the
 *  metrics' `header` fields in order, each tagged with its case by the request's payload. */
function tracedScenario(s: ConfigServer): Promise<Json> {
  return withUsers(s, async (a, b, metrics) => {
    const seen: string[] = [];
    a.subscribe('traced', { callback: (_e, m) => { seen.push(m.string()); m.respond('ok'); } });
    await a.flush();
    for (let i = 0; i < TRACE_CASES.length; i++) {
      const h = headers();
      for (const [k, v] of TRACE_CASES[i]!) h.append(k, v);
      await b.request('traced', String(i), { headers: TRACE_CASES[i]!.length ? h : undefined, timeout: 10_000 });
    }
    const marker = headers();
    marker.set('traceparent', '00-11111111111111111111111111111111-2222222222222222-01');
    await b.request('traced', 'marker', { headers: marker, timeout: 10_000 });
    await waitUntil(() => metrics.some((m) => (m.header as Json | undefined)?.Traceparent?.toString().startsWith('00-1111')));
    return {
      answered: seen.length,
      statuses: metrics.map((m) => m.status),
      headers: metrics.map((m) => m.header),
      keys: metrics.map((m) => Object.keys(m).join(',')),
    };
  });
}

test('latency sampling by trace headers: which requests are measured and the metric header field, as nats-server', { skip: natsServerSkip() }, async (t) => {
  const servers = await startConfigServers(t, TRACED_CONF);
  const ts = await tracedScenario(servers[0]);
  const ns = await tracedScenario(servers[1]);
  assert.equal(ts.answered, TRACE_CASES.length + 1);
  // Jaeger with baggage, B3 sampled, B3 trace id with an unknown sampled value, B3 trace id alone,
  // b3 single header, W3C with state, and the marker
  assert.equal((ts.headers as unknown[]).length, 8, JSON.stringify(ts.headers));
  assert.deepEqual((ts.headers as Json[])[0], { 'Uber-Trace-Id': ['479fefe9525eddb:5adb976bfc1f95c1:479fefe9525eddb:1'], 'Uberctx-User': ['alice'] });
  assert.ok((ts.keys as string[]).every((k) => k.includes('responder,header,start')), JSON.stringify(ts.keys));
  assert.deepEqual(ts, ns);
});
