// The accounts of operator mode: account JWTs from the memory resolver
// (resolver_preload), decoded once, with what authentication and JetStream
// need from them (signing keys and scopes, revocations, limits, expiry).
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorModeOptions } from '../config/options.js';
import { decodeJwt } from '../config/jwt-lib.js';
import { crypto } from '../core/lazy-modules.js';
// (jwt-imports.ts imports this module too: only functions are shared, used after loading)
import { importTokenIssue } from './jwt-imports.js';

/** JetStream limits of an account (-1 = none); jetstream/js-account.ts uses this same type. */
export interface JsAccountLimits {
  maxMemory: number;
  maxStore: number;
  maxStreams: number;
  maxConsumers: number;
  maxAckPending: number;
  memoryMaxStreamBytes: number;
  storeMaxStreamBytes: number;
  maxBytesRequired: boolean;
  /** tiered limits by replica count ("R1", "R3") */
  tiers?: Record<string, JsAccountLimits>;
}

/** The parts of @nats-io/jwt's claim bodies we read (all optional: JWTs come from outside). */
export interface PermissionBody { allow?: string[]; deny?: string[] }
export interface UserBody {
  type?: string;
  pub?: PermissionBody;
  sub?: PermissionBody;
  resp?: { max?: number; ttl?: number };
  subs?: number;
  payload?: number;
  data?: number;
  src?: string[] | string;
  tags?: string[];
  bearer_token?: boolean;
  allowed_connection_types?: string[];
  issuer_account?: string;
}
interface ScopeBody { kind?: string; key: string; role?: string; template?: UserBody }
interface JsLimitsBody {
  mem_storage?: number; disk_storage?: number; streams?: number; consumer?: number; max_ack_pending?: number;
  mem_max_stream_bytes?: number; disk_max_stream_bytes?: number; max_bytes_required?: boolean;
}
interface AccountBody {
  type?: string;
  signing_keys?: (string | ScopeBody)[];
  revocations?: Record<string, number>;
  default_permissions?: { pub?: PermissionBody; sub?: PermissionBody };
  disallow_bearer?: boolean;
  tags?: string[];
  exports?: unknown[];
  imports?: unknown[];
  limits?: JsLimitsBody & {
    subs?: number; payload?: number; data?: number; conn?: number; leaf?: number; disallow_bearer?: boolean;
    tiered_limits?: Record<string, JsLimitsBody>;
  };
}

/** One account as operator mode knows it. */
export interface JwtAccount {
  /** public key (A...): also the account's name in the server */
  subject: string;
  /** claim name (templates' {{account-name()}}) */
  claimName: string;
  issuer: string;
  /** seconds since the epoch; 0 = never */
  expires: number;
  /** signing key -> its user scope (null: an unscoped key) */
  signingKeys: Map<string, ScopeBody | null>;
  revocations: Record<string, number>;
  defaultPermissions?: { pub?: PermissionBody; sub?: PermissionBody; resp?: UserBody['resp'] };
  disallowBearer: boolean;
  tags: string[];
  /** -1 = unlimited */
  maxConnections: number;
  maxLeafnodes: number;
  maxSubs: number;
  maxPayload: number;
  /** JetStream limits, or null when the account has no JetStream */
  jetstream: JsAccountLimits | null;
  /** the claim's exports and imports as written (read by auth/jwt-imports.ts) */
  exports: unknown[];
  imports: unknown[];
}

/** One set of JetStream limits as nats-server reads it from a JWT (missing numbers are 0). */
function jsLimitsOf(l: JsLimitsBody): JsAccountLimits {
  const n = (x: number | undefined): number => (typeof x === 'number' ? x : 0);
  // 0 means "none" for these three, reported as -1
  const orNone = (x: number | undefined): number => (typeof x === 'number' && x !== 0 ? x : -1);
  return {
    maxMemory: n(l.mem_storage), maxStore: n(l.disk_storage), maxStreams: n(l.streams), maxConsumers: n(l.consumer),
    maxAckPending: orNone(l.max_ack_pending), memoryMaxStreamBytes: orNone(l.mem_max_stream_bytes),
    storeMaxStreamBytes: orNone(l.disk_max_stream_bytes), maxBytesRequired: l.max_bytes_required === true,
  };
}

