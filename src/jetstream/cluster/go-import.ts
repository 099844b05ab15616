import { ClientKind } from '../../core/types.js';
// How nats-server 2.9.10 carries a client's JetStream API request across a cluster, and
// what a tsnats member does with it. nats-server does not route the request in the client's
// account: the account's `$JS.API.>` service import moves it into the system account, with
// the reply rewritten to a service-import reply `_R_.<prefix>.<id>` and the client's account
// in a `Nats-Request-Info` header, e.g.
//   $JS.API.STREAM.CREATE.S3  reply _R_.i5cLko.ctekjp
//   Nats-Request-Info: {"acc":"APP","rtt":1044251,"server":"n1","cluster":"C1"}
// The answer — from the meta leader, or from the server that holds the asset — is published
// in the system account on that `_R_` subject; the client's server maps it back to the
// client's inbox. The meta leader also copies the `_R_` reply into the stream / consumer
// assignment, so the holder must answer there in the system account.
//
// A tsnats server also receives the client's account copy of the request (it subscribes to
// `$JS.API.>` in every JetStream account, so routes carry that interest): it answers that
// one, and ignores the system-account copy, which would otherwise be answered a second time
// (as a request of the system account).

const REQUEST_INFO = 'Nats-Request-Info';

/** A reply subject made by a nats-server service import (it lives in the system account). */
export function isServiceImportReply(reply: string): boolean {
  return reply.startsWith('_R_.');
}

/** The `acc` of a Nats-Request-Info header, or undefined. */
export function requestInfoAccount(headers: Buffer | undefined): string | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  for (const line of headers.toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.slice(0, i).trim().toLowerCase() !== REQUEST_INFO.toLowerCase()) continue;
    try {
      const ci = JSON.parse(line.slice(i + 1).trim()) as { acc?: unknown };
      return typeof ci.acc === 'string' ? ci.acc : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A request in the system account as nats-server's service import puts it there for another
 * account (routed from a nats-server, or sent by this server's forwardAsImport): the account
 * copy is handled instead, or a nats-server answers it.
 */
export function isImportedCopy(req: { accountName: string; headers: Buffer | undefined }, systemAccount: string): boolean {
  if (req.accountName !== systemAccount) return false;
  const acc = requestInfoAccount(req.headers);
  return acc !== undefined && acc !== systemAccount;
}

/** The Nats-Request-Info header nats-server puts on a request it moves into the system account. */
export function requestInfoHeader(account: string, server: string, cluster: string): Buffer {
  return Buffer.from(`NATS/1.0\r\n${REQUEST_INFO}: ${JSON.stringify({ acc: account, server, cluster })}\r\n\r\n`, 'latin1');
}

const RELAY_TTL_MS = 60_000;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function rand(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += BASE62[Math.floor(Math.random() * 62)];
  return s;
}

/**
 * Service-import replies made here, for answers that a nats-server peer sends in the system
 * account: each `_R_.<prefix>.<id>` maps to a client's reply subject in its account, and the
 * first answer on it is passed on there (then the mapping is dropped; unanswered ones expire).
 */
export class ImportReplyRelay {
  private readonly prefix = `_R_.${rand(6)}.`;
  private readonly pending = new Map<string, { deliver: (payload: Buffer) => void; timer: NodeJS.Timeout }>();
  private sid = 0;
  private seq = 0;

  constructor(private readonly sys: import('../../core/internal-client.js').InternalClient,
    private readonly publishIn: (account: string, subject: string, payload: Buffer) => void) {}

  start(): void {
    this.sid = this.sys.subscribe(`${this.prefix}>`, (subject, _r, _h, payload) => {
      const p = this.pending.get(subject);
      if (p === undefined) return;
      this.pending.delete(subject);
      clearTimeout(p.timer);
      p.deliver(Buffer.from(payload));
    });
  }

  stop(): void {
    if (this.sid) this.sys.unsubscribe(this.sid);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  /** A system-account reply subject whose first answer goes to `reply` in `account`. */
  open(account: string, reply: string): string {
    return this.openWith((payload) => this.publishIn(account, reply, payload));
  }

  /** A system-account reply subject whose first answer is handed to `deliver`. */
  openWith(deliver: (payload: Buffer) => void): string {
    const subject = `${this.prefix}${rand(4)}${(++this.seq).toString(36)}`;
    const timer = setTimeout(() => this.pending.delete(subject), RELAY_TTL_MS);
    timer.unref();
    this.pending.set(subject, { deliver, timer });
    return subject;
  }
}

/**
 * Does server `peerName` carry route interest in the JetStream API in `account`? tsnats servers
 * do (they subscribe `$JS.API.>` in every JetStream account); nats-server does not (its API
 * subscription lives in the system account).
 */
export function routesAccountApi(account: import('../../core/account.js').Account | undefined, peerName: string): boolean {
  if (account === undefined) return false;
  const r = account.sublist.match('$JS.API.INFO');
  const fromPeer = (s: { owner: { kind: number }; closed?: boolean }): boolean =>
    s.owner.kind === ClientKind.ROUTE && !s.closed && (s.owner as unknown as { remoteName?: string }).remoteName === peerName;
  return r.psubs.some(fromPeer) || r.qsubs.some((g) => g.some(fromPeer));
}
