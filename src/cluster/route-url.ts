// Route URLs (`nats-route://[user:pass@]host:port`, also `nats://`) and the
// refcounted set of client URLs learned from peers (connect_urls).
import { interfaces } from '../server/host-facts.js';

export interface RouteUrl {
  /** as configured or gossiped, for logs and /routez */
  readonly raw: string;
  readonly host: string;
  readonly port: number;
  readonly user?: string;
  readonly pass?: string;
}

/** Parse a route URL; throws with a readable message when it is not one. */
export function parseRouteUrl(raw: string): RouteUrl {
  let s = raw.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) s = `nats-route://${s}`;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`invalid route URL "${raw}"`);
  }
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = u.port === '' ? 6222 : Number(u.port);
  if (host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`invalid route URL "${raw}"`);
  }
  const user = u.username !== '' ? decodeURIComponent(u.username) : undefined;
  const pass = u.password !== '' ? decodeURIComponent(u.password) : undefined;
  return { raw, host, port, user, pass };
}

/** host:port key (lower case, IPv6 bracketed) used to compare route URLs. */
export function hostPortKey(host: string, port: number): string {
  const h = host.toLowerCase();
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

export function routeUrlKey(u: RouteUrl): string {
  return hostPortKey(u.host, u.port);
}

/** `nats-route://host:port/` as nats-server writes a peer's `ip` when gossiping it. */
export function routeIpUrl(host: string, port: number): string {
  return `nats-route://${hostPortKey(host, port)}/`;
}

/** Strip an IPv4-mapped IPv6 prefix from a socket address. */
export function plainIp(addr: string | undefined): string {
  if (addr === undefined) return '';
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}

/**
 * The host:port strings a client can use to reach a listener: the advertise value when set,
 * every global unicast interface address when bound to 0.0.0.0/::, else the bound host
 * (nats-server getConnectURLs).
 */
export function listenerConnectUrls(host: string, port: number, advertise?: string): string[] {
  if (advertise !== undefined && advertise !== '') {
    const i = advertise.lastIndexOf(':');
    if (i > 0 && !advertise.endsWith(']') && /^\d+$/.test(advertise.slice(i + 1))) return [advertise];
    return [hostPortKey(advertise.replace(/^\[|\]$/g, ''), port)];
  }
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const out: string[] = [];
    for (const list of Object.values(interfaces())) {
      for (const a of list ?? []) {
        if (a.internal) continue;
        if (a.family === 'IPv6' && (a.address.startsWith('fe80') || a.address === '::')) continue;
        out.push(hostPortKey(a.address, port));
      }
    }
    if (out.length > 0) return out;
    return host === '' ? [hostPortKey('127.0.0.1', port)] : [];
  }
  return [hostPortKey(host, port)];
}

/** A set of URLs where each URL may be added by several peers (nats-server refCountedUrlSet). */
export class RefCountedUrlSet {
  private readonly counts = new Map<string, number>();

  /** Returns true when the URL was not in the set before. */
  add(url: string): boolean {
    const n = this.counts.get(url) ?? 0;
    this.counts.set(url, n + 1);
    return n === 0;
  }

  /** Returns true when the URL left the set. */
  remove(url: string): boolean {
    const n = this.counts.get(url);
    if (n === undefined) return false;
    if (n <= 1) {
      this.counts.delete(url);
      return true;
    }
    this.counts.set(url, n - 1);
    return false;
  }

  values(): string[] {
    return [...this.counts.keys()];
  }

  get size(): number {
    return this.counts.size;
  }
}
