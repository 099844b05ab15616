// The full account resolver's system-account services (nats-server
// DirAccResolver.Start): account JWT updates ($SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE,
// the older $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE, $SYS.REQ.CLAIMS.UPDATE), lookups
// ($SYS.REQ.ACCOUNT.<acc>.CLAIMS.LOOKUP), CLAIMS.PACK and CLAIMS.LIST. An update
// is applied to the connected users of the account at once: new permissions and
// limits, revoked users and users over the connection limit disconnected.
//
// In a cluster every server's handlers are system-account subscriptions, known to the other
// servers over the routes: an update pushed to one server reaches all of them (each answers),
// a server without an account's JWT asks the others (CLAIMS.LOOKUP, first answer wins) when a
// user of that account connects, and every `interval` each server sends its store hash to
// CLAIMS.PACK so that one peer with a different store sends its JWTs (newer ones are kept).
import type { InternalClient } from '../core/internal-client.js';
import { Client, CloseReason } from '../core/client.js';
import { defaultConnectOptions } from '../core/auth-hook.js';
import type { Leafnodes } from '../leaf/index.js';
import type { LeafConnection } from '../leaf/leaf-conn.js';
import type { JwtAccount } from '../auth/jwt-accounts.js';
import { decodeJwt } from '../config/jwt-lib.js';
import type { OperatorAuthenticator } from './jwt-auth.js';
import { SERVER_VERSION, type Server, type Subsystem } from './server.js';

/** nats-server DEFAULT_ACCOUNT_FETCH_TIMEOUT, and the DirAccResolver's default sync interval */
const DEFAULT_FETCH_TIMEOUT_MS = 1900;
const DEFAULT_SYNC_INTERVAL_MS = 60_000;

export class JwtResolverService implements Subsystem {
  readonly name = 'jwt-resolver';
  private client: InternalClient | null = null;
  private server: Server | null = null;
  private seq = 0;
  private inboxPrefix = '';
  private nextInbox = 0;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(private readonly auth: OperatorAuthenticator) {}

  async start(server: Server): Promise<void> {
    this.server = server;
    const c = this.client = server.createSystemClient('jwt-resolver');
    const update = (subject: string, reply: string, _h: Buffer | undefined, payload: Buffer): void => {
      const tk = subject.split('.');
      // $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE or $SYS.ACCOUNT.<acc>.CLAIMS.UPDATE
      const pub = tk.length === 6 ? tk[3] : tk.length === 5 ? tk[2] : '';
      if (pub === '') return;
      this.handleUpdate(pub, payload.toString(), reply);
    };
    c.subscribe('$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE', update);
    c.subscribe('$SYS.ACCOUNT.*.CLAIMS.UPDATE', update);
    c.subscribe('$SYS.REQ.CLAIMS.UPDATE', (_s, reply, _h, payload) => this.handleUpdate(undefined, payload.toString(), reply));
    c.subscribe('$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP', (subject, reply) => {
      const jwt = this.auth.resolver.jwtOf(subject.split('.')[3] ?? '');
      if (reply && jwt !== undefined) c.publish(reply, '', undefined, jwt);
    });
    c.subscribe('$SYS.REQ.CLAIMS.PACK', (_s, reply, _h, theirHash) => {
      if (!reply) return;
      // the same store hash means nothing to send: only the end-of-pack empty message
      if (!theirHash.equals(this.auth.resolver.hash())) {
        for (const line of this.auth.resolver.packLines()) c.publish(reply, '', undefined, line);
      }
      c.publish(reply, '', undefined, '');
    }, 'responder');
    c.subscribe('$SYS.REQ.CLAIMS.LIST', (_s, reply) => {
      if (!reply) return;
      const ids = this.auth.resolver.all().map((a) => a.subject);
      c.publish(reply, '', undefined, JSON.stringify({ server: this.serverInfo(), data: ids }));
    });
    this.auth.resolver.onChange((acc, old) => this.accountChanged(acc, old));
    // nats-server's $SYS._INBOX.<server>.<n> replies
    this.inboxPrefix = `$SYS._INBOX.${server.serverId.slice(-8)}.`;
    this.auth.fetchAccount = (pub) => this.fetch(pub);
    const packInbox = this.inboxPrefix + 'pack';
    c.subscribe(packInbox, (_s, _r, _h, payload) => this.merge(payload.toString()));
    const interval = server.options.operatorMode?.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    // Not to our own "responder" member: tsnats prefers local queue members, and this server's
    // own store is the one to compare.
    this.syncTimer = setInterval(() => c.publish('$SYS.REQ.CLAIMS.PACK', packInbox, undefined, this.auth.resolver.hash(), true), interval);
    this.syncTimer.unref();
    server.log.info(`Managing all jwt in exclusive directory ${server.options.operatorMode?.dir ?? ''}`);
  }

  async shutdown(): Promise<void> {
    if (this.syncTimer !== null) clearInterval(this.syncTimer);
    this.syncTimer = null;
    this.auth.fetchAccount = undefined;
    this.client?.close();
    this.client = null;
  }

