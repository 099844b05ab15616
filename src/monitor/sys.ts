// System-account monitoring requests (nats-server events.go): every server
// answers $SYS.REQ.SERVER.PING[.<NAME>] and $SYS.REQ.SERVER.<id>.<NAME> with
// the same JSON as the HTTP endpoint, wrapped as {"server":{...},"data":...};
// $SYS.REQ.ACCOUNT.<acc>.<NAME> answers for one account. Requests carry the
// endpoint options as JSON plus filters (server_name, cluster, host, tags,
// domain) that let a server stay silent.
import type { Server } from '../server/server.js';
import { SERVER_VERSION } from '../server/server.js';
import type { InternalClient } from '../core/internal-client.js';
import type { Account } from '../core/account.js';
import { cpuCount } from '../server/host-facts.js';
import { goJson, goTime } from './format.js';
import { BadRequest } from './query.js';
import { totalSubscriptions, varz, type ProcessUsage } from './varz.js';
import { connz, type ConnzOptions } from './connz.js';
import { subsz } from './subsz.js';
import { jsz, jszFilteredOut } from './jsz.js';
import { healthz } from './healthz.js';
import { accountInfo, accountStat, accountz, accstatz } from './accountz.js';
import { expvarz, gatewayz, leafz, routez } from './other.js';
import { clusterSource, jetStreamSource } from './sources.js';
import { jetStreamConfigJson, jetStreamStatsJson } from './jsz.js';
import { StatszHeartbeat } from './statsz-heartbeat.js';
import { SysClientEvents } from './sys-events.js';
import { ACCOUNT_SYS_IMPORTS } from './sys-imports.js';
import { clientInfo, serviceLatencyReporter } from './service-latency.js';

type Json = Record<string, unknown>;

/** An answer that must not be sent (filtered out, or another handler answers). */
const SKIP = Symbol('skip');

const SERVER_ENDPOINTS = [
  'STATSZ', 'IDZ', 'VARZ', 'SUBSZ', 'CONNZ', 'ROUTEZ', 'GATEWAYZ', 'LEAFZ', 'ACCOUNTZ', 'JSZ', 'HEALTHZ',
  'EXPVARZ', 'IPQUEUESZ', 'RAFTZ',
] as const;
const ACCOUNT_ENDPOINTS = ['SUBSZ', 'CONNZ', 'LEAFZ', 'JSZ', 'INFO', 'STATZ'] as const;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const flag = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

export class SysMonitorServices {
  private client: InternalClient | null = null;
  private seq = 0;
  private heartbeat: StatszHeartbeat | null = null;
  private events: SysClientEvents | null = null;
  /** One internal client per ordinary account, answering its imported $SYS requests. */
  private accountClients: InternalClient[] = [];

  constructor(private readonly server: Server, private readonly usage: ProcessUsage,
    private readonly httpReqStats: () => Record<string, number>) {}

  start(): void {
    const s = this.server;
    const c = s.createSystemClient('monitoring');
    this.client = c;
    const on = (subject: string, answer: (subject: string, req: Json) => unknown, wrap = true): void =>
      this.listen(c, subject, answer, wrap);
    on('$SYS.REQ.SERVER.PING', (_s, req) => this.statsz(req), false);
    for (const name of SERVER_ENDPOINTS) {
      const answer = (subject: string, req: Json): unknown => this.serverEndpoint(name, req);
      const wrap = name !== 'STATSZ' && name !== 'IDZ';
      on(`$SYS.REQ.SERVER.PING.${name}`, answer, wrap);
      on(`$SYS.REQ.SERVER.${s.serverId}.${name}`, answer, wrap);
    }
    on('$SYS.REQ.ACCOUNT.PING.STATZ', (_subj, req) => {
      const stz = accstatz(s, { accounts: this.strings(req.accounts), includeUnused: flag(req.include_unused) });
      return (stz.account_statz as unknown[]).length === 0 ? SKIP : stz;
    });
    for (const name of ACCOUNT_ENDPOINTS) {
      on(`$SYS.REQ.ACCOUNT.*.${name}`, (subject, req) => this.accountEndpoint(name, subject.split('.')[3], req));
    }
    this.heartbeat = new StatszHeartbeat(c, s.serverId, () => this.statsz({}));
    this.heartbeat.start();
    this.startAccountImports();
    s.imports.setLatencyReporter(serviceLatencyReporter(s));
    s.imports.setRequestInfo((cid, detailed) => (s.clients.has(cid) ? clientInfo(s, cid, detailed) : null));
    const events = new SysClientEvents(s, () => this.client, () => this.serverInfo());
    this.events = events;
    events.start();
    // an account's connection count, from the servers where it has connections (the others stay silent)
    on('$SYS.REQ.ACCOUNT.*.CONNS', (subject) => {
      const msg = events.accountConns(subject.split('.')[3] ?? '');
      return msg === null || msg.total_conns === 0 ? SKIP : msg;
    }, false);
  }

