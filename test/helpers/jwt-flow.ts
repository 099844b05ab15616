// The nsc-style operator flow for tests: operator, system account, accounts and
// users (keys and JWTs made with @nats-io/jwt), and the server configuration
// text that trusts them (operator + resolver: MEMORY + resolver_preload).
import {
  createAccount, createOperator, createUser, encodeAccount, encodeOperator, encodeUser, fmtCreds,
  type Account, type KeyPair, type User,
} from '@nats-io/jwt';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { RawClient, connectLine } from './raw-client.js';

export interface OperatorSetup {
  operator: KeyPair;
  operatorSigner: KeyPair;
  operatorJwt: string;
  sys: KeyPair;
  sysJwt: string;
}

/** An operator with one signing key and a system account ("SYS"). */
export async function newOperator(): Promise<OperatorSetup> {
  const operator = createOperator();
  const operatorSigner = createOperator();
  const sys = createAccount();
  const operatorJwt = await encodeOperator('OP', operator, {
    signing_keys: [operatorSigner.getPublicKey()],
    system_account: sys.getPublicKey(),
  });
  const sysJwt = await encodeAccount('SYS', sys, { limits: { ...NO_LIMITS } }, { signer: operator });
  return { operator, operatorSigner, operatorJwt, sys, sysJwt };
}

/**
 * nsc writes every account limit, -1 meaning none; nats-server reads a missing one as 0
 * (no connections, no subscriptions), so the accounts made here start from these.
 */
export const NO_LIMITS = { subs: -1, data: -1, payload: -1, conn: -1, leaf: -1, imports: -1, exports: -1, wildcards: true };

/** An account JWT signed by the operator's signing key; `data.limits` is laid over NO_LIMITS. */
export async function accountJwt(op: OperatorSetup, name: string, akp: KeyPair, data: Partial<Account> = {},
  opts: { exp?: number } = {}): Promise<string> {
  return encodeAccount(name, akp, { ...data, limits: { ...NO_LIMITS, ...data.limits } }, { signer: op.operatorSigner, ...opts });
}

/** A user JWT (signer: the account key or one of its signing keys; issuer_account set for the latter). */
export async function userJwt(name: string, ukp: KeyPair, account: KeyPair, data: Partial<User> = {},
  opts: { signer?: KeyPair; exp?: number; scoped?: boolean } = {}): Promise<string> {
  const issuer = opts.signer ?? account;
  const user: Partial<User> = { ...data };
  if (opts.signer) user.issuer_account = account.getPublicKey();
  return encodeUser(name, ukp, issuer, user, { exp: opts.exp, scopedUser: opts.scoped });
}

export function credsOf(jwt: string, ukp: KeyPair): Uint8Array {
  return fmtCreds(jwt, ukp);
}

/** Server configuration text: operator inline, memory resolver with the given accounts preloaded. */
export function operatorConfig(op: OperatorSetup, accounts: Record<string, string>, extra = ''): string {
  const pre = Object.entries({ [op.sys.getPublicKey()]: op.sysJwt, ...accounts })
    .map(([k, v]) => `  ${k}: "${v}"`).join('\n');
  return `operator: "${op.operatorJwt}"\nresolver: MEMORY\nresolver_preload: {\n${pre}\n}\n${extra}\n`;
}

/** Raw connection authenticated with a user JWT (nonce signed unless `bearer`); returns after INFO. */
export async function rawJwtConnect(port: number, jwt: string, ukp: KeyPair | null, over: Record<string, unknown> = {}): Promise<RawClient> {
  const { c, info } = await RawClient.connectInfo(port);
  const fields: Record<string, unknown> = { jwt, verbose: false, ...over };
  if (ukp !== null) fields.sig = Buffer.from(ukp.sign(Buffer.from(String(info.nonce)))).toString('base64url');
  c.send(connectLine(fields));
  return c;
}

/** A client of the system account (for claim updates), closed by the caller. */
export async function sysClient(op: OperatorSetup, port: number): Promise<NatsConnection> {
  const ukp = createUser();
  return connect({ port, authenticator: credsAuthenticator(credsOf(await userJwt('sys', ukp, op.sys), ukp)) });
}

/**
 * Push a new JWT of account `name` through `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE` and return the
 * reply's error (undefined when accepted). It waits out the second first: a newer JWT needs a
 * later issued-at (seconds).
 */
export async function pushAccountUpdate(sys: NatsConnection, op: OperatorSetup, name: string, akp: KeyPair, data: Partial<Account>): Promise<unknown> {
  await new Promise((r) => setTimeout(r, 1100));
  const jwt = await accountJwt(op, name, akp, data);
  const m = await sys.request(`$SYS.REQ.ACCOUNT.${akp.getPublicKey()}.CLAIMS.UPDATE`, jwt, { timeout: 5000 });
  return (JSON.parse(m.string()) as { error?: unknown }).error;
}

export { createAccount, createUser, type KeyPair };
