// Executes one planned fault against the running cluster. Roles are resolved
// here, when the fault fires: "leader" is the stream's current leader,
// "follower" one of the others (sorted by name, so a seed picks the same one
// when the leadership history repeats).
import { readdirSync, statSync, truncateSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { seededRandom } from '../../test/helpers/wait.js';
import { api, CONSUMER, STREAM, type ConsumerInfo, type ReplicaInfo, type StreamInfo } from './api.js';
import type { ChaosCluster, ChaosNode } from './cluster.js';
import type { PlannedFault } from './schedule.js';
import { pause } from './workload.js';

export interface FaultRecord {
  fault: PlannedFault; node?: string; leaderBefore?: string; note: string; atMs: number;
  /** set when the server did not come back from this fault */
  violation?: string;
}

/** The stream's leader and replicas as the leader reports them, waiting up to timeoutMs for a leader. */
export async function streamInfo(nc: NatsConnection, timeoutMs: number): Promise<StreamInfo | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const si = await api<StreamInfo>(nc, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 2000);
      if (si.error === undefined && si.cluster?.leader) return si;
    } catch {
      // no leader yet, or our server is paused/partitioned
    }
    await pause(200);
  }
  return undefined;
}

function walk(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    try {
      if (statSync(p).isDirectory()) walk(p, out);
      else out.push(p);
    } catch {
      // vanished
    }
  }
  return out;
}

const blkId = (p: string) => Number(/(\d+)\.blk$/.exec(p)?.[1] ?? -1);

/** The stream's message blocks in a node's store (…/streams/CHAOS/msgs/<n>.blk), oldest first. */
export function streamBlocks(storeDir: string): string[] {
  return walk(storeDir).filter((p) => p.includes(`/streams/${STREAM}/msgs/`) && p.endsWith('.blk')).sort((a, b) => blkId(a) - blkId(b));
}

/**
 * The stream raft group's WAL files, oldest first: nats-server's …/_js_/S-…/msgs/<n>.blk, or tsnats's
 * segments …/_js_/S-…/<first index, 20 digits>.wal (zero-padded, so they sort as strings).
 */
export function walBlocks(storeDir: string): string[] {
  const files = walk(storeDir);
  const blks = files.filter((p) => /\/_js_\/S-[^/]+\/msgs\/\d+\.blk$/.test(p)).sort((a, b) => blkId(a) - blkId(b));
  const segs = files.filter((p) => /\/_js_\/S-[^/]+\/(?:.*\/)?\d{20}\.wal$/.test(p)).sort((a, b) => (a.split('/').pop()! < b.split('/').pop()! ? -1 : 1));
  return [...blks, ...segs];
}

/**
 * Every raft file of every group in a node's store (the meta group _meta_, the stream's S-… and the
 * consumer's C-… groups), sorted so a seed picks the same ones: the WAL (nats-server's
 * _js_/<group>/msgs/<n>.blk and its index <n>.idx; tsnats's <20-digit first index>.wal segments),
 * snapshots/snap.<term>.<index>, tav.idx (term and vote) and peers.idx (peer state). Files a recovery
 * set aside (*.bad) and temp files are not raft state any more and are left out.
 */
export function raftFiles(storeDir: string): string[] {
  const raft = /\/_js_\/[^/]+\/(?:(?:.*\/)?msgs\/\d+\.(?:blk|idx)|(?:.*\/)?\d{20}\.wal|snapshots\/snap\.\d+\.\d+|tav\.idx|peers\.idx)$/;
  return walk(storeDir).filter((p) => raft.test(p)).sort();
}

/** The last parts of a store path that say which file it is (group, and the file within it). */
const short = (file: string) => file.slice(file.indexOf('/_js_/') + 6);

/**
 * Damage `count` of the given files (non-empty ones, chosen by `seed`), each in a way chosen by the
 * seed: a torn tail (1–4096 B dropped: a write the crash cut short), a cut at a random length (lost
 * data in the middle of the log or a half-written small file) or 1–8 flipped bits. Returns what was
 * done to which file, for the report.
 */
export function damageFiles(files: string[], count: number, seed: number): string {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pool = files.filter((f) => statSync(f).size > 0);
  if (pool.length === 0) return 'no raft files to damage';
  const done: string[] = [];
  for (let k = 0; k < count && pool.length > 0; k++) {
    const file = pool.splice(int(0, pool.length - 1), 1)[0]!;
    const size = statSync(file).size;
    const mode = int(0, 2);
    if (mode === 2) {
      done.push(`${short(file)}: ${flipBits([file], int(1, 8), int(1, 0x7fffffff))}`);
      continue;
    }
    const to = mode === 0 ? size - Math.min(size, int(1, 4096)) : int(0, size - 1);
    truncateSync(file, to);
    done.push(`${mode === 0 ? 'torn' : 'cut'} ${short(file)} ${size}->${to}`);
  }
  return done.join('; ');
}

