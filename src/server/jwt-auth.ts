// Operator (JWT) mode authentication, as nats-server's
// processClientOrLeafAuthentication does it for a user JWT: the user JWT is
// signed by its account's identity key or one of its signing keys (scoped keys
// impose their template), the account JWT by a trusted operator key; the client
// signs the INFO nonce unless the user is a bearer token; revocations, source
// networks, connection types and expiry are checked; permissions and limits
// come from the user (or the scope template) and the account.
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Options, Permissions } from '../config/options.js';
import type { AuthResult, ClientAuthenticator, ConnectOptions, ConnectionAuthInfo } from '../core/auth-hook.js';
import { compilePermissions, verifyNonce, type AccountDirectory } from './options-auth.js';
import { JwtAccountResolver, isRevoked, type JwtAccount, type PermissionBody, type UserBody } from '../auth/jwt-accounts.js';
import { decodeJwt } from '../config/jwt-lib.js';

/** Texts nats-server sends when credentials run out on a live connection. */
export const USER_EXPIRED = 'User Authentication Expired';
export const ACCOUNT_EXPIRED = 'Account Authentication Expired';

export interface OperatorAuthenticator extends ClientAuthenticator {
  readonly resolver: JwtAccountResolver;
  /**
   * Check a connected client's credentials again after its account JWT changed (the
   * nonce signature is not checked again). `revoked`: refused because the user was revoked.
   */
  recheck(opts: ConnectOptions, conn: ConnectionAuthInfo): { result: AuthResult | null; revoked: boolean; signer?: string };
  /**
   * Asks the cluster for an account JWT this server does not hold (the full resolver's
   * CLAIMS.LOOKUP; set by the resolver service). undefined: nobody answered in time.
   */
  fetchAccount?: (pub: string) => Promise<string | undefined>;
}

/** A well-formed account public key: the only names worth a lookup (nats-server fetchAccount). */
const ACCOUNT_KEY = /^A[A-Z2-7]{55}$/;