  /** nats-server Server.fetch: ask the cluster for an account JWT; the first answer counts. */
  private fetch(pub: string): Promise<string | undefined> {
    const c = this.client;
    if (c === null) return Promise.resolve(undefined);
    const timeoutMs = this.server?.options.operatorMode?.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const reply = this.inboxPrefix + String(++this.nextInbox);
    return new Promise((resolve) => {
      const done = (jwt: string | undefined): void => {
        clearTimeout(timer);
        c.unsubscribe(sid);
        resolve(jwt);
      };
      const sid = c.subscribe(reply, (_s, _r, _h, payload) => done(payload.toString()));
      const timer = setTimeout(() => done(undefined), timeoutMs);
      c.publish(`$SYS.REQ.ACCOUNT.${pub}.CLAIMS.LOOKUP`, reply, undefined, '');
    });
  }

  /** A CLAIMS.PACK answer: `<account>|<jwt>` lines, each kept if newer (an empty message ends the pack). */
  private merge(pack: string): void {
    for (const line of pack.split('\n')) {
      const bar = line.indexOf('|');
      if (bar <= 0) continue;
      try {
        this.auth.resolver.update(line.slice(0, bar), line.slice(bar + 1));
      } catch (e) {
        this.server?.log.error(`Merging resulted in error: ${(e as Error).message}`);
      }
    }
  }

  /** nats-server respondToUpdate: {"server":{..},"data":{account,code:200,message}} or "error". */
  private handleUpdate(pubFromSubject: string | undefined, jwt: string, reply: string): void {
    let account = pubFromSubject ?? 'n/a';
    let message = 'jwt update resulted in error';
    try {
      let sub: string;
      try {
        sub = decodeJwt<unknown>(jwt).sub;
      } catch (e) {
        account = 'n/a';
        throw e;
      }
      if (pubFromSubject === undefined) account = sub;
      else if (sub !== pubFromSubject) throw new Error('subject does not match jwt content');
      message = 'jwt update resulted in error';
      this.auth.resolver.update(account, jwt);
      this.respond(reply, { account, code: 200, message: 'jwt updated' }, false);
    } catch (e) {
      this.server?.log.error(`${message} - ${account} - ${(e as Error).message}`);
      this.respond(reply, { account, code: 500, description: `${message} - ${(e as Error).message}` }, true);
    }
  }

  private respond(reply: string, body: Record<string, unknown>, isError: boolean): void {
    if (!reply || this.client === null) return;
    const out = { server: this.serverInfo(), [isError ? 'error' : 'data']: body };
    this.client.publish(reply, '', undefined, JSON.stringify(out));
  }

  private serverInfo(): Record<string, unknown> {
    const s = this.server!;
    return {
      name: s.serverName, host: s.options.host, id: s.serverId, ver: SERVER_VERSION,
      jetstream: s.getInfoField('jetstream') === true, flags: 0, seq: ++this.seq, time: new Date().toISOString(),
    };
  }

  /**
   * Re-check every connected user of a changed account. Newest connections first: over a
   * lowered connection limit nats-server keeps the newest and disconnects the oldest, leaf
   * links included (they count toward the limit; only clients are checked again otherwise).
   */
  private accountChanged(acc: JwtAccount, old: JwtAccount | undefined): void {
    const s = this.server;
    if (s === null) return;
    const clients: Client[] = [];
    for (const c of s.clients.values()) if (!c.closed && c.account.name === acc.subject) clients.push(c);
    const leafnodes = s.getSubsystem('leafnodes') as Leafnodes | undefined;
    const account = s.lookupAccount(acc.subject);
    const leafs = leafnodes !== undefined && account !== undefined ? leafnodes.linksOf(account) : [];
    const all: (Client | LeafConnection)[] = [...clients, ...leafs];
    all.sort((a, b) => b.startMs - a.startMs || b.cid - a.cid);
    const scope = (a: JwtAccount | undefined, key: string) => JSON.stringify(a?.signingKeys.get(key) ?? null);
    all.forEach((c, i) => {
      const over = acc.maxConnections >= 0 && i >= acc.maxConnections;
      if (!(c instanceof Client)) {
        if (over) leafnodes!.maxConnectionsExceeded(c);
        // nats-server checks a leaf's user JWT against the new revocations too (nothing else)
        else if (c.jwt !== '') {
          const info = { cid: c.cid, ip: c.ip, port: c.port, connectionType: c.websocket ? 'LEAFNODE_WS' : 'LEAFNODE' };
          if (this.auth.recheck({ ...defaultConnectOptions(), jwt: c.jwt }, info).revoked) leafnodes!.revoked(c);
        }
        return;
      }
      const { result, revoked, signer } = this.auth.recheck(c.opts, { cid: c.cid, ip: c.ip, port: c.port, nonce: c.nonce });
      // A user whose signing key was removed or whose scope changed is cut off without an
      // -ERR (nats-server closes it with an authentication violation).
      if (!over && !revoked && signer !== undefined
        && (!acc.signingKeys.has(signer) || scope(acc, signer) !== scope(old, signer))) {
        c.close(CloseReason.AUTH_VIOLATION, true);
        return;
      }
      c.credentialsChanged(result, revoked, over);
    });
  }
}
