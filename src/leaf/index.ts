// The leaf-node subsystem (nats-server server/leafnode.go, 2.9.10 behaviour): the accept side
// (hub: `leafnodes { port, authorization }`) and solicited remotes (`leafnodes { remotes }`).
// src/index.ts imports this module only when a leafnodes block is configured.
//
// Interest: a leaf connection is told about every subscription of its bound account (local
// clients, internal clients, routes and other leaf connections) except its own, so the
// same subject is never advertised back to where it came from. Per account we keep a count
// per "subject[ queue]" key over all owners; what a connection sees is that count minus its
// own subscriptions on the key.
//
// TLS (nats-server 2.9.10): the accepting side sends its INFO in plaintext (tls_required
// when `leafnodes { tls {} }` is set) and then handshakes as the TLS server; the dialling side
// reads that INFO and handshakes as the client when the INFO requires TLS, the remote's url
// is tls:// or the remote has a tls block; CONNECT and everything after go over TLS.
//
// Websocket: a remote with ws:// or wss:// urls does TLS (wss, or a tls block) and the HTTP
// upgrade on /leafnode first, then the leaf protocol in websocket frames; the hub's websocket
// listener hands such upgrades to acceptWebsocket (no leaf TLS upgrade after the INFO there).
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type { LeafnodeOptions, LeafRemoteOptions, Options, Permissions } from '../config/options.js';
import type { Server, Subsystem } from '../server/server.js';
import type { Account } from '../core/account.js';
import type { Subscription } from '../core/types.js';
import { defaultConnectOptions, type AccountLimitsOf, type AuthResult } from '../core/auth-hook.js';
import { configAccountLimits, passwordMatches } from '../server/options-auth.js';
import type { RouteLimits } from '../cluster/route-conn.js';
import { buildTlsSettings, type TlsSettings } from '../tls/settings.js';
import { acceptRouteTls, dialRouteTls } from '../tls/route-tls.js';
import { LeafConnection, parseJson, rulePerms, userPerms, type LeafHost, type LeafRule } from './leaf-conn.js';
import { FlushQueue } from '../server/flush-queue.js';
import type { LinkOutput } from '../cluster/link-output.js';
import { countMsgOut } from '../core/msg-counters.js';
import { CloseReason, type ServerStats } from '../core/client.js';
import { Err } from '../protocol/client-encode.js';
import type { ByteStream } from '../core/socket-writer.js';
import { upgradeAsClient } from '../websocket/client-upgrade.js';
import type { WsStream } from '../websocket/transport.js';

const DEFAULT_LEAF_PORT = 7422;
/** nats-server's DuplicateRemoteLeafnodeConnection: the -ERR text and the close reason */
const DUPLICATE_LEAF = 'Duplicate Remote LeafNode Connection';
/** How long a dialled link waits for the hub's INFO (nats-server's infoTimeout is 2s). */
const INFO_WAIT_MS = 2000;
/** Longest first INFO line read before the TLS decision. */
const INFO_MAX_BYTES = 64 * 1024;

function keyOf(sub: Subscription): string {
  return sub.queue === undefined ? sub.subject : `${sub.subject} ${sub.queue}`;
}

export class Leafnodes implements Subsystem, LeafHost {
  readonly name = 'leafnodes';
  private server!: Server;
  private listener: net.Server | null = null;
  private readonly conns = new Set<LeafConnection>();
  /** account -> key -> number of subscriptions (any owner) */
  private readonly counts = new Map<Account, Map<string, number>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping = false;
  /** the $LDS subject this server advertises on solicited links (loop detection) */
  private readonly ldsSubject = `$LDS.${randomBytes(12).toString('base64url')}`;
  port = 0;
  private jsLocal = false;
  limits!: RouteLimits;
  /** accept-side TLS (null: plain TCP) */
  private tls: TlsSettings | null = null;
  /** sockets in a TLS handshake or waiting for the first INFO (closed at shutdown) */
  private readonly pendingSockets = new Set<net.Socket>();

  constructor(private readonly o: LeafnodeOptions) {}

