// The `leafnodes {}` block (nats-server parseLeafNodes): the accept side (listen/port/host,
// authorization) and the remotes this server dials. Kept apart from src/leaf so reading a
// config never loads the leaf module.
import { ConfigError, type ConfNode } from './parser.js';
import { Collector, arrOf, bool, entries, goType, int, optionalPortFromConfig, parseListen, str } from './load-util.js';
import { parseTls } from './load-blocks.js';
import { goQuote } from './duration.js';
import type { LeafnodeOptions, LeafRemoteOptions, LeafUser } from './options.js';

export function parseLeafnodes(n: ConfNode, c: Collector): LeafnodeOptions {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected leafnodes to be a map, got ${goType(n)}`);
  const l: LeafnodeOptions = { host: '0.0.0.0', remotes: [], users: [], reconnectMs: 1000 };
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'listen': {
          const hp = parseListen(v);
          if (hp.host !== undefined) l.host = hp.host === '' ? '0.0.0.0' : hp.host;
          l.port = optionalPortFromConfig(hp.port);
          break;
        }
        case 'port': l.port = optionalPortFromConfig(int(v)); break;
        case 'host': case 'net': l.host = str(v); break;
        case 'advertise': case 'leafnode_advertise': l.advertise = str(v); break;
        case 'reconnect': case 'reconnect_delay': case 'reconnect_interval': l.reconnectMs = Math.max(1, int(v)) * 1000; break;
        case 'authorization': parseLeafAuth(v, l, c); break;
        case 'remotes': l.remotes = arrOf(v).map((r) => parseRemote(r, c)); break;
        case 'no_advertise': case 'min_version': case 'minimum_version': break;
        case 'tls': l.tls = parseTls(v, false); break;
        // nats-server 2.9.10 knows no other key here (compression came with 2.10)
        default: c.unknownField(v, key);
      }
    });
  }
  return l;
}

function parseLeafAuth(n: ConfNode, l: LeafnodeOptions, c: Collector): void {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected leafnodes authorization to be a map, got ${goType(n)}`);
  for (const [k, key, v] of entries(n.value)) {
    switch (k) {
      case 'user': case 'username': l.user = str(v); break;
      case 'pass': case 'password': l.password = str(v); break;
      case 'account': l.account = str(v); break;
      case 'timeout': l.authTimeoutMs = Math.round((v.kind === 'integer' || v.kind === 'float' ? Number(v.value) : 1) * 1000); break;
      case 'users':
        l.users = arrOf(v).map((u): LeafUser => {
          if (u.kind !== 'map') throw ConfigError.at(u, 'Leafnode authorization users must be maps');
          const e: LeafUser = { user: '', password: '' };
          for (const [uk, ukey, uv] of entries(u.value)) {
            if (uk === 'user' || uk === 'username') e.user = str(uv);
            else if (uk === 'pass' || uk === 'password') e.password = str(uv);
            else if (uk === 'account') e.account = str(uv);
            // nats-server 2.9.10 takes nothing else here (permissions come from client users)
            else c.unknownField(uv, ukey);
          }
          return e;
        });
        break;
      // nkey users and the rest of a client authorization block are not leaf auth in nats-server 2.9.10
      default: c.unknownField(v, key);
    }
  }
}

function parseRemote(n: ConfNode, c: Collector): LeafRemoteOptions {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected remote leafnode entry to be a map/struct, got ${goType(n)}`);
  const r: LeafRemoteOptions = { urls: [] };
  for (const [k, key, v] of entries(n.value)) {
    switch (k) {
      case 'url': r.urls.push(str(v)); break;
      case 'urls': r.urls.push(...arrOf(v).map(str)); break;
      case 'account': case 'local': r.account = str(v); break;
      case 'credentials': case 'creds': r.credentials = str(v); break;
      case 'hub': r.hub = bool(v); break;
      case 'tls': r.tls = parseTls(v, false); break;
      case 'deny_imports': case 'deny_import': r.denyImports = subjects(v); break;
      case 'deny_exports': case 'deny_export': r.denyExports = subjects(v); break;
      case 'ws_compress': case 'ws_compression': case 'websocket_compress': case 'websocket_compression': r.wsCompression = bool(v); break;
      case 'ws_no_masking': case 'websocket_no_masking': r.wsNoMasking = bool(v); break;
      case 'no_randomize': case 'dont_randomize': case 'jetstream_cluster_migrate': case 'js_cluster_migrate':
        c.notSupported(v, `leafnodes remote ${key}`);
        break;
      // as nats-server 2.9.10: no `nkey`/`seed` (a remote authenticates with url user/password or credentials)
      default: c.unknownField(v, key);
    }
  }
  if (r.urls.length === 0) throw ConfigError.at(n, 'leafnode remote requires at least one url');
  // nats-server validateLeafNode: one remote dials either websocket or leaf-protocol urls.
  const isWs = (url: string): boolean => /^ws/i.test(url);
  if (r.urls.some((url) => isWs(url) !== isWs(r.urls[0]!))) {
    throw ConfigError.at(n, `remote leaf node configuration cannot have a mix of websocket and non-websocket urls: [${r.urls.map((x) => goQuote(redactUrl(x))).join(' ')}]`);
  }
  return r;
}

/** A url with its password shown as "xxxxx" (nats-server redactURLList). */
function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1xxxxx@');
}

/** A subject or a list of subjects. */
function subjects(n: ConfNode): string[] {
  return n.kind === 'array' ? arrOf(n).map(str) : [str(n)];
}
