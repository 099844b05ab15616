// /accountz and /accstatz (nats-server monitor.go Accountz, AccountInfo,
// AccountStatz). Imports, exports and mappings are reported as configured.
import type { Server } from '../server/server.js';
import type { Account } from '../core/account.js';
import { GLOBAL_ACCOUNT, type AccountConfig } from '../config/options.js';
import { goTime } from './format.js';
import { BadRequest } from './query.js';
import { jetStreamSource } from './sources.js';
import { sublistStats } from './subsz.js';
import { sysImportsJson } from './sys-imports.js';
import { findExport } from '../core/imports.js';

function accountConfig(server: Server, name: string): AccountConfig | undefined {
  // the applied configuration also covers the account JWTs of operator mode
  return server.imports.configOf(name) ?? server.options.accounts.find((a) => a.name === name);
}

function jetStreamEnabled(server: Server, name: string): boolean {
  return jetStreamSource(server)?.allJsAccounts().some((a) => a.name === name) ?? false;
}

function mappingsJson(server: Server, name: string): Record<string, unknown> | undefined {
  const simple = name === GLOBAL_ACCOUNT ? server.options.mappings : accountConfig(server, name)?.mappings ?? {};
  const weighted = name === GLOBAL_ACCOUNT ? server.options.weightedMappings : accountConfig(server, name)?.weightedMappings;
  const out: Record<string, unknown> = {};
  for (const [src, dest] of Object.entries(simple)) out[src] = [{ dest, weight: 100 }];
  for (const [src, dests] of Object.entries(weighted ?? {})) {
    out[src] = dests.map((d) => (d.cluster ? { dest: d.subject, weight: d.weight, cluster: d.cluster } : { dest: d.subject, weight: d.weight }));
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function latencyJson(l: { subject: string; sampling: number | 'headers' }): Record<string, unknown> {
  // nats-server keeps `sampling: headers` as sampling 0 (decided per request by trace headers)
  return { sampling: l.sampling === 'headers' ? 0 : l.sampling, results: l.subject };
}

/** nats-server ExtExport list: the services, then the streams. */
function exportsJson(cfg: AccountConfig | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const all = cfg?.exports ?? [];
  for (const e of [...all.filter((x) => x.service !== undefined), ...all.filter((x) => x.service === undefined)]) {
    const x: Record<string, unknown> = { subject: e.service ?? e.stream, type: e.service !== undefined ? 'service' : 'stream' };
    if (e.service !== undefined) x.response_type = e.responseType === 'stream' ? 'Streamed' : e.responseType === 'chunked' ? 'Chunked' : 'Singleton';
    if (e.tokenReq) x.token_req = true;
    if (e.latency) x.service_latency = latencyJson(e.latency);
    if (e.accountTokenPosition) x.account_token_position = e.accountTokenPosition;
    if (e.accounts && e.accounts.length > 0) x.approved_accounts = [...e.accounts];
    const revoked = Object.entries(e.revocations ?? {});
    if (revoked.length > 0) x.revoked_activations = Object.fromEntries(revoked.map(([k, t]) => [k, goTime(t * 1000)]));
    out.push(x);
  }
  return out;
}

/** nats-server ExtImport list: the stream imports; the service imports come with the $SYS ones. */
function streamImportsJson(cfg: AccountConfig | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const i of cfg?.imports ?? []) {
    if (!i.stream) continue;
    const x: Record<string, unknown> = { subject: i.stream.subject, account: i.stream.account };
    const local = i.prefix ? `${i.prefix.replace(/\.$/, '')}.${i.stream.subject}` : i.to;
    if (local) x.local_subject = local;
    Object.assign(x, { type: 'stream', invalid: i.invalid === true, share: false, tracking: false });
    out.push(x);
  }
  return out;
}

/** Service imports: `subject` is the subject in this account, `to` the one in the exporter. */
function serviceImportsJson(server: Server, cfg: AccountConfig | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const i of cfg?.imports ?? []) {
    if (!i.service) continue;
    const x: Record<string, unknown> = {
      subject: i.to || i.service.subject, account: i.service.account, to: i.service.subject, type: 'service',
      invalid: i.invalid === true, share: i.share === true, tracking: false,
    };
    const exp = findExport(accountConfig(server, i.service.account), i.service.subject, 'service');
    if (exp?.latency) x.latency = latencyJson(exp.latency);
    out.push(x);
  }
  return out;
}

/** AccountInfo of one account (/accountz?acc=, $SYS.REQ.ACCOUNT.<acc>.INFO). */
export function accountInfo(server: Server, acc: Account): Record<string, unknown> {
  const cfg = accountConfig(server, acc.name);
  const info: Record<string, unknown> = {
    account_name: acc.name,
    update_time: goTime(server.startTime.getTime()),
  };
  if (acc === server.systemAccount) info.is_system = true;
  info.expired = false;
  info.complete = server.jwtImports?.complete(acc.name) ?? true;
  info.jetstream_enabled = jetStreamEnabled(server, acc.name);
  info.leafnode_connections = 0;
  info.client_connections = acc.numClients;
  info.subscriptions = acc.sublist.size;
  const mappings = mappingsJson(server, acc.name);
  if (mappings) info.mappings = mappings;
  const exports = exportsJson(cfg);
  if (exports.length > 0) info.exports = exports;
  // every ordinary account imports its own CONNZ/STATZ from the system account (when there is one)
  const sysImports = acc === server.systemAccount || server.options.noSystemAccount ? []
    : sysImportsJson(acc.name, server.systemAccount.name);
  const imports = [...streamImportsJson(cfg), ...sysImports, ...serviceImportsJson(server, cfg)];
  if (imports.length > 0) info.imports = imports;
  info.sublist_stats = sublistStats([acc]);
  return info;
}

export function accountz(server: Server, accName: string): Record<string, unknown> {
  const out: Record<string, unknown> = { server_id: server.serverId, now: goTime(Date.now()) };
  if (!server.options.noSystemAccount) out.system_account = server.systemAccount.name;
  if (accName === '') {
    out.accounts = server.allAccounts().map((a) => a.name);
    return out;
  }
  const acc = server.lookupAccount(accName);
  if (!acc) throw new BadRequest(`Account ${accName} does not exist`);
  out.account_detail = accountInfo(server, acc);
  return out;
}

/** AccountStat of one account (also the $SYS STATZ answers). */
export function accountStat(acc: Account): Record<string, unknown> {
  const st = acc.stats;
  return {
    acc: acc.name,
    name: acc.name,
    conns: acc.numClients,
    leafnodes: 0,
    total_conns: acc.numClients,
    num_subscriptions: acc.sublist.size,
    sent: { msgs: st.outMsgs, bytes: st.outBytes },
    received: { msgs: st.inMsgs, bytes: st.inBytes },
    slow_consumers: 0,
  };
}

export function accstatz(server: Server, opts: { accounts?: string[]; includeUnused?: boolean }): Record<string, unknown> {
  const candidates = opts.accounts && opts.accounts.length > 0
    ? opts.accounts.map((n) => server.lookupAccount(n)).filter((a): a is Account => a !== undefined)
    : server.allAccounts();
  return {
    server_id: server.serverId,
    now: goTime(Date.now()),
    account_statz: candidates.filter((a) => opts.includeUnused || a.numClients > 0).map(accountStat),
  };
}
