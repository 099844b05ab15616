// The monitoring subsystem: the HTTP(S) endpoints (/varz /connz /subsz /routez
// /jsz /healthz /accountz ...) when http_port/https_port is set, and the
// system-account requests ($SYS.REQ.SERVER.PING.VARZ ...) unless there is no
// system account. Registered in src/index.ts:
//
//   server.addSubsystem(createMonitor(o));
//
// The bound HTTP port is recorded as the server's 'monitoring' listener
// (server.listeners.port('monitoring'), the ports file, startServer().httpPort).
import type { Options } from '../config/options.js';
import type { Server, Subsystem } from '../server/server.js';
import { MonitorHttp } from './http.js';
import { SysMonitorServices } from './sys.js';
import { ProcessUsage } from './varz.js';

export class MonitorService implements Subsystem {
  readonly name = 'monitor';
  private http: MonitorHttp | null = null;
  private sys: SysMonitorServices | null = null;
  private readonly usage = new ProcessUsage();

  /** Port the HTTP(S) monitor listens on, once started. */
  get port(): number | undefined {
    return this.http?.port;
  }

  async start(server: Server): Promise<void> {
    const o = server.options;
    if (o.httpPort !== undefined && o.httpsPort !== undefined) {
      throw new Error(`can't specify both HTTP (${o.httpPort}) and HTTPs (${o.httpsPort}) ports`);
    }
    if (o.httpsPort !== undefined && (!o.tls?.certFile || !o.tls.keyFile)) {
      throw new Error('TLS cert and key required for HTTPS');
    }
    const http = new MonitorHttp(server, this.usage);
    if (o.httpPort !== undefined || o.httpsPort !== undefined) {
      try {
        await http.start();
      } catch (e) {
        throw new Error(`can't listen to the monitor port: ${(e as Error).message}`);
      }
      this.http = http;
    }
    if (!o.noSystemAccount) {
      this.sys = new SysMonitorServices(server, this.usage, () => http.httpReqStats);
      this.sys.start();
    }
  }

  async shutdown(): Promise<void> {
    this.sys?.stop();
    this.sys = null;
    const h = this.http;
    this.http = null;
    if (h) await h.stop();
  }
}

/** The monitoring subsystem for these options (HTTP part only when a monitoring port is set). */
export function createMonitor(_options?: Options): MonitorService {
  return new MonitorService();
}
