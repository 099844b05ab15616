// A small in-process TCP proxy on 127.0.0.1 for fault tests: it forwards every
// accepted connection to a target port and can be cut (every open connection is
// destroyed and new ones are dropped at once) and healed again.
//
// Why a proxy and not firewall rules: tests run unprivileged, and a proxy in the
// path lets one test cut exactly one link (e.g. the route from node A to node B)
// while everything else keeps flowing. The target may be unknown when the proxy
// is created (the server behind it is not started yet) or change (the server was
// restarted on a new ephemeral port): until it is set, connections are dropped,
// which to the dialer looks like a server that is not up yet.
import net from 'node:net';

export class TcpProxy {
  private server: net.Server | undefined;
  private readonly open = new Set<net.Socket>();
  private cutNow = false;
  /** connections accepted and forwarded since creation (for tests and diagnostics) */
  forwarded = 0;
  /** connections dropped because the proxy was cut or had no target */
  dropped = 0;
  port = 0;
  /**
   * Sees every chunk forwarded on connections accepted from now on (`fromTarget`: the bytes the
   * target sent back to the dialer; `conn`: which accepted connection, numbered from 1), so a test
   * can check the order of what crossed a link.
   */
  tap: ((fromTarget: boolean, chunk: Buffer, conn: number) => void) | undefined;

  constructor(private target: number | undefined = undefined, readonly label = 'proxy') {}

  /** Listen on 127.0.0.1 on an ephemeral port; resolves with that port. */
  async listen(): Promise<number> {
    const srv = net.createServer((client) => this.accept(client));
    this.server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (srv.address() as net.AddressInfo).port;
    return this.port;
  }

  get isCut(): boolean {
    return this.cutNow;
  }

  get connections(): number {
    return this.open.size;
  }

  /** Point the proxy at a (new) port; connections already open keep their old upstream. */
  setTarget(port: number | undefined): void {
    this.target = port;
  }

  /** Destroy every open connection and drop new ones until heal(). */
  cut(): void {
    this.cutNow = true;
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  heal(): void {
    this.cutNow = false;
  }

  /** Stop listening and destroy every connection. */
  async close(): Promise<void> {
    this.cut();
    const srv = this.server;
    this.server = undefined;
    if (srv !== undefined) await new Promise((r) => srv.close(r));
  }

  private accept(client: net.Socket): void {
    const target = this.target;
    if (this.cutNow || target === undefined) {
      this.dropped++;
      client.destroy();
      return;
    }
    this.forwarded++;
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.open.add(client);
    this.open.add(upstream);
    // Either side closing or failing ends both: a half-open route would hide the cut from the servers.
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.open.delete(client);
      this.open.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    const tap = this.tap;
    if (tap !== undefined) {
      const conn = this.forwarded;
      client.on('data', (b: Buffer) => tap(false, b, conn));
      upstream.on('data', (b: Buffer) => tap(true, b, conn));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
