// Authentication and permissions from the configuration (nats-server's
// "authorization" and "accounts" blocks): single user/password, token, users
// lists (password or nkey), the account each user belongs to, publish and
// subscribe permissions, and no_auth_user. It is a ClientAuthenticator like any
// other: src/auth can replace it with setAuthenticator().
//
// Passwords may be bcrypt hashes ($2a$/$2b$, as `nats server passwd` writes them).
// With `tls { verify_and_map: true }` the user comes from the client certificate.
// bcrypt checks run in a worker thread (bcrypt-check.ts). JWT/operator mode is jwt-auth.ts.
import { bcryptKnownMatch, bcryptMatches, isBcrypt } from './bcrypt-check.js';
import { userForCert } from '../tls/cert-map.js';
import type { Options, Permissions, UserEntry } from '../config/options.js';
import { GLOBAL_ACCOUNT, responsePermission } from '../config/options.js';
import type { Account } from '../core/account.js';
import type { AccountLimitsOf, AuthResult, ClientAuthenticator, ClientPermissions, ConnectOptions, ConnectionAuthInfo } from '../core/auth-hook.js';
import { Sublist } from '../core/sublist.js';
import { subjectIsSubsetMatch } from '../jetstream/subjects.js';
import { crypto, nkeys } from '../core/lazy-modules.js';
import { ClientKind, Subscription, type MsgSink } from '../core/types.js';

export interface AccountDirectory {
  registerAccount(name: string): Account;
}

interface UserRecord {
  name: string;
  password?: string;
  nkey?: string;
  account: Account;
  permissions: ClientPermissions | null;
  /** allowed_connection_types; null = every type */
  connTypes: Set<string> | null;
  /** the `limits` of the user's account */
  limits: ConfigAccountLimits;
}

/**
 * The `limits {}` of a config-file account (-1 = none): the account's connection and leaf
 * limits, and what each of its clients gets (`max_subscriptions`, `max_payload`: the client takes
 * the lower of these and the server's own, as nats-server applyAccountLimits). As in nats-server
 * a value is taken as it is: 0 allows none at all.
 */
interface ConfigAccountLimits extends AccountLimitsOf {
  maxSubs: number;
  maxPayload: number;
}

export function configAccountLimits(o: Options, name: string): ConfigAccountLimits {
  const l = o.accounts.find((a) => a.name === name)?.limits;
  return {
    maxConnections: l?.maxConnections ?? -1, maxLeafnodes: l?.maxLeafnodes ?? -1,
    maxSubs: l?.maxSubscriptions ?? -1, maxPayload: l?.maxPayload ?? -1,
  };
}

/**
 * Secret comparison whose time does not depend on where the strings differ (or on
 * their lengths): both sides are hashed to equal-length digests first.
 */
export function secretEquals(given: string, want: string): boolean {
  const { createHash, timingSafeEqual } = crypto();
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(want).digest();
  return timingSafeEqual(a, b);
}

/**
 * nats-server comparePasswords: a configured bcrypt hash is checked off the event loop (answered
 * at once when a match is cached), a plain secret in constant time.
 */
export function passwordMatches(given: string, configured: string): boolean | Promise<boolean> {
  if (!isBcrypt(configured)) return secretEquals(given, configured);
  return bcryptKnownMatch(given, configured) || bcryptMatches(given, configured);
}