  stop(): void {
    this.server.accountWatchers.delete(this.onNewAccount);
    this.server.imports.setLatencyReporter(null);
    this.server.imports.setRequestInfo(null);
    for (const ac of this.accountClients) ac.close();
    this.accountClients = [];
    this.events?.stop();
    this.events = null;
    this.heartbeat?.stop();
    this.heartbeat = null;
    this.client?.close();
    this.client = null;
  }

  /** Answers requests on `subject` in the account of `c`, replying through `c`. */
  private listen(c: InternalClient, subject: string, answer: (subject: string, req: Json) => unknown, wrap: boolean,
    localOnly = false): void {
    c.subscribe(subject, (subj, reply, _hdr, payload) => {
      if (reply === '') return;
      // Answer outside the delivery path (nats-server queues these too); keep a copy of the request.
      const body = payload.length > 0 ? payload.toString('utf8') : '';
      setImmediate(() => this.respond(c, subj, reply, body, answer, wrap));
    }, undefined, localOnly);
  }

  /**
   * nats-server gives every ordinary account three imports from the system account: its own
   * CONNZ on `$SYS.REQ.ACCOUNT.PING.CONNZ` and `$SYS.REQ.SERVER.PING.CONNZ`, its own STATZ on
   * `$SYS.REQ.ACCOUNT.PING.STATZ`. Everything else under `$SYS` in that account is just the
   * account's own subjects (a subscriber there never sees the system account's traffic).
   * Accounts created later (reload, JWT resolver) get theirs when they appear. nats-server maps
   * the request into the system account and, the import being a singleton, the requester gets
   * the first server's answer (normally its own server's); here the requester's server answers.
   */
  private startAccountImports(): void {
    const s = this.server;
    for (const acc of s.allAccounts()) this.addAccountImports(acc);
    s.accountWatchers.add(this.onNewAccount);
  }

  private readonly onNewAccount = (acc: Account): void => this.addAccountImports(acc);

  private addAccountImports(acc: Account): void {
    if (acc === this.server.systemAccount || this.client === null) return;
    const ac = acc.createInternalClient('sys-imports');
    this.accountClients.push(ac);
    for (const [subject, endpoint] of ACCOUNT_SYS_IMPORTS) {
      // local only, as nats-server's import subscriptions (noForward): this server answers for itself
      this.listen(ac, subject, (_subj, req) => this.accountEndpoint(endpoint, acc.name, req), true, true);
    }
  }

  private strings(v: unknown): string[] | undefined {
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  }

  /** The `server` object of every answer. */
  serverInfo(): Json {
    const s = this.server;
    const o = s.options;
    const info: Json = { name: s.serverName, host: o.host, id: s.serverId };
    if (o.cluster?.name) info.cluster = o.cluster.name;
    const js = jetStreamSource(s);
    if (js?.domain) info.domain = js.domain;
    info.ver = SERVER_VERSION;
    if (o.serverTags.length > 0) info.tags = [...o.serverTags];
    if (Object.keys(o.serverMetadata).length > 0) info.metadata = { ...o.serverMetadata };
    info.jetstream = js !== undefined;
    info.flags = js !== undefined ? 1 : 0;
    info.seq = ++this.seq;
    info.time = goTime(Date.now());
    return info;
  }

