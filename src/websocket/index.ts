// The websocket listener (nats-server's `websocket {}` block): an HTTP server whose upgrade
// requests pass nats-server's handshake and origin checks, then become ordinary client
// connections over a WsStream, or leaf connections when the path is /leafnode (handed to the
// leaf subsystem). Loaded only when the block is configured.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Options, WebsocketOptions } from '../config/options.js';
import type { ClientAuthenticator } from '../core/auth-hook.js';
import type { ClientConn } from '../core/client.js';
import type { Server, Subsystem } from '../server/server.js';
import { authenticatorFromOptions } from '../server/options-auth.js';
import { acceptResponse, checkUpgrade, offersDeflate, OriginPolicy, rejectUpgrade, requestCookie, wantsNoMasking } from './handshake.js';
import { WS_MAX_MESSAGE_BYTES, WsStream } from './transport.js';
import { secureContextOptions } from '../tls/settings.js';
import { joinHostPort } from '../server/listeners.js';
import { LEAF_WS_PATH } from './client-upgrade.js';


export function createWebsocket(o: Options): WebsocketListener {
  return new WebsocketListener(o.websocket!);
}

export class WebsocketListener implements Subsystem {
  readonly name = 'websocket';
  private server: Server | null = null;
  private http: http.Server | null = null;
  private origins: OriginPolicy | null = null;
  private conn: ClientConn = { type: 'WEBSOCKET', tag: 'wid' };
  private tls = false;
  /** the actual port once listening */
  port = 0;

  constructor(readonly opts: WebsocketOptions) {}

  async start(server: Server): Promise<void> {
    this.server = server;
    const w = this.opts;
    this.origins = new OriginPolicy(w.sameOrigin, w.allowedOrigins, (m) => server.log.error(m));
    this.conn = new WebsocketConn(server, w);
    // wss: the TLS handshake happens before the HTTP request, as nats-server's TLS listener does.
    const tls = w.tls !== undefined;
    this.tls = tls;
    const verify = w.tls?.verify === true;
    const hs = tls
      ? https.createServer({
        ...secureContextOptions(w.tls!), requestCert: verify, rejectUnauthorized: verify,
        ...(w.handshakeTimeoutMs > 0 ? { handshakeTimeout: w.handshakeTimeoutMs } : {}),
      })
      : http.createServer();
    // The timeout goes on the socket the upgrade hands over (the TLS one for wss), so the upgrade
    // can clear it.
    hs.on(tls ? 'secureConnection' : 'connection', this.onConnection);
    hs.on('upgrade', this.onUpgrade);
    // A plain HTTP request fails the same checks (nats-server answers 400 or 405).
    hs.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const bad = checkUpgrade(req, this.origins!, this.tls) ?? { status: 400, reason: 'websocket upgrade not supported' };
      this.logReject(req.socket, bad.reason);
      res.writeHead(bad.status, {
        'Content-Type': 'text/plain; charset=utf-8', 'Sec-Websocket-Version': '13', 'X-Content-Type-Options': 'nosniff',
      });
      res.end(`${http.STATUS_CODES[bad.status]}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      hs.once('error', reject);
      hs.listen({ host: w.host, port: w.port ?? 0, exclusive: true }, () => {
        hs.off('error', reject);
        resolve();
      });
    });
    hs.on('error', (err) => server.log.error(`websocket listener error: ${err.message}`));
    this.http = hs;
    this.port = (hs.address() as net.AddressInfo).port;
    const scheme = tls ? 'wss' : 'ws';
    server.registerListener('websocket', scheme, w.host, this.port);
    server.log.info(`Listening for websocket clients on ${scheme}://${joinHostPort(w.host, this.port)}`);
    if (!tls) server.log.warn('Websocket not configured with TLS. DO NOT USE IN PRODUCTION!');
  }

  /** The handshake must finish within handshake_timeout (nats-server's HTTP read timeout). */
  private readonly onConnection = (socket: net.Socket): void => {
    const ms = this.opts.handshakeTimeoutMs;
    if (ms > 0) socket.setTimeout(ms, () => socket.destroy());
  };

  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const raw = socket as net.Socket;
    // Until a client connection owns it, a socket error (a reset peer) only ends the socket.
    raw.on('error', () => raw.destroy());
    const bad = checkUpgrade(req, this.origins!, this.tls);
    if (bad !== undefined) return this.reject(raw, bad);
    if (head.length > 0) return this.reject(raw, { status: 400, reason: 'client sent data before handshake is complete' });
    raw.setTimeout(0);
    // Compression only when configured and offered; nats-server's no-masking when asked.
    const compress = this.opts.compression && offersDeflate(req);
    const noMasking = wantsNoMasking(req);
    raw.write(acceptResponse(req, compress, noMasking));
    if (isLeafPath(req.url)) this.acceptLeaf(req, raw, compress, noMasking);
    else this.accept(req, raw, compress, noMasking);
  };