/** Build the authenticator the options ask for; null when no authentication is configured. */
export function authenticatorFromOptions(o: Options, accounts: AccountDirectory, warn: (msg: string) => void): ClientAuthenticator | null {
  const byName = new Map<string, UserRecord>();
  const byNkey = new Map<string, UserRecord>();
  const add = (u: UserEntry, accountName: string): void => {
    const rec: UserRecord = {
      name: u.user ?? u.nkey ?? '',
      password: u.password,
      nkey: u.nkey,
      account: accounts.registerAccount(u.account ?? accountName),
      permissions: compilePermissions(u.permissions),
      connTypes: u.allowedConnectionTypes?.length ? new Set(u.allowedConnectionTypes) : null,
      limits: configAccountLimits(o, u.account ?? accountName),
    };
    if (u.nkey) byNkey.set(u.nkey, rec);
    else if (u.user !== undefined) byName.set(u.user, rec);
  };
  const a = o.authorization;
  let token: string | undefined;
  if (a) {
    if (a.user !== undefined) add({ user: a.user, password: a.password, permissions: a.defaultPermissions }, GLOBAL_ACCOUNT);
    if (a.token !== undefined) token = a.token;
    for (const u of a.users ?? []) add(u, GLOBAL_ACCOUNT);
  }
  for (const acc of o.accounts) for (const u of acc.users) add(u, acc.name);
  if (byName.size === 0 && byNkey.size === 0 && token === undefined) return null;

  const noAuthUser = o.noAuthUser !== undefined ? byName.get(o.noAuthUser) : undefined;
  if (o.noAuthUser !== undefined && noAuthUser === undefined) warn(`no_auth_user "${o.noAuthUser}" is not a configured user`);
  const tlsMap = o.tls?.verifyAndMap === true && byName.size > 0;
  const globalAccount = accounts.registerAccount(GLOBAL_ACCOUNT);
  const result = (rec: UserRecord): AuthResult => ({
    account: rec.account, user: rec.name, permissions: rec.permissions,
    accountMaxConnections: rec.limits.maxConnections, accountMaxLeafnodes: rec.limits.maxLeafnodes,
    maxSubs: rec.limits.maxSubs, maxPayload: rec.limits.maxPayload,
  });
  // allowed_connection_types, as nats-server: a user limited to other types is refused here.
  const typeAllowed = (rec: UserRecord, conn: ConnectionAuthInfo): boolean =>
    rec.connTypes === null || rec.connTypes.has(conn.connectionType ?? 'STANDARD');

  return {
    authRequired: true,
    needsNonce: byNkey.size > 0,
    noAuthUser: noAuthUser !== undefined,
    authenticate(opts: ConnectOptions, conn: ConnectionAuthInfo): AuthResult | null | Promise<AuthResult | null> {
      if (opts.nkey) {
        const rec = byNkey.get(opts.nkey);
        if (rec === undefined || !conn.nonce || !opts.sig || !typeAllowed(rec, conn)) return null;
        return verifyNonce(opts.nkey, conn.nonce, opts.sig) ? result(rec) : null;
      }
      if (tlsMap) {
        // The certificate names the user; a user/password in CONNECT is not looked at.
        if (conn.tlsCert === undefined) return null;
        const name = userForCert(conn.tlsCert, byName.keys(), (n) => {
          const r = byName.get(n);
          return r !== undefined && typeAllowed(r, conn);
        });
        return name === undefined ? null : result(byName.get(name)!);
      }
      // nats-server falls back to no_auth_user only when no credential at all was sent.
      const noCredentials = !opts.user && !opts.pass && !opts.auth_token;
      if (token !== undefined) {
        const tokenResult: AuthResult = { account: globalAccount, user: '', permissions: null };
        if (typeof opts.auth_token === 'string') {
          const ok = passwordMatches(opts.auth_token, token);
          if (ok instanceof Promise) return ok.then((yes) => (yes ? tokenResult : null));
          if (ok) return tokenResult;
        }
        if (noCredentials && noAuthUser && typeAllowed(noAuthUser, conn)) return result(noAuthUser);
        return null;
      }
      if (opts.user !== undefined && opts.user !== '') {
        const rec = byName.get(opts.user);
        if (rec === undefined || rec.password === undefined) return null;
        if (typeof opts.pass !== 'string' || !typeAllowed(rec, conn)) return null;
        const ok = passwordMatches(opts.pass, rec.password);
        if (ok instanceof Promise) return ok.then((yes) => (yes ? result(rec) : null));
        return ok ? result(rec) : null;
      }
      if (noCredentials && noAuthUser !== undefined && typeAllowed(noAuthUser, conn)) return result(noAuthUser);
      return null;
    },
    userAccount(opts: ConnectOptions): string | null | undefined {
      const rec = opts.nkey ? byNkey.get(opts.nkey) : opts.user ? byName.get(opts.user) : undefined;
      if (rec !== undefined) return rec.account.name;
      return opts.nkey || opts.user ? null : undefined;
    },
    accountLimits: (name: string): AccountLimitsOf => configAccountLimits(o, name),
  };
}