function truncateTail(file: string, bytes: number): string {
  const size = statSync(file).size;
  const drop = Math.min(bytes, size);
  truncateSync(file, size - drop);
  return `${file.split('/').slice(-3).join('/')} ${size}->${size - drop}`;
}

function flipBits(files: string[], bits: number, seed: number): string {
  const rnd = seededRandom(seed);
  const sizes = files.map((f) => statSync(f).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total === 0) return 'no bytes to flip';
  const done: string[] = [];
  for (let k = 0; k < bits; k++) {
    let at = Math.floor(rnd() * total);
    let i = 0;
    while (at >= sizes[i]!) at -= sizes[i++]!;
    const bit = Math.floor(rnd() * 8);
    const fd = openSync(files[i]!, 'r+');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, at);
      b[0] = b[0]! ^ (1 << bit);
      writeSync(fd, b, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    done.push(`${files[i]!.split('/').pop()}@${at}.${bit}`);
  }
  return `flipped ${done.join(' ')}`;
}

/** The last panic or fatal line of a node's log (what a crashed server said), or ''. */
function lastFatal(node: ChaosNode): string {
  const l = node.log().split('\n').filter((x) => /panic:|\[FTL\]|Error:/.test(x)).pop();
  return l === undefined ? '' : ` (${l.trim().slice(0, 200)})`;
}

/** How long a server whose raft files were damaged may take to rejoin after its restart. */
export const REJOIN_MS = 30_000;

type GroupInfo = { leader?: string; replicas?: ReplicaInfo[] } | undefined;

/** Why `name` is not (yet) a working member of a group as its leader reports it, or undefined when it is. */
export function notRejoined(c: GroupInfo, name: string): string | undefined {
  if (c?.leader === undefined || c.leader === '') return 'no leader';
  if (c.leader === name) return undefined;
  const r = c.replicas?.find((x) => x.name === name);
  if (r === undefined) return `not among the replicas (leader ${c.leader})`;
  return r.current === true && r.offline !== true ? undefined : `current=${r.current === true} offline=${r.offline === true} lag=${r.lag ?? 0}`;
}

export class FaultRunner {
  constructor(private readonly cluster: ChaosCluster, private readonly nc: NatsConnection, private readonly t0: number, private readonly log: (m: string) => void) {}

  private async resolve(f: PlannedFault): Promise<{ node?: ChaosNode; leader?: string; note?: string }> {
    const si = await streamInfo(this.nc, 15_000);
    if (si === undefined) return { note: 'no stream leader within 15 s: fault skipped' };
    const leader = si.cluster!.leader!;
    if (f.role === 'leader') return { node: this.cluster.node(leader), leader };
    const peers = (si.cluster?.replicas ?? []).map((r) => r.name).filter((n) => n !== leader).sort();
    if (peers.length === 0) return { leader, note: 'no follower: fault skipped' };
    return { node: this.cluster.node(peers[f.pick % peers.length]!), leader };
  }

  /**
   * Restart a node after a fault. A server that does not listen again within the bound is a finding,
   * not a reason to stop the run: it is killed, recorded, and started once more before the checks.
   */
  private async restart(node: ChaosNode, rec: FaultRecord): Promise<void> {
    try {
      await this.cluster.restart(node);
    } catch (e) {
      const hung = node.alive;
      await this.cluster.kill(node);
      rec.violation = `${node.name} did not come back after fault #${rec.fault.n} ${rec.fault.kind}: ${hung ? 'still starting (not listening) after the start bound' : 'exited'}: ${(e as Error).message.split('\n')[0]}${lastFatal(node)}`;
      rec.note += ` [${rec.violation}]`;
    }
  }

