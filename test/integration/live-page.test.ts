// The live cluster page at `/` of the monitoring port, rendered by headless Chromium against a
// running 3-server tsnats cluster: it keeps nats-server's links, shows the three servers and the
// meta leader, and a stream added while the page is up appears with its leader and consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, AckPolicy } from '@nats-io/jetstream';
import { JsCluster, pollUntil } from '../cluster/js-cluster-harness.js';
import { chromiumSkip, dumpDom } from '../helpers/chromium.js';

/** Text of every element with class `cls` in a dumped DOM (the page's own script left out). */
function byClass(dom: string, cls: string): string[] {
  const body = dom.replace(/<script>.*?<\/script>/gs, '');
  return [...body.matchAll(new RegExp(`<span class="${cls}">([^<]*)</span>`, 'g'))].map((m) => m[1]!);
}

test('live page: servers of a 3-server cluster, then a stream added while it is open', { skip: chromiumSkip(), timeout: 180_000 }, async (t) => {
  const c = await JsCluster.start({ impl: 'tsnats', size: 3 });
  t.after(() => c.shutdown());
  const leader = await c.metaLeader();
  const n = c.nodes[1]!;
  const page = `${n.monitorUrl}/`;

  let seen = '';
  const first = await pollUntil(async () => {
    const dom = await dumpDom(page);
    const servers = byClass(dom, 'server-name').sort();
    seen = `${servers.join(',')} / ${/<div id="live-servers">.*?<\/div><\/div>/s.exec(dom)?.[0] ?? dom.slice(0, 3000)}`;
    return servers.join(',') === 'n1,n2,n3' && dom.includes(`<span id="meta-leader">${leader.name}</span>`) ? dom : undefined;
  }, 'the page to list n1, n2, n3 and the meta leader', 90_000, 200).catch((e: Error) => {
    throw new Error(`${e.message}; last seen: ${seen}`);
  });
  assert.match(first, /<a href="\.\/varz">General/, 'nats-server\'s links stay on the page');
  assert.deepEqual(byClass(first, 'stream-name'), []);
  assert.match(first, /<svg [^>]*data-series="in_msgs"/);

  const nc = await c.connect(n);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'LIVE', subjects: ['live.>'], num_replicas: 3 });
  await jsm.consumers.add('LIVE', { durable_name: 'WATCH', ack_policy: AckPolicy.Explicit });
  const js = jsm.jetstream();
  for (let i = 0; i < 5; i++) await js.publish(`live.${i}`, 'x');
  const info = await jsm.streams.info('LIVE');
  const streamLeader = info.cluster?.leader;
  assert.ok(streamLeader);

  // Each server's /jsz reports the assets it holds as that server sees them; the group leaders
  // see their followers, so the stream is checked on its leader's page, the consumer on its own.
  const consumerLeader = (await jsm.consumers.info('LIVE', 'WATCH')).cluster?.leader;
  assert.ok(consumerLeader);
  const showing = async (node: string, what: string, ok: (d: string) => boolean): Promise<string> => {
    const url = `${c.node(node).monitorUrl}/`;
    return pollUntil(async () => {
      const d = await dumpDom(url);
      seen = /<div id="live-streams">.*?<\/div>/s.exec(d)?.[0] ?? d.slice(0, 3000);
      return ok(d) ? d : undefined;
    }, `${node}'s page to show ${what}`, 90_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}; last seen: ${seen}`);
    });
  };
  const dom = await showing(streamLeader, 'stream LIVE', (d) => byClass(d, 'stream-name').includes('LIVE'));
  await showing(consumerLeader, 'consumer WATCH', (d) => byClass(d, 'consumer-name').includes('WATCH'));
  const row = /<tr><td><span class="stream-name">LIVE<\/span>.*?<\/tr>/s.exec(dom)![0];
  const cells = [...row.matchAll(/<td>(.*?)<\/td>/gs)].map((m) => m[1]!.replace(/<[^>]*>/g, ''));
  assert.equal(cells[1], streamLeader, 'the stream leader column');
  assert.equal(cells[3], '5', 'the message count');
  const replicaNames = cells[2]!.split(',').map((s) => s.trim().split(' ')[0]).sort();
  assert.deepEqual(replicaNames, ['n1', 'n2', 'n3'].filter((x) => x !== streamLeader));
});