/** Build the operator-mode authenticator; accounts are registered under their public keys. */
export function operatorAuthenticator(
  o: Options, accounts: AccountDirectory, log: { debug(m: string): void; warn(m: string): void },
): OperatorAuthenticator {
  const m = o.operatorMode!;
  const resolver = new JwtAccountResolver(m, (msg) => log.warn(msg));
  for (const a of resolver.all()) accounts.registerAccount(a.subject);

  let revoked = false;
  /** the account of the last user checked, when this server holds no JWT for it */
  let missing: string | undefined;
  /** the signing key of the last user checked (undefined: signed by the account's identity key) */
  let signer: string | undefined;
  const refuse = (conn: ConnectionAuthInfo, why: string): null => {
    log.debug(`cid:${conn.cid} - ${why}`);
    return null;
  };

  const check = (opts: ConnectOptions, conn: ConnectionAuthInfo, checkSig: boolean): AuthResult | null => {
    if (!opts.jwt) return refuse(conn, 'Authentication requires a user JWT');
    let uc: ReturnType<typeof decodeJwt<UserBody>>;
    try {
      uc = decodeJwt<UserBody>(opts.jwt);
    } catch (e) {
      return refuse(conn, `User JWT not valid: ${(e as Error).message}`);
    }
    const u = uc.nats ?? {};
    const nowSec = Date.now() / 1000;
    if (u.type !== 'user') return refuse(conn, 'User JWT not valid: not a user JWT');
    if (uc.exp && uc.exp <= nowSec) return refuse(conn, 'User JWT no longer valid: claim is expired');
    if (uc.nbf && uc.nbf > nowSec) return refuse(conn, 'User JWT no longer valid: claim is not yet valid');
    const types = Array.isArray(u.allowed_connection_types) ? u.allowed_connection_types : [];
    if (types.length > 0 && !types.includes(conn.connectionType ?? 'STANDARD')) return refuse(conn, 'Connection type not allowed');

    const issuer = u.issuer_account || uc.iss;
    const acc = resolver.lookup(issuer);
    if (acc === undefined) {
      missing = issuer;
      return refuse(conn, `Account JWT lookup error: ${issuer}`);
    }
    let perms: UserBody = u;
    signer = uc.iss !== acc.subject ? uc.iss : undefined;
    if (uc.iss !== acc.subject) {
      if (!acc.signingKeys.has(uc.iss)) return refuse(conn, 'User JWT issuer is not known');
      const scope = acc.signingKeys.get(uc.iss);
      if (scope) {
        if (hasPermissionsOrLimits(u)) return refuse(conn, 'User JWT is not valid: scoped users require no permissions or limits set');
        const t = expandTemplate(scope.template ?? {}, uc.name ?? '', uc.sub, acc, stringsOf(u.tags));
        if (t === null) return refuse(conn, 'User JWT generated invalid permissions');
        perms = t;
      }
    }
    if (acc.expires > 0 && acc.expires <= nowSec) return refuse(conn, 'Account JWT has expired');
    if (u.bearer_token === true && acc.disallowBearer) return refuse(conn, 'Account does not allow bearer token');
    if (u.bearer_token !== true && checkSig) {
      if (!opts.sig) return refuse(conn, 'Signature missing');
      if (!conn.nonce || !verifyNonce(uc.sub, conn.nonce, opts.sig)) return refuse(conn, 'Signature not verified');
    }
    if (isRevoked(acc.revocations, uc.sub, uc.iat)) {
      revoked = true;
      return refuse(conn, 'User authentication revoked');
    }
    if (!sourceAllowed(u.src, conn.ip)) return refuse(conn, `Bad src Ip ${conn.ip}`);

    const account = accounts.registerAccount(acc.subject);
    const userExp = uc.exp ? uc.exp * 1000 : 0;
    const accExp = acc.expires * 1000;
    let expires: AuthResult['expires'];
    if (userExp > 0 && (accExp === 0 || userExp <= accExp)) expires = { atMs: userExp, error: USER_EXPIRED };
    else if (accExp > 0) expires = { atMs: accExp, error: ACCOUNT_EXPIRED };
    return {
      account,
      user: uc.sub,
      permissions: compilePermissions(permissionsOf(perms, acc)),
      maxSubs: minLimit(num(perms.subs), acc.maxSubs),
      maxPayload: minLimit(num(perms.payload), acc.maxPayload),
      accountMaxConnections: acc.maxConnections,
      accountMaxLeafnodes: acc.maxLeafnodes,
      expires,
    };
  };

  const auth: OperatorAuthenticator = {
    authRequired: true,
    needsNonce: true,
    resolver,
    accountLimits(name) {
      const acc = resolver.lookup(name);
      return acc === undefined ? undefined : { maxConnections: acc.maxConnections, maxLeafnodes: acc.maxLeafnodes };
    },
    authenticate(opts, conn) {
      missing = undefined;
      const res = check(opts, conn, true);
      const pub = missing;
      if (res !== null || pub === undefined || auth.fetchAccount === undefined || !ACCOUNT_KEY.test(pub)) return res;
      // The connection's input is held while the cluster is asked (an asynchronous authentication).
      return auth.fetchAccount(pub).then((jwt) => {
        if (jwt === undefined) return refuse(conn, `Account JWT lookup error: ${pub}: fetching jwt timed out`);
        try {
          if (resolver.lookup(pub) === undefined) resolver.update(pub, jwt);
        } catch (e) {
          return refuse(conn, `Account JWT lookup error: ${pub}: ${(e as Error).message}`);
        }
        return check(opts, conn, true);
      });
    },
    recheck(opts, conn) {
      revoked = false;
      signer = undefined;
      const result = check(opts, conn, false);
      return { result, revoked, signer };
    },
  };
  return auth;
}

function stringsOf(l: unknown): string[] {
  return Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string') : [];
}

/** A user limit; missing is 0 (Go's zero value), as nats-server reads it. */
const num = (x: number | undefined): number => (typeof x === 'number' ? x : 0);

/** nats-server minLimit: the smaller of two limits where -1 is "none". */
function minLimit(a: number, b: number): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}

function hasPermissionsOrLimits(u: UserBody): boolean {
  const perm = (p: PermissionBody | undefined): boolean => (p?.allow?.length ?? 0) > 0 || (p?.deny?.length ?? 0) > 0;
  return perm(u.pub) || perm(u.sub) || u.resp !== undefined && u.resp !== null
    || (u.subs ?? -1) !== -1 || (u.payload ?? -1) !== -1 || (u.data ?? -1) !== -1
    || (Array.isArray(u.src) ? u.src.length > 0 : !!u.src);
}

