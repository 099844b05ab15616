// The chaos suite's cluster: N JetStream servers (nats-server or tsnats) as
// child processes whose route connections all pass through in-process TCP
// proxies, so a link can be cut and healed, and whose client ports sit behind
// one stable proxy per node, so clients keep their URLs across restarts (every
// listener binds an ephemeral port, which changes when a node is restarted).
//
// Routes: node i dials node j only through proxy (i→j). A pair partition cuts
// both directions (nats-server keeps one route per pair; either side's
// solicited connection may be the one in use). Nodes advertise a route address
// that closes every connection, so gossip cannot make a node dial a peer
// directly and bypass a cut ("implicit routes"). Every node lists exactly N
// routes — its N-1 proxies plus that black-hole address — because nats-server
// sizes a new meta group from the number of configured routes.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpProxy } from '../../test/helpers/tcp-proxy.js';
import { natsServerBin } from '../../test/helpers/nats-server.js';
import { clusterNodeConfig, killServer, launchServer, listenBlackHole, ServerDir, terminateServer } from '../../test/helpers/cluster-proc.js';

export type Impl = 'nats-server' | 'tsnats';

export const TSNATS_CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** Temp dirs of clusters not shut down yet, removed on exit (an aborted run leaves nothing behind; children are killed by cluster-proc). */
const liveRoots = new Set<string>();
process.on('exit', () => {
  for (const r of liveRoots) rmSync(r, { recursive: true, force: true });
});

export class ChaosNode extends ServerDir {
  clientPort = 0;
  monitorUrl = '';
  clusterPort = 0;
  stopped = false;
  /** stable client address (a proxy to the current client port) */
  clientProxy = new TcpProxy(undefined, 'client');

  /** running and not SIGSTOPped: it can answer */
  get responsive(): boolean {
    return this.alive && !this.stopped;
  }

  get clientUrl(): string {
    return `nats://127.0.0.1:${this.clientProxy.port}`;
  }
}

export class ChaosCluster {
  readonly nodes: ChaosNode[] = [];
  /** routeProxies[i][j]: node i's route to node j */
  private readonly routeProxies: (TcpProxy | undefined)[][] = [];
  private blackHole: net.Server | undefined;
  private blackHolePort = 0;
  readonly root: string;
  private readonly bin: string;
  private routeTap: ((from: ChaosNode, to: ChaosNode, chunk: Buffer, link: string) => void) | undefined;

  constructor(readonly impl: Impl, readonly size: number, readonly keepDir = false) {
    const bin = impl === 'nats-server' ? natsServerBin() : process.execPath;
    if (bin === undefined) throw new Error('nats-server not found on PATH (set NATS_SERVER_BIN)');
    this.bin = bin;
    this.root = mkdtempSync(join(tmpdir(), `tsnats-chaos-${impl}-`));
    if (!keepDir) liveRoots.add(this.root);
  }

  async start(): Promise<void> {
    const bh = await listenBlackHole();
    this.blackHole = bh.server;
    this.blackHolePort = bh.port;
    for (let i = 0; i < this.size; i++) {
      const name = `n${i + 1}`;
      const dir = join(this.root, name);
      mkdirSync(dir, { recursive: true });
      const n = new ChaosNode(i, name, dir);
      await n.clientProxy.listen();
      this.nodes.push(n);
    }
    for (let i = 0; i < this.size; i++) {
      this.routeProxies.push([]);
      for (let j = 0; j < this.size; j++) {
        if (i === j) {
          this.routeProxies[i]!.push(undefined);
          continue;
        }
        const p = new TcpProxy(undefined, `route n${i + 1}->n${j + 1}`);
        const tap = this.routeTap;
        // Node i dials node j: what comes back from the target is j's output to i.
        if (tap !== undefined) p.tap = (fromTarget, b, conn) => tap(this.nodes[fromTarget ? j : i]!, this.nodes[fromTarget ? i : j]!, b, `${p.label} #${conn}`);
        await p.listen();
        this.routeProxies[i]!.push(p);
      }
    }
    for (const n of this.nodes) await this.launch(n);
  }