  /**
   * A leaf node came in (nats-server tells it from a client by the `/leafnode` path). Without a
   * leafnodes listener nats-server logs and closes it after the 101 answer; so do we.
   */
  private acceptLeaf(req: http.IncomingMessage, raw: net.Socket, compress: boolean, noMasking: boolean): void {
    const s = this.server;
    const leaf = s?.options.leafnodes?.port !== undefined ? s.getSubsystem('leafnodes') as unknown as WebsocketLeafAcceptor | undefined : undefined;
    if (s === null || leaf === undefined) {
      this.server?.log.error('Not configured to accept leaf node connections');
      raw.destroy();
      return;
    }
    // Leaf links are not clients: no jwt cookie. Masking and compression as negotiated.
    leaf.acceptWebsocket(new WsStream(raw, forwardedIp(req, raw), raw.remotePort, {
      requireMask: !noMasking, compress, maxMessageBytes: WS_MAX_MESSAGE_BYTES,
    }));
  }

  private reject(socket: net.Socket, bad: { status: number; reason: string }): void {
    this.logReject(socket, bad.reason);
    rejectUpgrade(socket, bad.status);
  }

  private logReject(socket: net.Socket, reason: string): void {
    this.server?.log.error(`${joinHostPort(socket.remoteAddress ?? '', socket.remotePort ?? 0)} - websocket handshake error: ${reason}`);
  }

  private accept(req: http.IncomingMessage, raw: net.Socket, compress: boolean, noMasking: boolean): void {
    const ip = forwardedIp(req, raw);
    const cookieJwt = this.opts.jwtCookie ? requestCookie(req, this.opts.jwtCookie) : undefined;
    const stream = new WsStream(raw, ip, raw.remotePort, { requireMask: !noMasking, compress, maxMessageBytes: WS_MAX_MESSAGE_BYTES, cookieJwt });
    if (this.server === null || !this.server.acceptClient(stream, this.conn)) raw.destroy();
  }

  /** Stop taking connections; the clients are closed by the server like the others. */
  private stopListening(): void {
    const hs = this.http;
    this.http = null;
    if (hs === null) return;
    hs.close();
    hs.closeAllConnections();
  }

  lameDuck(): void {
    this.stopListening();
  }

  async shutdown(): Promise<void> {
    this.stopListening();
  }
}

/** The leaf-node subsystem as the listener sees it (src/leaf is loaded only with a leafnodes block). */
export interface WebsocketLeafAcceptor {
  acceptWebsocket(stream: WsStream): void;
}

/** nats-server's leafNodeWSPath prefix (EscapedPath, the query excluded). */
function isLeafPath(url: string | undefined): boolean {
  return url !== undefined && url.split('?')[0]!.startsWith(LEAF_WS_PATH);
}

/** A proxy in front may say who the peer is (nats-server uses a valid X-Forwarded-For IP). */
function forwardedIp(req: http.IncomingMessage, raw: net.Socket): string | undefined {
  const fwd = req.headers['x-forwarded-for'];
  const fwdIp = (Array.isArray(fwd) ? fwd[0] : fwd)?.trim();
  return fwdIp !== undefined && net.isIP(fwdIp) !== 0 ? fwdIp : raw.remoteAddress;
}

/**
 * How websocket clients reached the server (ClientConn), with the block's own authorization
 * (nats-server's websocket auth override): when it sets a user, a token or no_auth_user,
 * websocket clients authenticate against those (and the configured users) instead of the
 * client port's single user/token. That authenticator follows the server's users: it is
 * rebuilt when a reload replaced the server's options.
 */
class WebsocketConn implements ClientConn {
  readonly type = 'WEBSOCKET';
  readonly tag = 'wid';
  readonly authTimeoutMs: number | undefined;
  private builtFor: Options | null = null;
  private auth: ClientAuthenticator | null = null;

  constructor(private readonly server: Server, private readonly w: WebsocketOptions) {
    this.authTimeoutMs = w.authTimeoutSec ? w.authTimeoutSec * 1000 : undefined;
  }

  /** undefined: no override, the server's authenticator applies */
  get authenticator(): ClientAuthenticator | null | undefined {
    const w = this.w;
    if (!w.username && !w.token && !w.noAuthUser) return undefined;
    const o = this.server.options;
    if (o !== this.builtFor) {
      this.builtFor = o;
      const wsOpts: Options = {
        ...o,
        authorization: { user: w.username, password: w.password, token: w.token, users: o.authorization?.users },
        noAuthUser: w.noAuthUser,
      };
      this.auth = authenticatorFromOptions(wsOpts, this.server, (m) => this.server.log.warn(`websocket: ${m}`));
    }
    return this.auth;
  }
}
