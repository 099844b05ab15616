import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseRouteInfo, routeInfoJson, parseRouteConnect, routeConnectJson,
} from '../../src/cluster/route-info.js';
import { readVectorJson } from '../helpers/vectors.js';

// Captured from nats-server 2.9.10 (test/fixtures/vectors/route/route_transcript.json): the INFO
// n1 sent on accepting a route, and the CONNECT n2 sent when it dialled the capturing peer.
interface RouteCapture {
  server_frames: { op: string; control_line: string }[];
  inbound_dials: { chunks: { dir: string; text: string }[] }[];
}
const CAPTURE = readVectorJson<RouteCapture>('route', 'route_transcript.json');
const N1_INFO = /^INFO (\{.*\}) $/.exec(CAPTURE.server_frames.find((f) => f.op === 'INFO')!.control_line)![1]!;
const N2_CONNECT = /^CONNECT (\{.*\})\r\n/.exec(CAPTURE.inbound_dials[0]!.chunks[0]!.text)![1]!;

test('route INFO round-trips byte for byte in nats-server field order', () => {
  const info = parseRouteInfo(N1_INFO);
  assert.equal(info.server_id, 'NDLYBZIPHX2JADNVRIZ7L6PSJS3EWBF4PTHDRS7NVTCLCY772MI3XSQV');
  assert.equal(info.proto, 2);
  assert.deepEqual(info.connect_urls, ['127.0.0.1:34221']);
  assert.equal(routeInfoJson(info), N1_INFO);
  // fields given out of order come back in Go order; omitempty fields vanish
  const shuffled = routeInfoJson({
    lnoc: true, cluster: 'C1', max_payload: 1, headers: true, port: 2, host: 'h', go: 'g', proto: 2,
    version: 'v', server_name: 'n', server_id: 'NID', jetstream: false, connect_urls: [], ip: 'nats-route://h:2/',
  });
  assert.equal(shuffled, '{"server_id":"NID","server_name":"n","version":"v","proto":2,"go":"g","host":"h","port":2,"headers":true,"max_payload":1,"ip":"nats-route://h:2/","cluster":"C1","lnoc":true}');
});

test('route INFO parsing rejects junk', () => {
  assert.throws(() => parseRouteInfo('not json'));
  assert.throws(() => parseRouteInfo('[1]'));
  assert.throws(() => parseRouteInfo('{"server_name":"x"}'));
});

test('route CONNECT matches the 2.9.10 dialler bytes; user/pass only when set', () => {
  const c = parseRouteConnect(N2_CONNECT);
  assert.equal(c.name, 'NAYOEET7D6OG45IKKCYDNMZX7XEMJOJYGA6P5OKT5SYSUSGIYKCIBWD3');
  assert.equal(routeConnectJson(c), N2_CONNECT);
  const withAuth = routeConnectJson({ ...c, user: 'ru', pass: 'rp' });
  assert.equal(withAuth, '{"echo":true,"verbose":false,"pedantic":false,"user":"ru","pass":"rp","tls_required":false,"headers":true,"name":"NAYOEET7D6OG45IKKCYDNMZX7XEMJOJYGA6P5OKT5SYSUSGIYKCIBWD3","cluster":"C1","lnoc":true}');
  assert.equal(parseRouteConnect('{"lang":"node","name":"x"}').lang, 'node');
});
