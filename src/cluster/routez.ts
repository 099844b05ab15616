// Types of /routez and the /varz cluster section in nats-server's JSON shapes
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
