// Allocation profile of a server process, for benchmarks: V8's sampling heap profiler with the
// objects later collected by minor and major GCs included (node's --heap-prof reports live objects
// only, which hides short-lived per-message garbage). Sampling starts HS_START_MS (default 2000)
// after start and stops at SIGTERM; the profile goes to HS_DIR/<pid>.heapprofile.
//   TSNATS_CHILD_NODE_ARGS="--require $PWD/bench/heap-sample-preload.cjs" R3_GRACEFUL_STOP=1 \
//     R3_PARTS=pub node dist/bench/run.js cluster-r3 --tsnats-only
//   node bench/heap-sample-summary.cjs HS_DIR/<pid>.heapprofile
// HS_ON_SIGNAL=1 instead samples between SIGWINCH pairs (the first starts, the second writes
// HS_DIR/<pid>-<n>.heapprofile): the cluster-r3 bench sends them around each drain when
// R3_HEAP_SIGNAL=1, so a profile holds one drain's allocations (bytes per consumed message).
const inspector = require('node:inspector');
const fs = require('node:fs');

const session = new inspector.Session();
session.connect();
const dir = process.env.HS_DIR ?? '/tmp/tsnats-heap-sample';
fs.mkdirSync(dir, { recursive: true });
let sampling = false;
let profiles = 0;

function start() {
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 2048, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
  }, (err) => { sampling = !err; });
}

function stop(file) {
  if (!sampling) return;
  sampling = false;
  // The in-process session answers synchronously.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) fs.writeFileSync(file, JSON.stringify(r.profile));
  });
}

if (process.env.HS_ON_SIGNAL === '1') {
  process.on('SIGWINCH', () => {
    if (sampling) stop(`${dir}/${process.pid}-${++profiles}.heapprofile`);
    else start();
  });
} else {
  setTimeout(start, Number(process.env.HS_START_MS ?? 2000)).unref();
  // Runs before the server's own SIGTERM handler.
  process.prependListener('SIGTERM', () => stop(`${dir}/${process.pid}.heapprofile`));
}
