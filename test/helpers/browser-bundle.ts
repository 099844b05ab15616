// The official NATS JavaScript client, as a browser page loads it: the @nats-io packages are
// published as CommonJS, so a page cannot import them from node_modules directly. This helper
// walks their require() graph from the given entry packages and writes one classic script that
// defines each module as a function with a small require() between them (the same idea as
// scripts/bundle.mjs for the server), then exposes the entries on `window.nats`. No bundler
// dependency, no CDN: the test serves the script itself.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REQUIRE_RE = /\brequire\(\s*["']([^"']+)["']\s*\)/g;

/** File of package `spec` ("@nats-io/kv", "@nats-io/nats-core/internal") as seen from `fromDir`. */
function resolvePackage(spec: string, fromDir: string): string | undefined {
  const parts = spec.split('/');
  const nameLen = spec.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameLen).join('/');
  const sub = parts.slice(nameLen).join('/');
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    const pkgJson = join(pkgDir, 'package.json');
    if (existsSync(pkgJson)) {
      const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { main?: string; exports?: Record<string, unknown> | string };
      const key = sub ? `./${sub}` : '.';
      let target: unknown = typeof pkg.exports === 'string' ? (key === '.' ? pkg.exports : undefined) : pkg.exports?.[key];
      if (target && typeof target === 'object') {
        const cond = target as Record<string, unknown>;
        target = cond.require ?? cond.default ?? cond.browser;
      }
      if (typeof target !== 'string') target = key === '.' ? (pkg.main ?? 'index.js') : sub;
      return resolveFile(join(pkgDir, target as string));
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function resolveFile(path: string): string | undefined {
  for (const p of [path, `${path}.js`, join(path, 'index.js')]) {
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/**
 * One script that sets `window.nats[alias]` to the exports of each entry package, e.g.
 * `browserBundle({ core: '@nats-io/nats-core', kv: '@nats-io/kv' })`. A require() that does not
 * resolve to a file (a Node built-in behind a feature test, as tweetnacl's `require('crypto')`)
 * becomes a module that throws only if the page really calls it.
 */
export function browserBundle(entries: Record<string, string>): string {
  const root = dirname(fileURLToPath(import.meta.url));
  const ids = new Map<string, number>();
  const bodies: string[] = [];
  const add = (file: string): number => {
    const known = ids.get(file);
    if (known !== undefined) return known;
    const id = bodies.length;
    ids.set(file, id);
    bodies.push('');
    const src = readFileSync(file, 'utf8');
    const deps: Record<string, number> = {};
    for (const m of src.matchAll(REQUIRE_RE)) {
      const spec = m[1]!;
      if (spec in deps) continue;
      const target = spec.startsWith('.') ? resolveFile(join(dirname(file), spec)) : resolvePackage(spec, dirname(file));
      deps[spec] = target ? add(target) : -1;
    }
    bodies[id] = `[function (module, exports, require) {\n${src}\n}, ${JSON.stringify(deps)}]`;
    return id;
  };
  const exposed = Object.entries(entries).map(([alias, spec]) => {
    const file = resolvePackage(spec, root);
    if (!file) throw new Error(`browserBundle: cannot resolve ${spec}`);
    return [alias, add(file)] as const;
  });
  return `(function () {
var defs = [${bodies.join(',\n')}];
var cache = {};
function load(id) {
  if (cache[id]) return cache[id].exports;
  var module = cache[id] = { exports: {} };
  var deps = defs[id][1];
  defs[id][0].call(module.exports, module, module.exports, function (spec) {
    var dep = deps[spec];
    if (dep === undefined || dep < 0) throw new Error('module not available in the browser: ' + spec);
    return load(dep);
  });
  return module.exports;
}
window.nats = {};
${exposed.map(([alias, id]) => `window.nats[${JSON.stringify(alias)}] = load(${id});`).join('\n')}
})();
`;
}
