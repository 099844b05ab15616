// The seam where authentication and permissions plug into client connections.
// The core has no built-in users: the server installs a ClientAuthenticator
// (src/auth builds it from the options) and the client asks it on CONNECT.
import type { X509Certificate } from 'node:crypto';
import type { Account } from './account.js';
import type { Permissions } from '../config/options.js';

/** CONNECT fields (client.go ClientOpts), after applying nats-server's defaults. */
export interface ConnectOptions {
  verbose: boolean;
  pedantic: boolean;
  tls_required: boolean;
  echo: boolean;
  headers: boolean;
  no_responders: boolean;
  protocol: number;
  user?: string;
  pass?: string;
  auth_token?: string;
  nkey?: string;
  sig?: string;
  jwt?: string;
  name?: string;
  lang?: string;
  version?: string;
  account?: string;
  new_account?: boolean;
}

/** nats-server pre-fills verbose/pedantic/echo with true before decoding CONNECT. */
export function defaultConnectOptions(): ConnectOptions {
  return {
    verbose: true,
    pedantic: true,
    tls_required: false,
    echo: true,
    headers: false,
    no_responders: false,
    protocol: 0,
  };
}

const BOOL_FIELDS = ['verbose', 'pedantic', 'tls_required', 'echo', 'headers', 'no_responders', 'new_account'] as const;
const STRING_FIELDS = ['user', 'pass', 'auth_token', 'nkey', 'sig', 'jwt', 'name', 'lang', 'version', 'account'] as const;

/**
 * Decode a CONNECT JSON on top of `base` (a second CONNECT merges into the
 * first, like Go's json.Unmarshal into the same struct). Returns null when the
 * JSON is invalid or a known field has the wrong type (nats-server then closes
 * the connection without an -ERR).
 */
export function decodeConnect(json: string, base: ConnectOptions): ConnectOptions | null {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  // Every field in a fixed order: all decoded options share one hidden class.
  const out: ConnectOptions = {
    verbose: base.verbose, pedantic: base.pedantic, tls_required: base.tls_required, echo: base.echo,
    headers: base.headers, no_responders: base.no_responders, protocol: base.protocol,
    user: base.user, pass: base.pass, auth_token: base.auth_token, nkey: base.nkey, sig: base.sig,
    jwt: base.jwt, name: base.name, lang: base.lang, version: base.version, account: base.account,
    new_account: base.new_account,
  };
  const rec = out as unknown as Record<string, unknown>;
  for (const k of BOOL_FIELDS) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'boolean') return null;
    rec[k] = x;
  }
  for (const k of STRING_FIELDS) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'string') return null;
    rec[k] = x;
  }
  if (o.protocol !== undefined && o.protocol !== null) {
    if (typeof o.protocol !== 'number' || !Number.isInteger(o.protocol)) return null;
    out.protocol = o.protocol;
  }
  return out;
}

/** Publish/subscribe permissions of an authenticated user. */
export interface ClientPermissions {
  canPublish(subject: string): boolean;
  canSubscribe(subject: string, queue?: string): boolean;
  /** Checked at delivery for wildcard subscriptions overlapping a subscribe deny. */
  canDeliver?(subject: string, queue?: string): boolean;
  /**
   * Response permissions (allow_responses): the reply subjects of delivered messages may be
   * published to `max` times within `expiresMs` (<= 0: no limit) although canPublish says no.
   */
  responses?: { max: number; expiresMs: number };
  /** the lists these were compiled from (a leaf hub announces them to its leaf in INFO) */
  readonly source?: Permissions;
}

export interface AuthResult {
  account: Account;
  /** authorized user label (connz `authorized_user`) */
  user?: string;
  permissions?: ClientPermissions | null;
  /** per-connection limits of the user/account (-1 = none); the server's own limits still apply */
  maxSubs?: number;
  maxPayload?: number;
  /** connection limit of the account (-1 = none): a client over it (clients and leafs) is refused */
  accountMaxConnections?: number;
  /** leaf-connection limit of the account (JWT `limits.leaf`, config `max_leafnodes`, -1 = none): a leaf over it is refused */
  accountMaxLeafnodes?: number;
  /** the credentials expire: the client is disconnected then, with `error` */
  expires?: { atMs: number; error: string };
}

/** What the authenticator may look at besides the CONNECT fields. */
export interface ConnectionAuthInfo {
  cid: number;
  ip: string;
  port: number;
  /** the nonce sent in INFO (nkey/JWT signatures), when one was sent */
  nonce?: string;
  /** nats-server connection type for allowed_connection_types (STANDARD when absent: the client port) */
  connectionType?: string;
  /** the client's TLS certificate, when it presented one (verify_and_map) */
  tlsCert?: X509Certificate;
}

export interface ClientAuthenticator {
  /** clients must authenticate (INFO auth_required, auth timer, CONNECT first) */
  readonly authRequired: boolean;
  /** INFO carries a nonce for nkey/JWT signatures */
  readonly needsNonce?: boolean;
  /** an op before CONNECT is allowed and the client is bound to this result (no_auth_user) */
  readonly noAuthUser?: boolean;
  /**
   * null = Authorization Violation. A Promise (a check that must not run on the event loop,
   * such as bcrypt) holds the connection's input until it settles.
   */
  authenticate(opts: ConnectOptions, conn: ConnectionAuthInfo): AuthResult | null | Promise<AuthResult | null>;
  /**
   * The account of the user a CONNECT names by `user` or `nkey`: null when there is no such
   * user, undefined when this authenticator does not say (a config reload closes the clients
   * whose user is gone or moved to another account).
   */
  userAccount?(opts: ConnectOptions): string | null | undefined;
  /**
   * The limits of an account by name, for a link that binds without a user's check (a leaf
   * this server dials, a user of the leafnodes block); undefined when the account is unknown.
   */
  accountLimits?(name: string): AccountLimitsOf | undefined;
}

/** Connection limits of an account (-1 = none). */
export interface AccountLimitsOf {
  maxConnections: number;
  maxLeafnodes: number;
}