/** The user's permissions, or the account's default permissions when the user has none. */
function permissionsOf(u: UserBody, acc: JwtAccount): Permissions | undefined {
  const has = (p: PermissionBody | undefined): boolean =>
    (Array.isArray(p?.allow) && p!.allow.length > 0) || (Array.isArray(p?.deny) && p!.deny.length > 0);
  const hasResp = (r: UserBody['resp']): boolean => r !== null && typeof r === 'object';
  // nats-server buildPermissionsFromJwt: a `resp` alone also counts as the user's own permissions
  const src = has(u.pub) || has(u.sub) || hasResp(u.resp) ? u : acc.defaultPermissions;
  if (src === undefined) return undefined;
  // JWT contents are outside input: only string subjects are taken
  const subjects = (l: unknown): string[] | undefined => {
    const out = Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string' && x !== '') : [];
    return out.length > 0 ? out : undefined;
  };
  const rule = (p: PermissionBody | undefined) => (has(p) ? { allow: subjects(p!.allow), deny: subjects(p!.deny) } : undefined);
  const out: Permissions = { publish: rule(src.pub), subscribe: rule(src.sub) };
  if (hasResp(src.resp)) {
    // max and ttl (nanoseconds) as in the JWT; zero values become the defaults in compilePermissions
    const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
    out.allowResponses = { max: num(src.resp!.max), expiresMs: num(src.resp!.ttl) / 1e6 };
  }
  return out.publish || out.subscribe || out.allowResponses ? out : undefined;
}

/** `src` limits: the client address must fall in one of the CIDR blocks. */
function sourceAllowed(src: string[] | string | undefined, ip: string): boolean {
  const list = Array.isArray(src) ? src : typeof src === 'string' && src !== '' ? src.split(',') : [];
  if (list.length === 0) return true;
  const bl = new BlockList();
  for (const cidr of list) {
    const [addr, bits] = cidr.trim().split('/');
    const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    if (type === null) continue;
    if (bits === undefined) bl.addAddress(addr, type);
    else bl.addSubnet(addr, Number(bits), type);
  }
  return bl.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}

/**
 * nats-server processUserPermissionsTemplate: {{name()}}, {{subject()}},
 * {{account-name()}}, {{account-subject()}}, {{tag(k)}} and {{account-tag(k)}}
 * in the scope's subjects. A tag may have several values (one subject each);
 * a missing tag makes the template fail (null).
 */
function expandTemplate(t: UserBody, name: string, subject: string, acc: JwtAccount, userTags: string[]): UserBody | null {
  const tagValues = (tags: string[], key: string): string[] => {
    const want = key.toLowerCase();
    const out: string[] = [];
    for (const tag of tags) {
      const i = tag.indexOf(':');
      if (i > 0 && tag.slice(0, i).toLowerCase() === want) out.push(tag.slice(i + 1));
    }
    return out;
  };
  const expandOne = (s: string): string[] | null => {
    let results = [s];
    const re = /\{\{\s*([a-z-]+)\(\s*([^)]*?)\s*\)\s*\}\}/;
    for (let guard = 0; guard < 32; guard++) {
      const m = re.exec(results[0]);
      if (m === null) return results;
      let values: string[];
      switch (m[1]) {
        case 'name': values = [name]; break;
        case 'subject': values = [subject]; break;
        case 'account-name': values = [acc.claimName]; break;
        case 'account-subject': values = [acc.subject]; break;
        case 'tag': values = tagValues(userTags, m[2]); break;
        case 'account-tag': values = tagValues(acc.tags, m[2]); break;
        default: return null;
      }
      if (values.length === 0 || values.some((v) => v === '')) return null;
      results = results.flatMap((r) => values.map((v) => r.replace(m[0], v)));
    }
    return null;
  };
  const list = (l: string[] | undefined): string[] | undefined | null => {
    if (l === undefined) return undefined;
    const out: string[] = [];
    for (const s of stringsOf(l)) {
      const e = expandOne(s);
      if (e === null) return null;
      out.push(...e);
    }
    return out;
  };
  const perm = (p: PermissionBody | undefined): PermissionBody | undefined | null => {
    if (p === undefined) return undefined;
    const allow = list(p.allow);
    const deny = list(p.deny);
    if (allow === null || deny === null) return null;
    return { allow, deny };
  };
  const pub = perm(t.pub);
  const sub = perm(t.sub);
  if (pub === null || sub === null) return null;
  return { ...t, pub, sub };
}
