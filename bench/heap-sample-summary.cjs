// Bytes allocated by frame and caller in a .heapprofile (bench/heap-sample-preload.cjs).
// Usage: node bench/heap-sample-summary.cjs <file.heapprofile> [top=30] [frames=2]
const fs = require('node:fs');

const [file, topArg, depthArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const depth = Number(depthArg ?? 2);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const bytes = new Map();
let total = 0;
const label = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url.replace(/.*\/dist\//, '')}:${cf.lineNumber + 1}`;
(function walk(node, stack) {
  const here = [...stack, label(node.callFrame)];
  if (node.selfSize > 0) {
    total += node.selfSize;
    const key = here.slice(-depth).reverse().join(' < ');
    bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
  }
  for (const child of node.children) walk(child, here);
})(profile.head, []);
console.log(`allocated ${(total / 1e6).toFixed(1)} MB`);
for (const [key, n] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${key}`);
}
