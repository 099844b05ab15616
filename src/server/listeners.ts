// Addresses the server listens on, by kind, for the ports file, logs and
// INFO connect_urls. A listener bound to 0.0.0.0/:: is reported with every
// non-loopback interface address (as nats-server does), or 127.0.0.1 when
// the machine has none.
import { interfaces } from './host-facts.js';
import { readFileSync } from 'node:fs';

export type ListenerKind = 'nats' | 'monitoring' | 'cluster' | 'websocket' | 'profile' | 'leafnode' | 'gateway';

interface Entry {
  kind: ListenerKind;
  scheme: string;
  host: string;
  port: number;
}

export class ListenerRegistry {
  private entries: Entry[] = [];

  add(kind: ListenerKind, scheme: string, host: string, port: number): void {
    this.entries = this.entries.filter((e) => !(e.kind === kind && e.scheme === scheme));
    this.entries.push({ kind, scheme, host, port });
  }

  /** host:port strings of one kind. */
  hostPorts(kind: ListenerKind): string[] {
    const out: string[] = [];
    for (const e of this.entries) {
      if (e.kind !== kind) continue;
      for (const h of expandHost(e.host)) out.push(joinHostPort(h, e.port));
    }
    return out;
  }

  /** URLs of one kind, e.g. ["nats://127.0.0.1:4222"]. */
  urls(kind: ListenerKind): string[] {
    const out: string[] = [];
    for (const e of this.entries) {
      if (e.kind !== kind) continue;
      for (const h of expandHost(e.host)) out.push(`${e.scheme}://${joinHostPort(h, e.port)}`);
    }
    return out;
  }

  port(kind: ListenerKind): number | undefined {
    return this.entries.find((e) => e.kind === kind)?.port;
  }

  /** Single-line JSON of the ports file: {"nats":[...],"monitoring":[...],"cluster":[...]} */
  portsJson(): string {
    const o: Record<string, string[]> = {};
    for (const kind of ['nats', 'monitoring', 'cluster', 'profile', 'websocket'] as ListenerKind[]) {
      const u = this.urls(kind);
      if (u.length > 0) o[kind] = u;
    }
    return JSON.stringify(o);
  }
}

function expandHost(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::' && host !== '') return [host];
  const out: string[] = [];
  for (const list of Object.values(interfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (host === '0.0.0.0' && a.family !== 'IPv4') continue;
      out.push(a.address);
    }
  }
  return out.length > 0 ? out : ['127.0.0.1'];
}

/** host:port, with brackets around an IPv6 host. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

let backlogCache: number | undefined;

/**
 * Accept-queue length for our listeners. Node's default (511) drops connections when
 * thousands open at once (their SYN-ACKs stay unanswered for seconds); Go, and so
 * nats-server, listens with the kernel's maximum (net.core.somaxconn). Do the same.
 */
export function listenBacklog(): number {
  if (backlogCache !== undefined) return backlogCache;
  let n = 511;
  try {
    const v = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim(), 10);
    if (Number.isFinite(v) && v > 0) n = Math.min(v, 65535);
  } catch {
    // not Linux: keep Node's default
  }
  backlogCache = n;
  return n;
}
