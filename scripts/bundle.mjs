// Single-file build of the server for the `tsnats` command (run by `npm run build`, after tsc).
//
// Why: a clustered JetStream server loads ~155 ES modules at start; Node's ES module loader
// resolves, opens, reads and compiles each one separately, which costs about as much CPU as
// everything else the start does. Here every compiled module under dist/src is turned into a
// CommonJS function body (TypeScript's own transpiler, no bundler dependency) and all of them
// go into one file, dist/src/bundle/tsnats.js, with a small require() between them. The
// launcher (src/cli.ts) compiles that file with the V8 code cache written next to it
// (tsnats.cache), produced here by starting a JetStream + cluster + monitoring server from the
// bundle on 127.0.0.1 and asking V8 for the code it compiled meanwhile.
//
// The source layout, the ES module build (tests, `import 'tsnats'`) and startServer() are
// unchanged: only the command uses this file, and it falls back to the ES modules when the
// bundle is missing or older than the last tsc build (src/cli.ts).
//
// Usage: node scripts/bundle.mjs            (writes dist/src/bundle/tsnats.js and tsnats.cache)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'dist', 'src');
const outDir = join(srcDir, 'bundle');
const outFile = join(outDir, 'tsnats.js');
const cacheFile = join(outDir, 'tsnats.cache');
// Transpiled modules of the previous run, by path, size and mtime: tsc rewrites only the files
// that changed, so a rebuild transpiles a few modules instead of all (~25 ms each).
const partsFile = join(root, 'dist', '.bundle-parts.json');
let parts = {};
try {
  parts = JSON.parse(readFileSync(partsFile, 'utf8'));
} catch {
  // first build
}
const nextParts = {};

/** Every compiled module under dist/src except the launcher and the bundle itself. */
function modules() {
  const out = [];
  (function walk(d) {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) {
        if (p !== outDir) walk(p);
      } else if (p.endsWith('.js')) out.push(p);
    }
  })(srcDir);
  return out.filter((p) => p !== join(srcDir, 'cli.js'));
}

let ts;

function toCommonJs(file) {
  const st = statSync(file);
  const key = `${st.size}:${st.mtimeMs}`;
  const known = parts[file];
  if (known !== undefined && known.key === key) {
    nextParts[file] = known;
    return known.out;
  }
  const text = readFileSync(file, 'utf8')
    .replace(/^#!.*\n/, '')
    .replace(/^\/\/# sourceMappingURL=.*$/m, '')
    // import.meta.url is only used for createRequire(): the module's original file URL does.
    .replace(/\bimport\.meta\.url\b/g, '__moduleUrl');
  // typescript takes ~1-2 s to load: only when a module changed.
  ts ??= createRequire(import.meta.url)('typescript');
  const r = ts.transpileModule(text, {
    fileName: file,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, removeComments: true },
  });
  nextParts[file] = { key, out: r.outputText };
  return r.outputText;
}

// The bundle is one function expression: (hostRequire, srcDir, pathToFileURL) => require of module ids
// ('./cli-run.js', './index.js', ...) relative to dist/src. Modules are evaluated on first require, as
// the ES modules would be on first import.
let code = `(function (hostRequire, srcDir, pathToFileURL) {
'use strict';
const defs = Object.create(null);
const cache = Object.create(null);
function resolveId(from, spec) {
  const parts = from.split('/');
  parts.pop();
  for (const s of spec.split('/')) {
    if (s === '..') parts.pop();
    else if (s !== '.' && s !== '') parts.push(s);
  }
  return parts.join('/');
}
function load(id) {
  const done = cache[id];
  if (done !== undefined) return done.exports;
  const def = defs[id];
  if (def === undefined) throw new Error('tsnats bundle: no module ' + id);
  const module = { exports: {} };
  cache[id] = module;
  def(module, module.exports, (spec) => (spec.startsWith('.') ? load(resolveId(id, spec)) : hostRequire(spec)),
    pathToFileURL(srcDir + '/' + id).href);
  return module.exports;
}
`;
const files = modules();
for (const f of files) {
  const id = relative(srcDir, f).split('\\').join('/');
  code += `defs[${JSON.stringify(id)}] = function (module, exports, require, __moduleUrl) {\n${toCommonJs(f)}\n};\n`;
}
code += `return (spec) => load(resolveId('', spec));\n})`;
// V8 keeps the script's source for as long as the process runs (functions are compiled lazily
// from it). One character outside Latin-1 (a 'μ' or '…' in a string) makes the whole source a
// two-byte string, twice the memory (3.5 MB instead of 1.75 MB); the few there are become \u escapes,
// which mean the same in the string, template and regex literals they occur in (comments are gone).
code = code.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
mkdirSync(outDir, { recursive: true });
writeFileSync(outFile, code);
writeFileSync(partsFile, JSON.stringify(nextParts));
rmSync(cacheFile, { force: true });
console.log(`bundle: ${files.length} modules, ${(code.length / 1024).toFixed(0)} KiB -> ${relative(root, outFile)}`);

// Code cache: compile and run the bundle here, start a server that uses JetStream, routes and
// monitoring (what a clustered start compiles), then keep what V8 compiled. A failure here leaves
// the bundle without a cache (slower start, same behaviour) and does not fail the build.
try {
  const script = new vm.Script(code, { filename: outFile });
  const req = script.runInThisContext()(createRequire(join(srcDir, 'cli.js')), srcDir, pathToFileURL);
  const tmp = mkdtempSync(join(tmpdir(), 'tsnats-bundle-'));
  try {
    const conf = join(tmp, 'cache.conf');
    writeFileSync(conf, [
      'server_name: cache', 'listen: 127.0.0.1:-1', 'http: 127.0.0.1:-1',
      `jetstream { store_dir: "${join(tmp, 'js')}" }`,
      // A route to a port nobody listens on: the cluster code runs, no peer is ever met.
      'cluster { name: C, listen: 127.0.0.1:-1, routes: [ nats-route://127.0.0.1:1 ] }',
      'accounts { SYS { users: [ {user: sys, password: sys} ] }, APP { jetstream: enabled, users: [ {user: a, password: a} ] } }',
      'system_account: SYS',
    ].join('\n'));
    const r = req('./config/flags.js').resolveOptions(['-c', conf]);
    const h = await req('./index.js').startServer({}, { fullOptions: r.options, quietLog: true });
    const data = script.createCachedData();
    await h.shutdown();
    writeFileSync(cacheFile, data);
    console.log(`bundle: V8 code cache ${(data.length / 1024).toFixed(0)} KiB -> ${relative(root, cacheFile)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} catch (e) {
  console.warn(`bundle: no code cache (${e instanceof Error ? e.message : String(e)}); the bundle still works without one`);
}