  /** nats-server filterRequest: true when this server should stay silent. */
  private filtered(req: Json): boolean {
    const s = this.server;
    const name = str(req.server_name) ?? '';
    const host = str(req.host) ?? '';
    const cluster = str(req.cluster) ?? '';
    const myCluster = s.options.cluster?.name ?? '';
    if (req.exact_match === true) {
      if ((name && name !== s.serverName) || (host && host !== s.options.host) || (cluster && cluster !== myCluster)) return true;
    } else if ((name && !s.serverName.includes(name)) || (host && !s.options.host.includes(host))
      || (cluster && !myCluster.includes(cluster))) {
      return true;
    }
    const tags = this.strings(req.tags) ?? [];
    if (tags.some((t) => !s.options.serverTags.includes(t.toLowerCase()))) return true;
    const domain = str(req.domain) ?? '';
    if (domain && (jetStreamSource(s)?.domain ?? '') !== domain) return true;
    return false;
  }

  private respond(c: InternalClient, subject: string, reply: string, body: string,
    answer: (subject: string, req: Json) => unknown, wrap: boolean): void {
    if (this.client === null) return; // stopped
    let req: Json = {};
    let parseError: string | undefined;
    if (body.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(body);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) req = parsed as Json;
        else parseError = 'json: cannot unmarshal into options';
      } catch (e) {
        parseError = (e as Error).message;
      }
      if (parseError === undefined && this.filtered(req)) return;
    }
    let out: Json;
    if (parseError !== undefined) {
      out = { server: this.serverInfo(), error: { code: 400, description: parseError } };
    } else {
      let data: unknown;
      try {
        data = answer(subject, req);
      } catch (e) {
        if (!wrap) return;
        out = { server: this.serverInfo(), error: { code: 500, description: (e as Error).message } };
        c.publish(reply, '', undefined, goJson(out, false));
        return;
      }
      if (data === SKIP) return;
      out = wrap ? { server: this.serverInfo(), data } : (data as Json);
    }
    c.publish(reply, '', undefined, goJson(out, false));
  }

  private connzOptions(req: Json): ConnzOptions {
    const stateNum = num(req.state);
    return {
      sort: str(req.sort),
      auth: flag(req.auth),
      subscriptions: flag(req.subscriptions),
      subscriptionsDetail: flag(req.subscriptions_detail),
      offset: num(req.offset),
      limit: num(req.limit),
      cid: num(req.cid),
      state: stateNum === 1 ? 'closed' : stateNum === 2 ? 'all' : 'open',
      user: str(req.user),
      account: str(req.acc),
    };
  }

  private jszOptions(req: Json): Parameters<typeof jsz>[1] {
    return {
      account: str(req.account),
      accounts: flag(req.accounts),
      streams: flag(req.streams),
      consumers: flag(req.consumer),
      config: flag(req.config),
      offset: num(req.offset),
      limit: num(req.limit),
      leaderOnly: flag(req.leader_only),
    };
  }

  private serverEndpoint(name: (typeof SERVER_ENDPOINTS)[number], req: Json): unknown {
    const s = this.server;
    switch (name) {
      case 'STATSZ':
        return this.statsz(req);
      case 'IDZ':
        return { name: s.serverName, host: s.options.host, id: s.serverId };
      case 'VARZ':
        return varz(s, this.usage, this.httpReqStats());
      case 'SUBSZ':
        return subsz(s, {
          subscriptions: flag(req.subscriptions), offset: num(req.offset), limit: num(req.limit),
          account: str(req.account), test: str(req.test),
        });
      case 'CONNZ':
        return connz(s, this.connzOptions(req));
      case 'ROUTEZ':
        return routez(s, { subscriptions: flag(req.subscriptions), subscriptionsDetail: flag(req.subscriptions_detail) });
      case 'GATEWAYZ':
        return gatewayz(s);
      case 'LEAFZ':
        return leafz(s);
      case 'ACCOUNTZ':
        return accountz(s, str(req.account) ?? '');
      case 'JSZ': {
        const o = this.jszOptions(req);
        // leader_only: a single server is its own leader, but a server without JetStream stays silent
        if (jszFilteredOut(s, o)) return SKIP;
        return jsz(s, o);
      }
      case 'HEALTHZ':
        return healthz(s, {
          jsEnabled: flag(req['js-enabled']), jsEnabledOnly: flag(req['js-enabled-only']),
          jsServerOnly: flag(req['js-server-only']), jsMetaOnly: flag(req['js-meta-only']),
          account: str(req.account), stream: str(req.stream), consumer: str(req.consumer), details: flag(req.details),
        });
      case 'EXPVARZ':
        return expvarz();
      case 'IPQUEUESZ':
      case 'RAFTZ':
        return {};
    }
  }

  private accountEndpoint(name: (typeof ACCOUNT_ENDPOINTS)[number], accName: string, req: Json): unknown {
    const s = this.server;
    switch (name) {
      case 'SUBSZ':
        return subsz(s, { subscriptions: true, offset: num(req.offset), limit: num(req.limit), account: accName, test: str(req.test) });
      case 'CONNZ':
        return connz(s, { ...this.connzOptions(req), account: accName });
      case 'LEAFZ':
        return leafz(s);
      case 'JSZ': {
        const js = jetStreamSource(s);
        if (!js) throw new Error('jetstream not enabled');
        if (!s.lookupAccount(accName)) throw new Error(`account "${accName}" not found`);
        if (!js.allJsAccounts().some((a) => a.name === accName)) throw new Error(`account "${accName}" not jetstream enabled`);
        const all = jsz(s, { ...this.jszOptions(req), account: accName });
        return (all.account_details as unknown[] | undefined)?.[0];
      }
      case 'INFO': {
        const acc = s.lookupAccount(accName);
        if (!acc) throw new BadRequest(`Account ${accName} does not exist`);
        return accountInfo(s, acc);
      }
      case 'STATZ': {
        if (accName === 'PING') return SKIP;
        const acc = s.lookupAccount(accName);
        const include = flag(req.include_unused) === true;
        if (!acc || (!include && acc.numClients === 0)) return { server_id: s.serverId, now: goTime(Date.now()), account_statz: [] };
        return { server_id: s.serverId, now: goTime(Date.now()), account_statz: [accountStat(acc)] };
      }
    }
  }

  /** ServerStatsMsg: {"server":{...},"statsz":{...}} */
  private statsz(_req: Json): Json {
    const s = this.server;
    const { cpuPercent, rssBytes } = this.usage.sample();
    const st = s.stats;
    s.closeQueue.drainAll(); // closes still queued are counted as closed
    const statsz: Json = {
      start: goTime(s.startTime.getTime()),
      mem: rssBytes,
      cores: cpuCount(),
      cpu: cpuPercent,
      connections: s.clients.size,
      total_connections: st.totalConnections,
      active_accounts: s.allAccounts().filter((a) => a.numClients > 0).length,
      subscriptions: totalSubscriptions(s),
      sent: { msgs: st.outMsgs, bytes: st.outBytes },
      sent_to_clients: { msgs: st.outMsgs, bytes: st.outBytes },
      received: { msgs: st.inMsgs, bytes: st.inBytes },
      received_from_clients: { msgs: st.inMsgs, bytes: st.inBytes },
      slow_consumers: st.slowConsumers,
    };
    const peers = clusterSource(s)?.remoteServerIds?.() ?? [];
    if (peers.length > 0) statsz.active_servers = peers.length + 1;
    const js = jetStreamSource(s);
    if (js) statsz.jetstream = { config: jetStreamConfigJson(s, js), stats: jetStreamStatsJson(js) };
    statsz.gomaxprocs = cpuCount();
    return { server: this.serverInfo(), statsz };
  }
}
