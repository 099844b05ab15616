// Allocation profile of a server process, for benchmarks: V8's sampling heap profiler with the
// objects later collected by minor and major GCs included (node's --heap-prof reports live objects
// only, which hides short-lived per-message garbage). Sampling starts HS_START_MS (default 2000)
// after start and stops at SIGTERM; the profile goes to HS_DIR/<pid>.heapprofile.
//   TSNATS_CHILD_NODE_ARGS="--require $PWD/bench/heap-sample-preload.cjs" R3_GRACEFUL_STOP=1 \
//     R3_PARTS=pub node dist/bench/run.js cluster-r3 --tsnats-only
//   node bench/heap-sample-summary.cjs HS_DIR/<pid>.heapprofile
const inspector = require('node:inspector');
const fs = require('node:fs');

const session = new inspector.Session();
session.connect();
const dir = process.env.HS_DIR ?? '/tmp/tsnats-heap-sample';
fs.mkdirSync(dir, { recursive: true });
let sampling = false;
setTimeout(() => {
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 2048, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  }, (err) => { sampling = !err; });
}, Number(process.env.HS_START_MS ?? 2000)).unref();
// Runs before the server's own SIGTERM handler; the in-process session answers synchronously.
process.prependListener('SIGTERM', () => {
  if (!sampling) return;
  sampling = false;
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) fs.writeFileSync(`${dir}/${process.pid}.heapprofile`, JSON.stringify(r.profile));
  });
});
