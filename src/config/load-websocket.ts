// The `websocket {}` block (nats-server parseWebsocket) and the checks nats-server runs on it
// when the server starts (validateWebsocketOptions). Kept apart from the websocket listener
// (src/websocket) so reading a config never loads the `ws` package.
import { ConfigError, type ConfNode } from './parser.js';
import { Collector, bool, entries, goType, int, optionalPortFromConfig, parseListen, str, strictDurationMs } from './load-util.js';
import { parseTls } from './load-blocks.js';
import { noAuthUserError, stringArray } from './load-auth.js';
import type { Options, WebsocketOptions } from './options.js';

export function defaultWebsocketOptions(): WebsocketOptions {
  return { host: '0.0.0.0', noTls: false, sameOrigin: false, allowedOrigins: [], handshakeTimeoutMs: 0, compression: false };
}

export function parseWebsocket(n: ConfNode, c: Collector): WebsocketOptions {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected websocket to be a map, got ${goType(n)}`);
  const w = defaultWebsocketOptions();
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'listen': {
          const hp = parseListen(v);
          if (hp.host !== undefined) w.host = hp.host === '' ? '0.0.0.0' : hp.host;
          w.port = optionalPortFromConfig(hp.port);
          break;
        }
        case 'port':
          w.port = optionalPortFromConfig(int(v));
          break;
        case 'host':
        case 'net':
          w.host = str(v);
          break;
        case 'advertise':
          w.advertise = str(v);
          break;
        case 'no_tls':
          w.noTls = bool(v);
          break;
        case 'tls':
          w.tls = parseTls(v, true);
          break;
        case 'same_origin':
          w.sameOrigin = bool(v);
          break;
        case 'allowed_origins':
        case 'allowed_origin':
        case 'allow_origins':
        case 'allow_origin':
        case 'origins':
        case 'origin':
          w.allowedOrigins = stringArray('allowed origins', v, c) ?? [];
          break;
        case 'handshake_timeout':
          if (v.kind === 'integer') w.handshakeTimeoutMs = v.value * 1000;
          else if (v.kind === 'string') w.handshakeTimeoutMs = strictDurationMs(v, '');
          else c.error(v, `error parsing handshake timeout: unsupported type ${goType(v)}`);
          break;
        case 'compress':
        case 'compression':
          w.compression = bool(v);
          break;
        case 'authorization':
        case 'authentication':
          parseSimpleAuth(v, w, c);
          break;
        case 'jwt_cookie':
          w.jwtCookie = str(v);
          break;
        case 'no_auth_user':
          w.noAuthUser = str(v);
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
  return w;
}

/** nats-server parseSimpleAuth: user/password, token and timeout only. */
function parseSimpleAuth(n: ConfNode, w: WebsocketOptions, c: Collector): void {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected authorization to be a map, got ${goType(n)}`);
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'user':
        case 'username':
          w.username = str(v);
          break;
        case 'pass':
        case 'password':
          w.password = str(v);
          break;
        case 'token':
          w.token = str(v);
          break;
        case 'timeout':
          // nats-server: an integer or a float of seconds; any other type means 1s.
          w.authTimeoutSec = v.kind === 'integer' || v.kind === 'float' ? v.value : 1;
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
}

/** nats-server validateWebsocketOptions: the reason the server refuses to start, or undefined. */
export function validateWebsocketOptions(o: Options): string | undefined {
  const w = o.websocket;
  if (w === undefined || w.port === undefined) return undefined;
  if (w.tls === undefined && !w.noTls) return 'websocket requires TLS configuration';
  // An allowed origin that is no URL is reported and skipped when the listener starts (Go's
  // url.Parse, which nats-server checks here, accepts nearly any string).
  const users = [...(o.authorization?.users ?? []), ...o.accounts.flatMap((a) => a.users)];
  if (w.noAuthUser) {
    const bad = noAuthUserError(o, w.noAuthUser);
    if (bad !== undefined) return bad;
  }
  if (users.length > 0) {
    if (w.username) return 'websocket authentication username not compatible with presence of users/nkeys';
    if (w.token) return 'websocket authentication token not compatible with presence of users/nkeys';
  }
  // A JWT cookie can only be checked against trusted operators (operator mode).
  if (w.jwtCookie && o.operatorMode === undefined) {
    return `trusted operators or trusted keys configuration is required for JWT authentication via cookie ${JSON.stringify(w.jwtCookie)}`;
  }
  return undefined;
}
