// Client connect/disconnect advisories in the system account (nats-server events.go:
// accountConnectEvent, accountDisconnectEvent, sendAccConnsUpdate). When a client's CONNECT is
// accepted the server publishes `$SYS.ACCOUNT.<acc>.CONNECT` (client_connect); when that client
// closes, `$SYS.ACCOUNT.<acc>.DISCONNECT` (client_disconnect, with the client's traffic and the
// close reason). After either, `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (account_connections) carries
// the account's connection count (published just before the event, as nats-server does). A client that never got past CONNECT (bad credentials) has no
// events, as in nats-server. Messages are built at once (the client's figures at that moment) and
// published on the next turn, outside the client's own read/close path.
import { nuid } from '@nats-io/nuid';
import type { Client } from '../core/client.js';
import type { InternalClient } from '../core/internal-client.js';
import { ClientKind } from '../core/types.js';
import type { ClientWatcher, Server } from '../server/server.js';
import { goJson, goTime, nanos } from './format.js';

type Json = Record<string, unknown>;

export const connectSubject = (acc: string): string => `$SYS.ACCOUNT.${acc}.CONNECT`;
export const disconnectSubject = (acc: string): string => `$SYS.ACCOUNT.${acc}.DISCONNECT`;
export const accConnsSubject = (acc: string): string => `$SYS.ACCOUNT.${acc}.SERVER.CONNS`;

/** nats-server's client_type for a connection type (ClientInfo.ClientType). */
function clientType(connType: string): string {
  switch (connType) {
    case 'WEBSOCKET': return 'websocket';
    case 'MQTT': return 'mqtt';
    default: return 'nats';
  }
}

/** nats-server ClientInfo of a connection, with Go's omitempty: empty strings and zero numbers are
 *  left out (connect/disconnect events, service latency metrics). */
export function clientInfoJson(c: Client, closed: boolean): Json {
  const o = c.opts;
  const info: Json = { start: goTime(c.startMs), host: c.ip, id: c.cid, acc: c.account.name };
  if (c.authorizedUser) info.user = c.authorizedUser;
  if (o.name) info.name = o.name;
  if (o.lang) info.lang = o.lang;
  if (o.version) info.ver = o.version;
  if (closed) {
    if (c.rttMs > 0) info.rtt = nanos(c.rttMs);
    info.stop = goTime(c.stopMs || Date.now());
  }
  info.kind = 'Client';
  info.client_type = clientType(c.conn.type);
  return info;
}

interface ConnCount { conns: number; leafs: number }
const NO_CONNS: ConnCount = { conns: 0, leafs: 0 };

export class SysClientEvents implements ClientWatcher {
  /** Clients whose connect event went out: only these get a disconnect event. */
  private readonly announced = new WeakSet<Client>();
  /** Events built this turn, published on the next (outside the client's read/close path). */
  private queued: { subject: string; body: string; accName: string }[] = [];

  constructor(private readonly server: Server, private readonly client: () => InternalClient | null,
    private readonly serverInfo: () => Json) {}

  start(): void {
    this.server.clientWatchers.add(this);
  }

  stop(): void {
    this.server.clientWatchers.delete(this);
  }

  connected(c: Client): void {
    if (c.kind !== ClientKind.CLIENT) return;
    this.announced.add(c);
    const now = Date.now();
    const msg: Json = {
      type: 'io.nats.server.advisory.v1.client_connect', id: nuid.next(), timestamp: goTime(now),
      server: this.serverInfo(), client: clientInfoJson(c, false),
    };
    this.send(connectSubject(c.account.name), msg, c.account.name);
  }

  closed(c: Client): void {
    if (!this.announced.has(c)) return;
    this.announced.delete(c);
    const stop = c.stopMs || Date.now();
    const msg: Json = {
      type: 'io.nats.server.advisory.v1.client_disconnect', id: nuid.next(), timestamp: goTime(stop),
      server: this.serverInfo(), client: clientInfoJson(c, true),
      // seen from the client: what it sent is what the server received from it
      sent: { msgs: c.inMsgs, bytes: c.inBytes },
      received: { msgs: c.outMsgs, bytes: c.outBytes },
      reason: c.closeReason,
    };
    this.send(disconnectSubject(c.account.name), msg, c.account.name);
  }

  private send(subject: string, msg: Json, accName: string): void {
    this.queued.push({ subject, body: goJson(msg, false), accName });
    if (this.queued.length === 1) setImmediate(this.drain);
  }

  /**
   * Publishes the events queued since the last turn, in order. One turn's events share one
   * count of the connections per account (a single pass over the clients): 2,000 clients
   * closing at once would otherwise walk the 2,000 clients once per event.
   */
  private readonly drain = (): void => {
    const batch = this.queued;
    this.queued = [];
    const ic = this.client();
    if (ic === null) return;
    const counts = this.connCounts();
    for (const ev of batch) {
      // nats-server's order: the account's connection count first, then the event
      const msg = this.accountConnsMsg(ev.accName, counts.get(ev.accName) ?? NO_CONNS);
      if (msg !== null) ic.publish(accConnsSubject(ev.accName), '', undefined, goJson(msg, false));
      ic.publish(ev.subject, '', undefined, ev.body);
    }
  };

  /** Connections (leaf nodes apart) of every account on this server, in one pass over the clients. */
  private connCounts(): Map<string, ConnCount> {
    const counts = new Map<string, ConnCount>();
    for (const cl of this.server.clients.values()) {
      if (cl.closed) continue; // closed, its bookkeeping still queued (close-queue.ts)
      let n = counts.get(cl.account.name);
      if (n === undefined) counts.set(cl.account.name, n = { conns: 0, leafs: 0 });
      if (cl.kind === ClientKind.LEAF) n.leafs++;
      else n.conns++;
    }
    return counts;
  }

  /** account_connections for one account (its current figures on this server); null: no such account. */
  accountConns(accName: string): Json | null {
    return this.accountConnsMsg(accName, this.connCounts().get(accName) ?? NO_CONNS);
  }

  private accountConnsMsg(accName: string, n: ConnCount): Json | null {
    const acc = this.server.lookupAccount(accName);
    if (!acc) return null;
    const st = acc.stats;
    return {
      type: 'io.nats.server.advisory.v1.account_connections', id: nuid.next(), timestamp: goTime(Date.now()),
      server: this.serverInfo(), acc: accName, conns: n.conns, leafnodes: n.leafs, total_conns: n.conns + n.leafs,
      sent: { msgs: st.outMsgs, bytes: st.outBytes },
      received: { msgs: st.inMsgs, bytes: st.inBytes },
      slow_consumers: 0, // tsnats counts slow consumers per server, not per account
    };
  }
}