  async start(server: Server): Promise<void> {
    this.server = server;
    const so = server.options;
    this.limits = {
      pingIntervalMs: so.pingIntervalMs, pingMax: so.pingMax, writeDeadlineMs: so.writeDeadlineMs,
      maxPendingBytes: so.maxPendingBytes, maxControlLineBytes: so.maxControlLineBytes, maxPayloadBytes: so.maxPayloadBytes,
    };
    this.jsLocal = so.jetstream.enabled;
    this.tls = this.o.tls !== undefined ? buildTlsSettings(this.o.tls) : null;
    server.setLeafBridge(this.onSubChange);
    if (this.o.port !== undefined) await this.listen();
    for (const r of this.o.remotes) this.dial(r, 0);
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.server.setLeafBridge(null);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of [...this.conns]) c.close();
    for (const s of this.pendingSockets) s.destroy();
    this.pendingSockets.clear();
    const l = this.listener;
    this.listener = null;
    if (l !== null) await new Promise<void>((res) => l.close(() => res()));
  }

  log(level: 'info' | 'warn' | 'error' | 'debug', text: string): void {
    this.server.log[level](text);
  }

  // ---- LeafHost: output batching and counters, as the cluster has for routes ----

  /** link outputs written at the end of the event-loop turn */
  private readonly flushQueue = new FlushQueue<LinkOutput>();

  scheduleFlush(out: LinkOutput): void {
    this.flushQueue.add(out);
  }

  countOut(bytes: number): void {
    countMsgOut(this.server.stats, bytes);
  }

  countSlowConsumer(): void {
    this.server.stats.slowConsumers++;
  }

  get stats(): ServerStats {
    return this.server.stats;
  }

  /** Connections, for monitoring and tests. */
  connections(): LeafConnection[] {
    return [...this.conns].filter((c) => c.account !== null);
  }

  /** /leafz entries (nats-server LeafInfo field names). */
  leafz(subs: boolean): Record<string, unknown>[] {
    return this.connections().map((c) => ({
      name: c.remoteName, is_spoke: c.solicited, account: c.account!.name, ip: c.ip, port: c.port, rtt: '0s',
      in_msgs: c.inMsgs, out_msgs: c.outMsgs, in_bytes: c.inBytes, out_bytes: c.outBytes, subscriptions: c.subs.size,
      ...(subs ? { subscriptions_list: [...c.subs.values()].map((s) => s.subject) } : {}),
    }));
  }

  // ---- accept side ----

  private async listen(): Promise<void> {
    const l = net.createServer((s) => this.accept(s));
    this.listener = l;
    await new Promise<void>((res, rej) => {
      l.once('error', rej);
      l.listen(this.o.port === 0 ? 0 : this.o.port, this.o.host, () => res());
    });
    this.port = (l.address() as net.AddressInfo).port;
    this.log('info', `Listening for leafnode connections on ${this.o.host}:${this.port}`);
  }

  private accept(socket: net.Socket): void {
    if (this.stopping) return void socket.destroy();
    const cid = this.server.nextCid();
    const tls = this.tls;
    const nonce = randomBytes(11).toString('base64url');
    // The INFO goes out in plaintext, before any TLS (the dialler decides on TLS from it).
    socket.write(this.firstInfo(cid, nonce));
    if (tls === null) return void this.accepted(cid, socket, false, nonce);
    this.pendingSockets.add(socket);
    socket.on('error', ignoreError);
    acceptRouteTls(socket, tls).then((secure) => {
      this.pendingSockets.delete(socket);
      if (this.stopping) secure.destroy();
      else this.accepted(cid, secure, true, nonce);
    }, (e: Error) => {
      this.pendingSockets.delete(socket);
      const who = `${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}:${socket.remotePort ?? 0}`;
      this.log('error', `${who} - lid:${cid} - TLS leafnode handshake error: ${e.message}`);
    });
  }

  /**
   * A leaf that came through the websocket listener (the `/leafnode` path). As nats-server: the
   * same INFO, in a websocket frame, and no leaf TLS upgrade after it (wss is the listener's).
   */
  acceptWebsocket(stream: WsStream): void {
    if (this.stopping) return void stream.destroy();
    this.log('debug', `Leafnode compression=${stream.compressed}`);
    const cid = this.server.nextCid();
    const nonce = randomBytes(11).toString('base64url');
    stream.write(this.firstInfo(cid, nonce));
    this.accepted(cid, stream, false, nonce).websocket = true;
  }

  private firstInfo(cid: number, nonce: string): Buffer {
    return Buffer.from(infoLine(this.acceptInfo(cid, { nonce, info_on_connect: true })));
  }

  /**
   * The accept side's INFO, field for field as nats-server 2.9.10 writes it: first with the
   * nonce and `info_on_connect`, then (answering the CONNECT) with `connect_info`, the leaf
   * user's permissions as `import`/`export` and the bound account.
   */
  private acceptInfo(cid: number, extra: Record<string, unknown>, tail: Record<string, unknown> = {}): Record<string, unknown> {
    const host = this.o.advertise ?? `${this.o.host === '0.0.0.0' ? '127.0.0.1' : this.o.host}:${this.port}`;
    const tls = this.tls;
    return {
      server_id: this.server.serverId, server_name: this.server.serverName, version: '2.9.10', proto: 1,
      go: 'go1.19.8', host: this.o.host, port: this.port, headers: true, auth_required: true,
      ...(tls !== null ? { tls_required: true, ...(tls.verify ? { tls_verify: true } : {}) } : {}),
      max_payload: this.limits.maxPayloadBytes, ip: host, client_id: cid, ...extra, leafnode_urls: [host], ...tail,
    };
  }

  private accepted(cid: number, socket: ByteStream, tls: boolean, nonce: string): LeafConnection {
    const c = new LeafConnection(cid, socket, this, false);
    c.tls = tls;
    c.nonce = nonce;
    this.conns.add(c);
    c.start();
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (c.account === null && !c.closed) c.sendErrAndClose('Authentication Timeout', 'Authentication Timeout');
    }, this.o.authTimeoutMs ?? 2000);
    t.unref();
    this.timers.add(t);
    return c;
  }

  onConnect(c: LeafConnection, cn: Record<string, unknown>): void {
    if (c.solicited || c.account !== null || c.authPending) return;
    if (this.usesClientAuth()) return this.clientAuthConnect(c, cn);
    const user = typeof cn.user === 'string' ? cn.user : undefined;
    const pass = typeof cn.pass === 'string' ? cn.pass : '';
    // the block's own user(s): found by name, the password compared as nats-server's
    // comparePasswords (bcrypt off the loop, plain in constant time)
    let want: { password: string; account?: string } | undefined;
    if (this.o.users.length > 0) want = this.o.users.find((x) => x.user === user);
    else if (this.o.user !== undefined) want = user === this.o.user ? { password: this.o.password ?? '' } : undefined;
    const finish = (ok: boolean): void => {
      if (c.closed) return;
      const acc = ok ? this.server.lookupAccount(want?.account ?? this.o.account ?? '$G') : undefined;
      if (acc === undefined) return this.authFail(c);
      // nats-server: a leafnodes-block user whose account has no leaf left is an authorization failure.
      const max = this.limitsOf(acc.name).maxLeafnodes;
      if (max >= 0 && acc.numLeafs >= max) return this.authFail(c);
      this.peerFromConnect(c, cn);
      this.bind(c, acc);
    };
    if (this.o.users.length === 0 && this.o.user === undefined) return finish(true);
    if (want === undefined) return finish(false);
    const ok = passwordMatches(pass, want.password);
    if (!(ok instanceof Promise)) return finish(ok);
    // interest the leaf sends meanwhile waits for the outcome
    c.authPending = true;
    void ok.then((yes) => {
      finish(yes);
      if (!c.closed) c.authSettled();
    });
  }

  /**
   * Without an `authorization` of its own in the leafnodes block, a leaf authenticates as a
   * client user of this server (nats-server 2.9.10): config users and accounts, or in operator
   * mode a user JWT with the INFO nonce signed (a remote's `credentials`).
   */
  private usesClientAuth(): boolean {
    if (this.o.users.length > 0 || this.o.user !== undefined) return false;
    const auth = this.server.authenticator;
    return this.server.options.operatorMode !== undefined || (auth !== null && auth.authRequired);
  }

  /**
   * Check the CONNECT with the server's own authenticator (connection type LEAFNODE); the link
   * binds to the user's account and the user's permissions apply to it as to a client.
   */
  private clientAuthConnect(c: LeafConnection, cn: Record<string, unknown>): void {
    const auth = this.server.authenticator;
    if (auth === null) return this.authFail(c);
    const text = (k: string): string | undefined => (typeof cn[k] === 'string' ? cn[k] as string : undefined);
    const opts = {
      ...defaultConnectOptions(), user: text('user'), pass: text('pass'), auth_token: text('auth_token'),
      nkey: text('nkey'), jwt: text('jwt'), sig: text('sig'),
    };
    const done = (r: AuthResult | null): void => {
      if (c.closed) return;
      if (r === null) return this.authFail(c);
      if (this.overLeafLimit(c, r.account, r.accountMaxLeafnodes ?? -1)) return;
      this.peerFromConnect(c, cn);
      if (r.permissions) c.perms = userPerms(r.permissions);
      if (r.expires !== undefined) c.expireAt(r.expires.atMs, r.expires.error);
      c.jwt = opts.jwt ?? '';
      this.bind(c, r.account, r.permissions?.source);
      c.authSettled();
    };
    const r = auth.authenticate(opts, { cid: c.cid, ip: c.ip, port: c.port, nonce: c.nonce, connectionType: c.websocket ? 'LEAFNODE_WS' : 'LEAFNODE' });
    if (!(r instanceof Promise)) return done(r);
    // The check runs off the loop: interest the leaf sends meanwhile waits for its outcome.
    c.authPending = true;
    r.then(done, () => this.authFail(c));
  }

  /** Who the accepted peer says it is (CONNECT server_id, name, cluster). */
  private peerFromConnect(c: LeafConnection, cn: Record<string, unknown>): void {
    const text = (k: string): string => (typeof cn[k] === 'string' ? cn[k] as string : '');
    c.remoteId = text('server_id');
    c.remoteName = text('name');
    c.remoteCluster = text('cluster');
  }

  /**
   * nats-server addLeafNodeConnection: a server that links again into the same account (a new
   * link from the same name and cluster, e.g. after it lost the old one without us noticing)
   * replaces its old accepted link, which is told why and closed.
   */
  private replaceDuplicate(c: LeafConnection, acc: Account): void {
    if (c.remoteName === '') return;
    for (const old of this.conns) {
      if (old === c || old.solicited || old.closed || old.account !== acc) continue;
      if (old.remoteName !== c.remoteName || old.remoteCluster !== c.remoteCluster) continue;
      this.log('error', `${old.label()} - ${DUPLICATE_LEAF}`);
      old.sendErrAndClose(DUPLICATE_LEAF, DUPLICATE_LEAF);
      this.log('warn', `${c.label()} - Replacing connection from same server`);
      return;
    }
  }

  /**
   * nats-server registerWithAccount: the account already has its `limits.leaf` (JWT) or
   * `max_leafnodes` (config) leaf connections on this server, accepted and dialled alike, so
   * this link is refused with -ERR and closed (true). Checked when a leaf binds only:
   * nats-server 2.9.10 leaves the links it has alone when an account update lowers the limit.
   */
  private overLeafLimit(c: LeafConnection, acc: Account, max: number): boolean {
    if (max < 0 || acc.numLeafs < max) return false;
    this.maxConnectionsExceeded(c);
    return true;
  }

  /** The open links bound to `acc` (an account update checks them against its lowered connection limit). */
  linksOf(acc: Account): LeafConnection[] {
    return this.connections().filter((c) => c.account === acc && !c.closed);
  }

  /** An account update revoked the user the link authenticated as (nats-server: told and closed). */
  revoked(c: LeafConnection): void {
    this.log('debug', `${c.label()} - User Authentication Revoked`);
    c.sendErrAndClose('User Authentication Revoked', CloseReason.REVOKED);
  }

  /** nats-server maxAccountConnExceeded: the link is told and closed. */
  maxConnectionsExceeded(c: LeafConnection): void {
    this.log('error', `${c.label()} - ${Err.MAX_ACCOUNT_CONNECTIONS}`);
    c.sendErrAndClose(Err.MAX_ACCOUNT_CONNECTIONS, CloseReason.MAX_ACCOUNT_CONNECTIONS);
  }

  /** The connection limits of a local account: its JWT in operator mode, else its config `limits`. */
  private limitsOf(name: string): AccountLimitsOf {
    return this.server.authenticator?.accountLimits?.(name) ?? configAccountLimits(this.server.options, name);
  }

  private authFail(c: LeafConnection): void {
    this.log('error', `${c.label()} - Leafnode authentication error`);
    c.sendErrAndClose('Authorization Violation', 'Authentication Failure');
  }

  // ---- solicit side ----

  private dial(r: LeafRemoteOptions, attempt: number): void {
    if (this.stopping) return;
    const raw = r.urls[attempt % r.urls.length]!;
    let u: URL;
    try {
      u = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `nats-leaf://${raw}`);
    } catch {
      this.log('error', `Error parsing leafnode remote URL "${raw}"`);
      return;
    }
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const ws = isWsUrl(u);
    const port = u.port !== '' ? Number(u.port) : !ws ? DEFAULT_LEAF_PORT : u.protocol === 'wss:' ? 443 : 80;
    const socket = net.connect({ host, port });
    this.pendingSockets.add(socket);
    let retried = false;
    const retry = (): void => {
      if (this.stopping || retried) return;
      retried = true;
      const t = setTimeout(() => { this.timers.delete(t); this.dial(r, attempt + 1); }, this.o.reconnectMs);
      t.unref();
      this.timers.add(t);
    };
    const fail = (text: string): void => {
      this.pendingSockets.delete(socket);
      socket.destroy();
      this.log('error', `Error trying to connect as leafnode to remote server "${host}:${port}": ${text}`);
      retry();
    };
    socket.on('error', ignoreError);
    socket.once('connect', () => {
      if (ws) return void this.dialWebsocket(socket, r, u, host, retry, fail);
      readFirstLine(socket, INFO_WAIT_MS).then(async ({ line, rest }) => {
        const m = /^INFO\s+(.*)$/i.exec(line);
        const info = m === null ? null : parseJson(m[1]!);
        if (info === null) return fail(`expected INFO, got ${JSON.stringify(line.slice(0, 64))}`);
        let sock: net.Socket = socket;
        const useTls = info.tls_required === true || u.protocol === 'tls:' || r.tls !== undefined;
        if (useTls) {
          try {
            sock = await dialRouteTls(socket, this.remoteTls(r), host);
          } catch (e) {
            return fail(`TLS leafnode handshake error: ${(e as Error).message}`);
          }
        }
        this.pendingSockets.delete(socket);
        if (this.stopping) return void sock.destroy();
        const conn = this.solicited(sock, r, u, retry);
        conn.tls = useTls;
        conn.start(useTls ? undefined : rest);
        this.onInfo(conn, info);
      }, (e: Error) => fail(e.message));
    });
    socket.once('close', () => {
      if (this.pendingSockets.delete(socket)) {
        this.log('debug', `Error trying to connect as leafnode to remote server "${host}:${port}": connection closed`);
        retry();
      }
    });
  }

  /**
   * A ws:// or wss:// remote (nats-server leafNodeSolicitWSConnection): TLS first for wss or
   * a remote with a tls block, then the HTTP upgrade on `/leafnode`; the hub's INFO comes in
   * the first websocket frame and is read by the connection's parser.
   */
  private async dialWebsocket(
    socket: net.Socket, r: LeafRemoteOptions, u: URL, host: string, retry: () => void, fail: (text: string) => void,
  ): Promise<void> {
    let sock: net.Socket = socket;
    const useTls = u.protocol === 'wss:' || r.tls !== undefined;
    if (useTls) {
      try {
        sock = await dialRouteTls(socket, this.remoteTls(r), host);
      } catch (e) {
        return fail(`TLS leafnode handshake error: ${(e as Error).message}`);
      }
    }
    let stream: WsStream;
    try {
      stream = await upgradeAsClient(sock, {
        host: u.host, path: u.pathname, compress: r.wsCompression === true, noMasking: r.wsNoMasking === true, timeoutMs: INFO_WAIT_MS,
      });
    } catch (e) {
      this.pendingSockets.delete(socket);
      this.log('error', `Error soliciting websocket connection: ${(e as Error).message}`);
      return retry();
    }
    this.pendingSockets.delete(socket);
    if (this.stopping) return void stream.destroy();
    this.log('debug', `Leafnode compression=${stream.compressed} masking=${stream.masking}`);
    const conn = this.solicited(stream, r, u, retry);
    conn.websocket = true;
    conn.start();
  }

  /** A dialled link, registered before its hub's INFO is handled. */
  private solicited(sock: ByteStream, r: LeafRemoteOptions, u: URL, retry: () => void): LeafConnection {
    const conn = new LeafConnection(this.server.nextCid(), sock, this, true);
    this.pendingRemote.set(conn, { r, u, retry });
    this.conns.add(conn);
    return conn;
  }

  /**
   * TLS settings of a remote, built once (a remote without a tls block verifies with the system
   * CAs). The hub's certificate must match the `pinned_certs` of the leafnodes tls block, which
   * is what nats-server 2.9.10 checks on this side, and those of the remote's own tls block
   * (parsed and ignored by nats-server; tsnats honours them too: both lists must allow the key).
   */
  private readonly remoteTlsCache = new Map<LeafRemoteOptions, TlsSettings>();
  private remoteTls(r: LeafRemoteOptions): TlsSettings {
    let s = this.remoteTlsCache.get(r);
    if (s === undefined) {
      s = buildTlsSettings(r.tls ?? {});
      const top = this.o.tls?.pinnedCerts;
      if (top !== undefined && top.length > 0) {
        const pins = new Set(top.map((p) => p.toLowerCase()));
        const own = s.pinned;
        s = { ...s, pinned: own === null ? pins : new Set([...own].filter((p) => pins.has(p))) };
      }
      this.remoteTlsCache.set(r, s);
    }
    return s;
  }

  private readonly pendingRemote = new Map<LeafConnection, { r: LeafRemoteOptions; u: URL; retry: () => void; connectSent?: boolean }>();

  onInfo(c: LeafConnection, info: Record<string, unknown>): void {
    const p = this.pendingRemote.get(c);
    if (!c.solicited || p === undefined || c.account !== null) return;
    if (p.connectSent) {
      // nats-server answers our CONNECT with an INFO carrying the permissions of the user we
      // authenticated as (`connect_info`); only then is interest sent.
      this.finishSolicited(c, p.r, info);
      return;
    }
    const connect: Record<string, unknown> = {
      // tls_required reports the leaf TLS upgrade; over websocket TLS is wss, which nats-server leaves out here.
      version: '2.9.10', tls_required: c.tls, server_id: this.server.serverId, name: this.server.serverName, headers: true,
    };
    if (p.r.denyImports !== undefined && p.r.denyImports.length > 0) connect.deny_pub = p.r.denyImports;
    if (p.u.username !== '') {
      connect.user = decodeURIComponent(p.u.username);
      connect.pass = decodeURIComponent(p.u.password);
    }
    if (p.r.credentials !== undefined) {
      try {
        const creds = readCreds(p.r.credentials);
        const kp = (createRequire(import.meta.url)('@nats-io/nkeys') as NKeysSeed).fromSeed(Buffer.from(creds.seed));
        connect.jwt = creds.jwt;
        connect.sig = Buffer.from(kp.sign(Buffer.from(String(info.nonce ?? '')))).toString('base64url');
      } catch (e) {
        this.log('error', `Error reading leafnode credentials "${p.r.credentials}": ${(e as Error).message}`);
        c.close('Client Closed', false);
        return;
      }
    }
    c.remoteId = typeof info.server_id === 'string' ? info.server_id : '';
    c.remoteName = typeof info.server_name === 'string' ? info.server_name : '';
    c.enqueueString(`CONNECT ${JSON.stringify(connect)}\r\n`);
    p.connectSent = true;
    if (info.info_on_connect !== true) this.finishSolicited(c, p.r, info);
  }

  private finishSolicited(c: LeafConnection, r: LeafRemoteOptions, info: Record<string, unknown>): void {
    this.applyRemotePerms(c, r, info);
    const acc = this.server.registerAccount(r.account ?? '$G');
    // nats-server leafNodeFinishConnectProcess: the local account's leaf limit applies to the links it dials too.
    if (this.overLeafLimit(c, acc, this.limitsOf(acc.name).maxLeafnodes)) return;
    this.bind(c, acc);
    // Loop detection: our own $LDS subject coming back means the link closes a cycle.
    c.sendSub(this.ldsSubject, undefined, 0);
  }

  /**
   * A remote's deny_exports/deny_imports, merged (as nats-server's spoke does) with the
   * `export`/`import` permissions a hub announces in its INFO: what its leaf user may publish
   * and subscribe to. Interest outside them is never sent: the hub would close the link.
   */
  private applyRemotePerms(c: LeafConnection, r: LeafRemoteOptions, info: Record<string, unknown>): void {
    const send: LeafRule = { ...ruleOf(info.export) };
    const receive: LeafRule = { ...ruleOf(info.import) };
    if (r.denyExports !== undefined && r.denyExports.length > 0) send.deny = [...(send.deny ?? []), ...r.denyExports];
    if (r.denyImports !== undefined && r.denyImports.length > 0) receive.deny = [...(receive.deny ?? []), ...r.denyImports];
    const none = (x: LeafRule): boolean => x.allow === undefined && x.deny === undefined;
    c.perms = none(send) && none(receive) ? null : rulePerms(send, receive);
  }

  // ---- both sides ----

  private bind(c: LeafConnection, acc: Account, perms?: Permissions): void {
    if (!c.solicited) this.replaceDuplicate(c, acc);
    c.account = acc;
    acc.numLeafs++;
    if (!c.solicited) {
      // Answer the CONNECT as nats-server does, before any interest: the remote applies the
      // permissions so that it never sends interest we would refuse.
      const extra: Record<string, unknown> = {};
      if (perms?.subscribe) extra.import = perms.subscribe;
      if (perms?.publish) extra.export = perms.publish;
      c.enqueueString(infoLine(this.acceptInfo(c.cid, { ...extra, info_on_connect: true, connect_info: true }, { remote_account: acc.name })));
    }
    this.log('info', `${c.label()} - Leafnode connection created for account: ${acc.name}`);
    const counts = this.countsFor(acc);
    for (const [key, n] of counts) this.advertise(c, key, n);
  }

  private countsFor(acc: Account): Map<string, number> {
    let m = this.counts.get(acc);
    if (m === undefined) {
      m = new Map();
      for (const sub of acc.sublist.all()) m.set(keyOf(sub), (m.get(keyOf(sub)) ?? 0) + 1);
      this.counts.set(acc, m);
    }
    return m;
  }

  /**
   * With JetStream here, the plain `$JS.API.>` stays on this side of every leaf link (as
   * nats-server's "JetStream Not Extended" deny): both sides would answer otherwise. The
   * other side's JetStream is reached through its domain, `$JS.<domain>.API.>`.
   */
  denied(subject: string): boolean {
    return this.jsLocal && (subject.startsWith('$JS.API.') || subject === '$JS.API.>');
  }

  /** Tell `c` about `key` given the account-wide count `total` (its own subscriptions excluded). */
  private advertise(c: LeafConnection, key: string, total: number): void {
    if (c.account === null || this.denied(key)) return;
    const own = c.subs.has(key) ? 1 : 0;
    const n = total - own;
    const sp = key.indexOf(' ');
    const subject = sp < 0 ? key : key.slice(0, sp);
    // Interest in what we would drop on arrival is not sent (deny_imports, publish permissions).
    if (!c.mayReceive(subject)) return;
    const queue = sp < 0 ? undefined : key.slice(sp + 1);
    const before = c.sent.get(key);
    if (n > 0) {
      const w = queue === undefined ? 0 : n;
      if (before === w) return;
      c.sent.set(key, w);
      c.sendSub(subject, queue, w);
    } else if (before !== undefined) {
      c.sent.delete(key);
      c.sendUnsub(subject, queue);
    }
  }

  private readonly onSubChange = (acc: Account, sub: Subscription, delta: 1 | -1): void => {
    const m = this.counts.get(acc);
    if (m === undefined) return;
    const key = keyOf(sub);
    const n = (m.get(key) ?? 0) + delta;
    if (n <= 0) m.delete(key);
    else m.set(key, n);
    for (const c of this.conns) {
      if (c.account !== acc || c.closed) continue;
      if (sub.owner === c) continue;
      this.advertise(c, key, n);
    }
  };

  /** Our own $LDS subject arriving means this link closes a cycle: refuse it, as nats-server does. */
  loopDetected(c: LeafConnection, subject: string): boolean {
    if (subject !== this.ldsSubject) return false;
    const acc = c.account?.name ?? '$G';
    const text = `Loop detected for leafnode account=${JSON.stringify(acc)}. Delaying attempt to reconnect for 30s`;
    this.log('error', `${c.label()} - ${text}`);
    c.sendErrAndClose(text, 'Protocol Violation');
    return true;
  }

  closed(c: LeafConnection): void {
    this.conns.delete(c);
    const p = this.pendingRemote.get(c);
    this.pendingRemote.delete(c);
    if (c.account !== null) {
      c.account.numLeafs--;
      this.log('info', `${c.label()} - Leafnode connection closed account: ${c.account.name}`);
    }
    if (p !== undefined && !this.stopping) p.retry();
  }
}