  /**
   * A server restarted after raft-file damage must take its place again within REJOIN_MS: its stream
   * and consumer replicas current in their leaders' INFO (or it leads them) and a meta leader known in
   * its own /jsz. Seen once is enough (under load "current" may flicker). One that stays out is a
   * violation even if the checks at the end find it back.
   */
  private async checkRejoined(node: ChaosNode, rec: FaultRecord): Promise<void> {
    if (rec.violation !== undefined) return; // did not even start
    const t = Date.now();
    let why = '';
    while (Date.now() - t < REJOIN_MS) {
      if (!node.alive) {
        why = `it exited${lastFatal(node)}`;
        break;
      }
      const parts: string[] = [];
      const si = await api<StreamInfo>(this.nc, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 2000).catch(() => undefined);
      const sw = notRejoined(si?.cluster, node.name);
      if (sw !== undefined) parts.push(`stream: ${sw}`);
      const ci = await api<ConsumerInfo>(this.nc, `$JS.API.CONSUMER.INFO.${STREAM}.${CONSUMER}`, undefined, 2000).catch(() => undefined);
      const cw = notRejoined(ci?.cluster, node.name);
      if (cw !== undefined) parts.push(`consumer: ${cw}`);
      const jsz = await this.cluster.monitor<{ meta_cluster?: { leader?: string } }>(node, '/jsz', 2000).catch(() => undefined);
      if (!jsz?.meta_cluster?.leader) parts.push('meta: no leader known');
      if (parts.length === 0) {
        rec.note += ` [rejoined in ${Date.now() - t} ms]`;
        return;
      }
      why = parts.join(', ');
      await pause(250);
    }
    rec.violation = `${node.name} did not rejoin ${node.alive ? `within ${REJOIN_MS / 1000} s of` : 'after'} its restart after fault #${rec.fault.n} ${rec.fault.kind}: ${why}`;
    rec.note += ` [${rec.violation}]`;
  }

  async run(f: PlannedFault): Promise<FaultRecord> {
    const atMs = Date.now() - this.t0;
    const { node, leader, note } = await this.resolve(f);
    const rec: FaultRecord = { fault: f, node: node?.name, leaderBefore: leader, note: note ?? '', atMs };
    if (node === undefined) return rec;
    const c = this.cluster;
    switch (f.kind) {
      case 'kill':
        await c.kill(node);
        await pause(f.durationMs);
        await this.restart(node, rec);
        rec.note = `killed and restarted${rec.note}`;
        break;
      case 'stop':
        c.stop(node);
        await pause(f.durationMs);
        c.cont(node);
        rec.note = 'stopped and continued';
        break;
      case 'partition':
        c.isolate(node);
        await pause(f.durationMs);
        c.healAll();
        rec.note = 'isolated and healed';
        break;
      case 'corrupt':
      case 'torn':
      case 'bitflip': {
        await c.kill(node);
        const blocks = streamBlocks(node.storeDir);
        if (blocks.length === 0) rec.note = 'no stream blocks found';
        else if (f.mode === 'torn') rec.note = `torn tail: ${truncateTail(blocks[blocks.length - 1]!, f.amount!)}`;
        else rec.note = flipBits(blocks, f.amount!, f.subSeed);
        await pause(f.durationMs);
        await this.restart(node, rec);
        break;
      }
      case 'unsynced': {
        await c.kill(node);
        const parts: string[] = [];
        const blocks = streamBlocks(node.storeDir);
        if (blocks.length > 0) parts.push(truncateTail(blocks[blocks.length - 1]!, f.amount!));
        const wal = walBlocks(node.storeDir);
        if (wal.length > 0) parts.push(truncateTail(wal[wal.length - 1]!, f.amount!));
        else parts.push('no raft WAL file found');
        if (blocks.length === 0) parts.push('no stream message block found');
        rec.note = `dropped tails: ${parts.join('; ')}`;
        await pause(f.durationMs);
        await this.restart(node, rec);
        break;
      }
      case 'raft-damage': {
        await c.kill(node);
        rec.note = `raft files: ${damageFiles(raftFiles(node.storeDir), f.amount!, f.subSeed)}`;
        await pause(f.durationMs);
        await this.restart(node, rec);
        await this.checkRejoined(node, rec);
        break;
      }
      case 'peer-remove': {
        try {
          const r = await api<Record<string, unknown>>(this.nc, `$JS.API.STREAM.PEER.REMOVE.${STREAM}`, { peer: node.name }, 5000);
          rec.note = `reply ${JSON.stringify(r).slice(0, 160)}`;
          // The reply may come before the meta group applies the removal: wait until the stream's
          // peers no longer list it, so the final check never reads a peer list that is about to change.
          if (r.success === true) rec.note += await this.untilRemoved(node.name);
        } catch (e) {
          rec.note = `no reply: ${(e as Error).message}`;
        }
        break;
      }
    }
    this.log(`fault #${f.n} ${f.kind} on ${node.name} (leader was ${leader}): ${rec.note}`);
    return rec;
  }

  private async untilRemoved(name: string): Promise<string> {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const si = await streamInfo(this.nc, 2000);
      const peers = si?.cluster === undefined ? undefined : [si.cluster.leader, ...(si.cluster.replicas ?? []).map((r) => r.name)];
      if (peers !== undefined && !peers.includes(name)) return '; removal applied';
      await pause(100);
    }
    return '; removal not seen in the peer list within 15 s';
  }
}