/**
 * JetStream is on for an account whose JWT gives it memory or disk storage, or has
 * tiered limits (nats-server jwt.go). With tiers, a single server enforces the R1 tier.
 */
function jsLimits(l: AccountBody['limits']): JsAccountLimits | null {
  if (l === undefined) return null;
  const tiers = l.tiered_limits ?? {};
  if (Object.keys(tiers).length > 0) {
    const all: Record<string, JsAccountLimits> = {};
    for (const [name, t] of Object.entries(tiers)) all[name] = jsLimitsOf(t ?? {});
    // no R1 tier: a single server has no applicable limit, so nothing may be stored
    const r1 = all.R1 ?? { ...jsLimitsOf({}), maxMemory: 0, maxStore: 0, maxStreams: -1 };
    return { ...r1, tiers: all };
  }
  if ((l.mem_storage ?? 0) === 0 && (l.disk_storage ?? 0) === 0) return null;
  return jsLimitsOf(l);
}

/** Decode and check one account JWT against the trusted operator keys; throws with the reason. */
export function decodeAccount(jwt: string, trustedKeys: Set<string>): JwtAccount {
  const c = decodeJwt<AccountBody>(jwt);
  const a = c.nats ?? {};
  if (a.type !== 'account') throw new Error('not an account JWT');
  if (!trustedKeys.has(c.iss)) throw new Error('account JWT not signed by a trusted operator');
  const tokenIssue = importTokenIssue(c.sub, Array.isArray(a.imports) ? a.imports : []);
  if (tokenIssue !== '') throw new Error(tokenIssue);
  const keys = new Map<string, ScopeBody | null>();
  for (const k of Array.isArray(a.signing_keys) ? a.signing_keys : []) {
    if (typeof k === 'string') keys.set(k, null);
    else if (k && typeof k.key === 'string') keys.set(k.key, k.kind === 'user_scope' ? k : null);
  }
  const l = a.limits ?? {};
  // A limit missing from the JWT is 0 (Go's zero value), as nats-server reads it: nsc always writes them.
  const lim = (x: number | undefined): number => (typeof x === 'number' ? x : 0);
  return {
    subject: c.sub, claimName: c.name ?? '', issuer: c.iss, expires: c.exp ?? 0,
    signingKeys: keys, revocations: a.revocations !== null && typeof a.revocations === 'object' ? a.revocations : {},
    defaultPermissions: a.default_permissions,
    disallowBearer: a.disallow_bearer === true || l.disallow_bearer === true,
    tags: Array.isArray(a.tags) ? a.tags.filter((x) => typeof x === 'string') : [],
    maxConnections: lim(l.conn), maxLeafnodes: lim(l.leaf), maxSubs: lim(l.subs), maxPayload: lim(l.payload),
    jetstream: jsLimits(a.limits),
    exports: Array.isArray(a.exports) ? a.exports : [],
    imports: Array.isArray(a.imports) ? a.imports : [],
  };
}

/** jwt RevocationList.IsRevoked: revoked when the JWT was issued at or before the key's (or `*`'s) revocation. */
export function isRevoked(revocations: Record<string, number> | undefined, key: string, iat: number): boolean {
  if (revocations === undefined) return false;
  const all = revocations['*'];
  if (typeof all === 'number' && all >= iat) return true;
  const t = revocations[key];
  return typeof t === 'number' && t >= iat;
}

/** The keys allowed to sign account JWTs (nats-server validateTrustedOperators). */
export function trustedOperatorKeys(m: OperatorModeOptions): Set<string> {
  const keys = new Set<string>();
  for (const op of m.operators) {
    if (!op.strictSigningKeyUsage) keys.add(op.subject);
    for (const k of op.signingKeys) keys.add(k);
  }
  return keys;
}

