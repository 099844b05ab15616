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
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import net from 'node:net';
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

/**
 * Two rewrites of a module's CommonJS text, both about start-up CPU (every server runs each of them
 * once per require, ~2,500 times at start):
 * - a relative require names its module by id, resolved here, not by a path resolved at run time
 *   (string splits and joins per require, 3-6 ms of a start);
 * - a namespace import of a Node.js built-in (`import * as fs from 'node:fs'`) takes the module
 *   itself instead of TypeScript's __importStar copy, which defines a getter per export (fs and
 *   zlib have ~100) in every importing module: the same names, read the same way.
 */
function linkRequires(id, body) {
  return body
    .replace(/\brequire\((["'])(\.\.?\/[^"'\n]*)\1\)/g, (all, _q, spec) => {
      const target = resolveSpec(id, spec);
      return ids.has(target) ? `__tsnatsLoad(${JSON.stringify(target)})` : all;
    })
    .replace(/\b__importStar\(require\((["'])(node:[a-z_/]+)\1\)\)/g, (_all, _q, spec) => `require(${JSON.stringify(spec)})`);
}

/** The id (path under dist/src) that `spec`, required from module `from`, names. */
function resolveSpec(from, spec) {
  const parts = from.split('/');
  parts.pop();
  for (const s of spec.split('/')) {
    if (s === '..') parts.pop();
    else if (s !== '.' && s !== '') parts.push(s);
  }
  return parts.join('/');
}

// The bundle is one function expression: (hostRequire, srcDir, pathToFileURL) => require of module ids
// ('./cli-run.js', './index.js', ...) relative to dist/src. Modules are evaluated on first require, as
// the ES modules would be on first import.
let code = `(function (hostRequire, srcDir, pathToFileURL) {
'use strict';
const defs = Object.create(null);
const cache = Object.create(null);
${resolveSpec.toString()}
function load(id) {
  const done = cache[id];
  if (done !== undefined) return done.exports;
  const def = defs[id];
  if (def === undefined) throw new Error('tsnats bundle: no module ' + id);
  const module = { exports: {} };
  cache[id] = module;
  // Only the few modules that use import.meta.url take its replacement (a 4th parameter):
  // pathToFileURL costs tens of microseconds a call in a process that just started.
  def(module, module.exports, (spec) => (spec.startsWith('.') ? load(resolveSpec(id, spec)) : hostRequire(spec)),
    def.length === 4 ? pathToFileURL(srcDir + '/' + id).href : undefined);
  return module.exports;
}
// The modules' own relative requires are resolved when the bundle is built (linkRequires).
const __tsnatsLoad = load;
`;
const files = modules();
const ids = new Set(files.map((f) => relative(srcDir, f).split('\\').join('/')));
for (const f of files) {
  const id = relative(srcDir, f).split('\\').join('/');
  const body = linkRequires(id, toCommonJs(f));
  const params = /\b__moduleUrl\b/.test(body) ? 'module, exports, require, __moduleUrl' : 'module, exports, require';
  code += `defs[${JSON.stringify(id)}] = function (${params}) {\n${body}\n};\n`;
}
code += `return (spec) => load(resolveSpec('', spec));\n})`;
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

// Code cache: compile and run the bundle here, then keep what V8 compiled. What a server compiles
// lazily after the cache was made costs it parsing and bytecode generation at run time (in a cold
// cluster start, 15-20% of each server's CPU went there when the cache held a lone server's
// start only), so the run goes through what a clustered JetStream server does first: three
// servers with JetStream, routes and monitoring meet, elect a meta leader (routes, raft, the meta
// group, peer and snapshot handling), answer /jsz, and one stream is created and published to
// through the client protocol (the clustered API, placement, the file store). A failure or a
// timeout here leaves the bundle with a cache of what ran so far (or none): a slower start,
// the same behaviour; it never fails the build.
try {
  const script = new vm.Script(code, { filename: outFile });
  const req = script.runInThisContext()(createRequire(join(srcDir, 'cli.js')), srcDir, pathToFileURL);
  const tmp = mkdtempSync(join(tmpdir(), 'tsnats-bundle-'));
  const servers = [];
  let data;
  try {
    try {
      await exerciseCluster(req, tmp, servers);
    } catch (e) {
      console.warn(`bundle: the code cache run stopped early (${e instanceof Error ? e.message : String(e)}); the cache holds what ran`);
    }
    data = script.createCachedData();
  } finally {
    for (const h of servers.reverse()) await h.shutdown().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
  writeFileSync(cacheFile, data);
  console.log(`bundle: V8 code cache ${(data.length / 1024).toFixed(0)} KiB -> ${relative(root, cacheFile)}`);
} catch (e) {
  console.warn(`bundle: no code cache (${e instanceof Error ? e.message : String(e)}); the bundle still works without one`);
}

/** The code cache run: see above. Servers started are pushed to `servers` (the caller stops them). */
async function exerciseCluster(req, tmp, servers) {
  const deadline = Date.now() + 20_000;
  const routeUser = `r${randomBytes(6).toString('hex')}`;
  const routePass = randomBytes(12).toString('hex');
  const { resolveOptions } = req('./config/flags.js');
  const { startServer } = req('./index.js');
  for (let i = 1; i <= 3; i++) {
    // The first server routes to a port nobody listens on (clustered JetStream needs a route); the
    // others to the servers already up.
    // Route credentials of this run alone: a test cluster dialling a port it once knew never joins.
    const routes = i === 1 ? ['nats-route://127.0.0.1:1'] : servers.map((h) => `nats-route://${routeUser}:${routePass}@127.0.0.1:${h.clusterPort}`);
    const conf = join(tmp, `cache${i}.conf`);
    writeFileSync(conf, [
      `server_name: cache${i}`, 'listen: 127.0.0.1:-1', 'http: 127.0.0.1:-1',
      `jetstream { store_dir: "${join(tmp, `js${i}`)}" }`,
      `cluster { name: C, listen: 127.0.0.1:-1, authorization { user: "${routeUser}", password: "${routePass}" }, routes: [ ${routes.join(', ')} ] }`,
      'accounts { SYS { users: [ {user: sys, password: sys} ] }, APP { jetstream: enabled, users: [ {user: a, password: a} ] } }',
      'system_account: SYS',
    ].join('\n'));
    servers.push(await startServer({}, { fullOptions: resolveOptions(['-c', conf]).options, quietLog: true }));
  }
  // Every server names the same meta leader, which sees both others.
  for (;;) {
    const metas = await Promise.all(servers.map(async (h) => (await (await fetch(`http://127.0.0.1:${h.httpPort}/jsz`)).json()).meta_cluster));
    const leader = metas[0]?.leader;
    if (leader && metas.every((m) => m?.leader === leader) && metas.some((m) => (m.replicas ?? []).length === 2)) break;
    if (Date.now() > deadline) throw new Error('no meta leader');
    await new Promise((r) => setTimeout(r, 20));
  }
  await clientExchange(servers[0].port, deadline);
}

/** A client of the APP account creates an R1 stream and publishes one message to it, each answered. */
function clientExchange(port, deadline) {
  const body = JSON.stringify({ name: 'CACHE', subjects: ['cache.>'], num_replicas: 1 });
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => finish(new Error('no reply from the clustered API')), Math.max(0, deadline - Date.now()));
    let buf = '';
    let step = 0;
    const finish = (err) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.on('error', finish);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (step === 0 && buf.includes('INFO ')) {
        step = 1;
        buf = '';
        sock.write(`CONNECT {"verbose":false,"pedantic":false,"user":"a","pass":"a","headers":true}\r\nSUB _INBOX.cache 1\r\n` +
          `PUB $JS.API.STREAM.CREATE.CACHE _INBOX.cache ${Buffer.byteLength(body)}\r\n${body}\r\n`);
      } else if (step === 1 && /MSG _INBOX\.cache 1 \d+\r\n.*\r\n/s.test(buf)) {
        if (!buf.includes('"type":"io.nats.jetstream.api.v1.stream_create_response"') || buf.includes('"error"')) {
          finish(new Error(`stream create failed: ${buf.slice(0, 200)}`));
          return;
        }
        step = 2;
        buf = '';
        sock.write('PUB cache.x _INBOX.cache 2\r\nhi\r\n');
      } else if (step === 2 && /MSG _INBOX\.cache 1 \d+\r\n.*\r\n/s.test(buf)) {
        finish(buf.includes('"stream":"CACHE"') ? undefined : new Error(`publish failed: ${buf.slice(0, 200)}`));
      }
    });
  });
}
