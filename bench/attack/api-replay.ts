// Replay a list of $JS.API requests (JSON lines {subject, body} from a file, body as raw text)
// against a fresh 3-server cluster of each implementation and print the answers side by side.
//
//   node dist/bench/attack/api-replay.js requests.jsonl [tsnats nats-server]
import { readFileSync } from 'node:fs';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';

const [file, ...implArgs] = process.argv.slice(2);
const impls = (implArgs.length > 0 ? implArgs : ['tsnats', 'nats-server']) as Impl[];
const reqs = readFileSync(file!, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { subject: string; body: string });

async function run(impl: Impl): Promise<string[]> {
  const c = await JsCluster.start({ impl, size: 3 });
  const out: string[] = [];
  try {
    const nc = await c.connect(c.nodes[0]!);
    for (const r of reqs) {
      const m = await nc.request(r.subject, r.body, { timeout: 10_000 }).then((x) => x.string()).catch((e: unknown) => `(${String(e)})`);
      out.push(m.replace(/"(created|ts|first_ts|last_ts)":"[^"]*",?/g, ''));
    }
  } finally {
    await c.shutdown();
  }
  return out;
}

const results = new Map<Impl, string[]>();
for (const impl of impls) results.set(impl, await run(impl));
reqs.forEach((r, i) => {
  console.log(`>>> ${r.subject} ${r.body.slice(0, 300)}`);
  for (const impl of impls) console.log(`  ${impl.padEnd(11)} ${results.get(impl)![i]!.slice(0, 700)}`);
});