/** Signature over the INFO nonce (base64url or standard base64, as nats-server accepts). */
export function verifyNonce(nkey: string, nonce: string, sig: string): boolean {
  try {
    const raw = Buffer.from(sig.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return nkeys().fromPublic(nkey).verify(Buffer.from(nonce), raw);
  } catch {
    return false;
  }
}

const PERM_SINK: MsgSink = { kind: ClientKind.ACCOUNT, cid: 0, deliverMsg: () => false };

/** A permission list as a sublist; "subject queue" entries are queue permissions. */
function permList(entries: string[] | undefined): Sublist | null {
  if (entries === undefined) return null;
  const sl = new Sublist();
  let i = 0;
  for (const e of entries) {
    const sp = e.trim().split(/\s+/);
    sl.insert(new Subscription(sp[0], sp.length > 1 ? sp[1] : undefined, String(++i), PERM_SINK));
  }
  return sl;
}

/**
 * nats-server queueMatches: the queue is named by a "subject queue" entry, literally or
 * through a wildcard queue entry ("foo v1.*" lets queue v1.a in; queue "v1.*" matches only itself
 * or a wider wildcard entry).
 */
function queueIn(queue: string, r: ReturnType<Sublist['match']>): boolean {
  for (const g of r.qsubs) {
    const q = g.length > 0 ? g[0].queue : undefined;
    if (q === undefined) continue;
    if (q === queue || (/[*>]/.test(q) && subjectIsSubsetMatch(queue, q))) return true;
  }
  return false;
}

/** nats-server canPublish/canSubscribe/checkDenySub over compiled allow/deny lists. */
export function compilePermissions(p: Permissions | undefined): ClientPermissions | null {
  if (!p || (!p.publish && !p.subscribe && !p.allowResponses)) return null;
  const responses = p.allowResponses ? responsePermission(p.allowResponses.max, p.allowResponses.expiresMs) : undefined;
  // Response permissions turn off the implicit "publish anything" (nats-server validateResponsePermissions).
  const pubAllow = permList(p.publish?.allow ?? (responses !== undefined ? [] : undefined));
  const pubDeny = permList(p.publish?.deny);
  const subAllow = permList(p.subscribe?.allow);
  const subDeny = permList(p.subscribe?.deny);
  return {
    canPublish(subject: string): boolean {
      if (pubAllow !== null && pubAllow.match(subject).psubs.length === 0) return false;
      if (pubDeny !== null && pubDeny.match(subject).psubs.length > 0) return false;
      return true;
    },
    canSubscribe(subject: string, queue?: string): boolean {
      let allowed = true;
      if (subAllow !== null) {
        const r = subAllow.match(subject);
        allowed = r.psubs.length > 0;
        if (queue !== undefined && r.qsubs.length > 0) allowed = queueIn(queue, r);
      }
      if (allowed && subDeny !== null) {
        const r = subDeny.match(subject);
        allowed = r.psubs.length === 0;
        if (queue !== undefined && r.qsubs.length > 0) allowed = !queueIn(queue, r);
      }
      return allowed;
    },
    // A wildcard subscription may be wider than a deny clause: such messages are not delivered.
    canDeliver: subDeny === null ? undefined : (subject: string): boolean => subDeny.match(subject).psubs.length === 0,
    responses,
    source: p,
  };
}
