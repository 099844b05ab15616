// /routez and the /varz cluster section in nats-server's JSON shapes
// (monitor.go Routez/RouteInfo/ClusterOptsVarz, newest field set).
import type { SubjectPermission } from './route-info.js';

export interface RoutezOptions {
  /** subs=1: subscriptions_list */
  subscriptions?: boolean;
  /** subs=detail: subscriptions_list_detail */
  subscriptionsDetail?: boolean;
}

export interface RouteSubDetail {
  account: string;
  subject: string;
  qgroup?: string;
  sid: string;
  msgs: number;
  cid: number;
}

export interface RouteInfoJson {
  rid: number;
  remote_id: string;
  remote_name: string;
  did_solicit: boolean;
  is_configured: boolean;
  ip: string;
  port: number;
  start: string;
  last_activity: string;
  rtt?: string;
  uptime: string;
  idle: string;
  import?: SubjectPermission;
  export?: SubjectPermission;
  pending_size: number;
  in_msgs: number;
  out_msgs: number;
  in_bytes: number;
  out_bytes: number;
  subscriptions: number;
  subscriptions_list?: string[];
  subscriptions_list_detail?: RouteSubDetail[];
}

export interface RoutezJson {
  server_id: string;
  server_name: string;
  now: string;
  import?: SubjectPermission;
  export?: SubjectPermission;
  num_routes: number;
  routes: RouteInfoJson[];
}

export interface VarzClusterJson {
  name?: string;
  addr?: string;
  cluster_port?: number;
  auth_timeout?: number;
  urls?: string[];
  tls_timeout?: number;
  tls_required?: boolean;
  tls_verify?: boolean;
  pool_size?: number;
  write_deadline?: number;
}

/** Go time.Duration.String() of a duration given in milliseconds ("965µs", "1.5s", "2m3s"). */
export function goDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  const neg = ns < 0;
  if (neg) ns = -ns;
  let s: string;
  if (ns < 1000) s = `${ns}ns`;
  else if (ns < 1e6) s = `${trimFrac(ns / 1e3)}µs`;
  else if (ns < 1e9) s = `${trimFrac(ns / 1e6)}ms`;
  else {
    const h = Math.floor(ns / 3.6e12);
    const m = Math.floor((ns % 3.6e12) / 6e10);
    const sec = (ns % 6e10) / 1e9;
    s = '';
    if (h > 0) s += `${h}h`;
    if (h > 0 || m > 0) s += `${m}m`;
    s += `${trimFrac(sec)}s`;
  }
  return neg ? `-${s}` : s;
}

function trimFrac(v: number): string {
  return v.toFixed(9).replace(/\.?0+$/, '');
}

/** nats-server myUptime: "5s", "3m16s", "2h0m5s", "1d2h3m4s", "1y2d3h4m5s". */
export function natsUptime(ms: number): string {
  const tsecs = Math.max(0, Math.floor(ms / 1000));
  const tmins = Math.floor(tsecs / 60);
  const thrs = Math.floor(tmins / 60);
  const tdays = Math.floor(thrs / 24);
  const tyrs = Math.floor(tdays / 365);
  if (tyrs > 0) return `${tyrs}y${tdays % 365}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`;
  if (tdays > 0) return `${tdays}d${thrs % 24}h${tmins % 60}m${tsecs % 60}s`;
  if (thrs > 0) return `${thrs}h${tmins % 60}m${tsecs % 60}s`;
  if (tmins > 0) return `${tmins}m${tsecs % 60}s`;
  return `${tsecs}s`;
}