  private writeConfig(n: ChaosNode): string {
    const routes = this.nodes.filter((x) => x !== n).map((x) => `nats-route://127.0.0.1:${this.routeProxies[n.index]![x.index]!.port}`);
    routes.push(`nats-route://127.0.0.1:${this.blackHolePort}`);
    const file = join(n.dir, `${n.name}.conf`);
    writeFileSync(file, clusterNodeConfig({
      name: n.name, dir: n.dir, storeDir: n.storeDir, clusterName: 'CHAOS', advertise: `127.0.0.1:${this.blackHolePort}`, routes,
    }));
    return file;
  }

  private async launch(n: ChaosNode): Promise<void> {
    const conf = this.writeConfig(n);
    const args = this.impl === 'nats-server' ? ['-c', conf] : [TSNATS_CLI, '-c', conf];
    // cwd in the node's own dir: a server writing a relative path (nats-server 2.9.10 once wrote a
    // consumer's meta.inf there) must not litter the caller's directory.
    const ports = await launchServer(n, this.bin, args, { cwd: n.dir, timeoutMs: 60_000, what: `${this.impl} ${n.name}` });
    n.stopped = false;
    n.clientPort = Number(new URL(ports.nats![0]!).port);
    n.monitorUrl = ports.monitoring![0]!;
    n.clusterPort = Number(new URL(ports.cluster![0]!).port);
    n.clientProxy.setTarget(n.clientPort);
    for (let i = 0; i < this.size; i++) this.routeProxies[i]![n.index]?.setTarget(n.clusterPort);
  }

  node(name: string): ChaosNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  }

  /** kill -9: the store is left as a crash leaves it. */
  async kill(n: ChaosNode): Promise<void> {
    if (n.proc === undefined || !n.alive) return;
    await killServer(n);
    n.stopped = false;
    // Its clients must notice at once rather than through their ping interval.
    n.clientProxy.setTarget(undefined);
    n.clientProxy.cut();
    n.clientProxy.heal();
  }

  /** SIGTERM (the server flushes and closes its stores), kill -9 if it has not exited within `ms`. */
  async stopGracefully(n: ChaosNode, ms = 15_000): Promise<void> {
    if (n.proc === undefined || !n.alive) return;
    if (n.stopped) this.cont(n);
    await terminateServer(n, ms);
  }

  async restart(n: ChaosNode): Promise<void> {
    if (n.alive) throw new Error(`${n.name} is still running`);
    await this.launch(n);
  }

  stop(n: ChaosNode): void {
    if (!n.alive || n.stopped) return;
    n.proc!.kill('SIGSTOP');
    n.stopped = true;
  }

  cont(n: ChaosNode): void {
    if (!n.alive || !n.stopped) return;
    n.proc!.kill('SIGCONT');
    n.stopped = false;
  }

  /** Cut every route between n and the other nodes (n stays reachable by its clients). */
  isolate(n: ChaosNode): void {
    for (let j = 0; j < this.size; j++) {
      this.routeProxies[n.index]![j]?.cut();
      this.routeProxies[j]![n.index]?.cut();
    }
  }

  /**
   * Calls `fn` with every chunk a node sends another over a route connection (`link` names the
   * connection), for tests that check the order bytes crossed a link in. Set it before start().
   */
  tapRoutes(fn: (from: ChaosNode, to: ChaosNode, chunk: Buffer, link: string) => void): void {
    this.routeTap = fn;
  }

  healAll(): void {
    for (const row of this.routeProxies) for (const p of row) p?.heal();
  }

  async monitor<T>(n: ChaosNode, path: string, timeoutMs = 2000): Promise<T> {
    const r = await fetch(`${n.monitorUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await r.json()) as T;
  }

  /** Kill every node, close every proxy and remove the temp dir (unless kept for diagnosis). */
  async shutdown(): Promise<void> {
    for (const n of this.nodes) {
      if (n.stopped) this.cont(n);
      await this.kill(n).catch(() => undefined);
    }
    for (const n of this.nodes) await n.clientProxy.close();
    for (const row of this.routeProxies) for (const p of row) await p?.close();
    const bh = this.blackHole;
    this.blackHole = undefined;
    if (bh !== undefined) await new Promise((r) => bh.close(r));
    if (!this.keepDir && existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
    liveRoots.delete(this.root);
  }
}