/** An accept-side INFO line as nats-server writes it ("INFO", the JSON and CRLF joined by spaces). */
function infoLine(info: Record<string, unknown>): string {
  return `INFO ${JSON.stringify(info)} \r\n`;
}

/** The allow/deny lists of an INFO `import`/`export` field. */
function ruleOf(v: unknown): LeafRule {
  const out: LeafRule = {};
  if (typeof v !== 'object' || v === null) return out;
  const o = v as Record<string, unknown>;
  const list = (x: unknown): string[] | undefined => (Array.isArray(x) ? x.filter((e): e is string => typeof e === 'string') : undefined);
  const allow = list(o.allow);
  const deny = list(o.deny);
  if (allow !== undefined) out.allow = allow;
  if (deny !== undefined) out.deny = deny;
  return out;
}

/** nats-server isWSURL: the scheme starts with "ws" (ws, wss). */
export function isWsUrl(u: URL): boolean {
  return u.protocol.toLowerCase().startsWith('ws');
}

function ignoreError(): void {
  // a socket being set up: its failure is reported by the handshake or dial path
}

/**
 * Read the first protocol line of a freshly dialled socket (the hub's INFO) and stop reading,
 * so a TLS upgrade can take the socket over; `rest` is what came after the line.
 */
function readFirstLine(socket: net.Socket, timeoutMs: number): Promise<{ line: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | null, line?: string, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (err !== null) reject(err);
      else resolve({ line: line!, rest: rest! });
    };
    const onData = (b: Buffer): void => {
      buf = buf.length === 0 ? b : Buffer.concat([buf, b]);
      const nl = buf.indexOf(10);
      if (nl >= 0) return done(null, buf.toString('utf8', 0, nl > 0 && buf[nl - 1] === 13 ? nl - 1 : nl), buf.subarray(nl + 1));
      if (buf.length > INFO_MAX_BYTES) done(new Error('INFO line too long'));
    };
    const onClose = (): void => done(new Error('connection closed before INFO'));
    const timer = setTimeout(() => done(new Error('timeout waiting for INFO')), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

interface NKeysSeed { fromSeed(seed: Uint8Array): { sign(data: Uint8Array): Uint8Array } }

function readCreds(path: string): { jwt: string; seed: string } {
  const text = readFileSync(path, 'utf8');
  const blocks = [...text.matchAll(/-{3,}[^\n]*-{3,}\s*\n([\s\S]*?)\n\s*-{3,}[^\n]*END[^\n]*-{3,}/g)].map((m) => m[1]!.trim());
  if (blocks.length < 2) throw new Error('Credentials file malformed');
  return { jwt: blocks[0]!, seed: blocks[1]! };
}

const byServer = new WeakMap<Server, Leafnodes>();

export function createLeafnodes(o: Options): Leafnodes {
  const l = new Leafnodes(o.leafnodes!);
  const start = l.start.bind(l);
  l.start = async (server: Server): Promise<void> => {
    byServer.set(server, l);
    await start(server);
  };
  return l;
}

export function getLeafnodes(server: Server): Leafnodes | undefined {
  return byServer.get(server);
}
