// Checks shared by the attack scripts on a 3-server child-process cluster: requests that collect
// every reply, the cluster-wide view of streams (STREAM.NAMES + STREAM.INFO), whether each server
// holds exactly the streams assigned to it (/jsz), and new error lines in the servers' logs.
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import type { JsCluster, JsNode } from '../../test/cluster/js-cluster-harness.js';
import { pollUntil } from '../../test/helpers/wait.js';

// ---- raw request with reply collection ----
const inboxes = new WeakMap<NatsConnection, { prefix: string; n: number; pending: Map<string, string[]> }>();
export async function rawRequest(nc: NatsConnection, subject: string, body: string, waitMs = 4000): Promise<string[]> {
  let m = inboxes.get(nc);
  if (m === undefined) {
    const mm = { prefix: createInbox(), n: 0, pending: new Map<string, string[]>() };
    nc.subscribe(`${mm.prefix}.*`, { callback: (_e, msg) => { mm.pending.get(msg.subject)?.push(msg.string()); } });
    await nc.flush();
    inboxes.set(nc, mm);
    m = mm;
  }
  const inbox = `${m.prefix}.${++m.n}`;
  const got: string[] = [];
  m.pending.set(inbox, got);
  nc.publish(subject, body, { reply: inbox });
  await nc.flush();
  const end = Date.now() + waitMs;
  while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  if (got.length > 0) await new Promise((r) => setTimeout(r, 150));
  m.pending.delete(inbox);
  return got;
}

// ---- checks ----
export interface StreamView { name: string; leader?: string; peers: string[] }

export async function clusterView(c: JsCluster, ncs: NatsConnection[]): Promise<Map<string, StreamView>> {
  const names: string[] = [];
  let offset = 0;
  for (;;) {
    const r = await rawRequest(ncs[0]!, '$JS.API.STREAM.NAMES', JSON.stringify({ offset }), 8000);
    if (r.length !== 1) throw new Error(`STREAM.NAMES: ${r.length} replies`);
    const j = JSON.parse(r[0]!) as { streams: string[] | null; total: number; error?: unknown };
    if (j.error) throw new Error(`STREAM.NAMES: ${r[0]}`);
    names.push(...(j.streams ?? []));
    offset = names.length;
    if (names.length >= j.total || (j.streams ?? []).length === 0) break;
  }
  const out = new Map<string, StreamView>();
  for (const name of names.sort()) {
    let lastSeen = '';
    const info = await pollUntil(async () => {
      const r = await rawRequest(ncs[Math.floor(Math.random() * ncs.length)]!, `$JS.API.STREAM.INFO.${name}`, '', 3000);
      lastSeen = r.join(' | ').slice(0, 1500);
      if (r.length > 1) throw new Error(`STREAM.INFO ${name}: ${r.length} replies`);
      const j = r[0] === undefined ? undefined : JSON.parse(r[0]) as { error?: unknown; cluster?: { leader?: string; replicas?: { name: string }[] } };
      return j && !j.error && j.cluster?.leader ? j : undefined;
    }, `STREAM.INFO ${name} with a leader`, 30_000, 200).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last answer: ${lastSeen}`);
    });
    const peers = [info.cluster!.leader!, ...(info.cluster!.replicas ?? []).map((r) => r.name)].sort();
    out.set(name, { name, leader: info.cluster!.leader, peers });
  }
  return out;
}

export async function localStreams(c: JsCluster, n: JsNode): Promise<string[]> {
  const j = await c.monitor<{ account_details?: { stream_detail?: { name: string }[] }[] }>(n, '/jsz?accounts=true&streams=true');
  return (j.account_details ?? []).flatMap((a) => (a.stream_detail ?? []).map((s) => s.name)).sort();
}

export async function checkAgreement(c: JsCluster, ncs: NatsConnection[], label: string): Promise<Map<string, StreamView>> {
  for (const n of c.nodes) if (!n.alive) throw new Error(`${label}: ${n.name} is dead:\n${n.log().slice(-4000)}`);
  await c.waitMetaLeader({ timeoutMs: 60_000 });
  // Placement changes settle asynchronously: poll until each server's local streams match the groups.
  let view = new Map<string, StreamView>();
  let last = '';
  await pollUntil(async () => {
    view = await clusterView(c, ncs);
    const diffs: string[] = [];
    for (const n of c.nodes) {
      const want = [...view.values()].filter((v) => v.peers.includes(n.name)).map((v) => v.name).sort();
      const have = await localStreams(c, n);
      if (want.join(',') !== have.join(',')) diffs.push(`${n.name}: groups name [${want}] but it holds [${have}]`);
    }
    last = diffs.join('; ');
    return diffs.length === 0 ? true : undefined;
  }, `${label}: every server holds the streams assigned to it`, 60_000, 500).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}: ${last}`);
  });
  return view;
}

export function logProblems(c: JsCluster, seen: Map<string, number>): string[] {
  const out: string[] = [];
  for (const n of c.nodes) {
    const lines = n.log().split('\n');
    const from = seen.get(n.name) ?? 0;
    for (const l of lines.slice(from)) if (/\[(ERR|FTL)\]|TypeError|RangeError|ReferenceError|at .*\.js:\d+|Uncaught|unhandled/i.test(l)) out.push(`${n.name}: ${l.slice(0, 400)}`);
    seen.set(n.name, lines.length);
  }
  return out;
}


/** Each server's last warnings and errors (route noise left out), printed when a run fails. */
export function printWarnings(c: JsCluster, last = 40): void {
  for (const n of c.nodes) {
    const lines = n.log().split('\n').filter((l) => /\[(ERR|WRN|FTL)\]/.test(l) && !/route/.test(l));
    console.log(`--- ${n.name} (alive=${n.alive}), last warnings and errors:\n${lines.slice(-last).map((l) => l.slice(0, 400)).join('\n')}`);
  }
}

/** Run `fn` on `c`: on failure the servers' last warnings are printed; `c` is shut down either way. */
export async function onCluster(c: JsCluster, fn: () => Promise<void>, warnLines = 25): Promise<void> {
  try {
    await fn();
  } catch (e) {
    printWarnings(c, warnLines);
    throw e;
  } finally {
    await c.shutdown();
  }
}

/** A script's entry: a failure is printed with `label` and the process exits 1. */
export function runMain(label: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    console.error(`FAILED ${label}:`, e);
    process.exit(1);
  });
}