/**
 * The account resolver: the preloaded account JWTs (memory resolver), and for the
 * full resolver the `<dir>/<account>.jwt` files too, which account updates
 * replace (nats-server DirJWTStore without sharding, saveIfNewer).
 */
export class JwtAccountResolver {
  private readonly accounts = new Map<string, JwtAccount>();
  private readonly jwts = new Map<string, string>();
  private readonly trusted: Set<string>;
  private readonly listeners: ((acc: JwtAccount, old: JwtAccount | undefined) => void)[] = [];

  constructor(private readonly mode: OperatorModeOptions, private readonly warn: (msg: string) => void) {
    this.trusted = trustedOperatorKeys(mode);
    if (mode.resolver === 'full' && mode.dir !== undefined) {
      mkdirSync(mode.dir, { recursive: true });
      for (const f of readdirSync(mode.dir)) {
        if (!f.endsWith('.jwt')) continue;
        const pub = f.slice(0, -4);
        try {
          this.accept(pub, readFileSync(join(mode.dir, f), 'utf8').trim());
        } catch (e) {
          warn(`account resolver: ${f}: ${(e as Error).message}`);
        }
      }
    }
    for (const [pub, jwt] of Object.entries(mode.preload)) {
      try {
        if (mode.resolver === 'full') this.update(pub, jwt);
        else this.accept(pub, jwt);
      } catch (e) {
        warn(`preload account error for "${pub}": ${(e as Error).message}`);
      }
    }
  }

  private accept(pub: string, jwt: string): JwtAccount {
    const acc = decodeAccount(jwt, this.trusted);
    if (acc.subject !== pub) throw new Error('jwt subject nkey and provided nkey do not match');
    this.accounts.set(pub, acc);
    this.jwts.set(pub, jwt);
    return acc;
  }

  lookup(pub: string): JwtAccount | undefined {
    return this.accounts.get(pub);
  }

  /** The stored JWT of an account (CLAIMS.LOOKUP). */
  jwtOf(pub: string): string | undefined {
    return this.jwts.get(pub);
  }

  all(): JwtAccount[] {
    return [...this.accounts.values()];
  }

  /** Called after an account's JWT was replaced (`old`: the account before). */
  onChange(cb: (acc: JwtAccount, old: JwtAccount | undefined) => void): void {
    this.listeners.push(cb);
  }

  /**
   * Store an account JWT if it is newer than the one held (full resolver). Throws with
   * nats-server's reason when it is refused; returns whether anything changed.
   */
  update(pub: string, jwt: string): boolean {
    const cur = this.jwts.get(pub);
    if (cur !== undefined) {
      const next = decodeJwt<unknown>(jwt);
      const old = decodeJwt<unknown>(cur);
      if (old.jti === next.jti || old.iat > next.iat) return false;
    }
    const old = this.accounts.get(pub);
    const acc = this.accept(pub, jwt);
    if (this.mode.resolver === 'full' && this.mode.dir !== undefined) {
      writeFileSync(join(this.mode.dir, `${pub}.jwt`), jwt);
    }
    for (const l of this.listeners) l(acc, old);
    return true;
  }

  /** nats-server's store hash: the XOR of the SHA-256 of every stored JWT. */
  hash(): Buffer {
    const h = Buffer.alloc(32);
    for (const jwt of this.jwts.values()) {
      const d = crypto().createHash('sha256').update(jwt).digest();
      for (let i = 0; i < 32; i++) h[i] ^= d[i];
    }
    return h;
  }

  /** CLAIMS.PACK messages: one `<account>|<jwt>` per message. */
  packLines(): string[] {
    return [...this.jwts].map(([pub, jwt]) => `${pub}|${jwt}`);
  }
}

/** Accounts of operator mode with JetStream, and their limits (JetStream reads these instead of `accounts`). */
export function operatorJetStreamAccounts(resolver: JwtAccountResolver): Array<[string, JsAccountLimits]> {
  const out: Array<[string, JsAccountLimits]> = [];
  for (const a of resolver.all()) if (a.jetstream !== null) out.push([a.subject, a.jetstream]);
  return out;
}
