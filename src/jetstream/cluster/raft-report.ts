// The Raft groups this server runs (meta, replicated streams, replicated consumers) as
// monitoring reads them: a point-in-time figure per group, built on scrape only (/metrics).
import type { RaftNode } from '../../raft/index.js';
import type { ClusteredJetStream } from './js-cluster.js';

export interface RaftGroupReport {
  kind: 'meta' | 'stream' | 'consumer';
  /** Raft group name (e.g. _meta_, S-R3F-abc). */
  group: string;
  account?: string;
  stream?: string;
  consumer?: string;
  leader: boolean;
  term: number;
  commit: number;
  applied: number;
  /** Committed entries this server has not applied yet. */
  lag: number;
  /** Leader only: how far each follower's log is behind ours, by peer id. */
  peerLag: { peer: string; lag: number }[];
}

function report(node: RaftNode, base: Pick<RaftGroupReport, 'kind' | 'account' | 'stream' | 'consumer'>): RaftGroupReport | undefined {
  if (!node || node.state === 'closed') return undefined;
  const st = node.status();
  const leader = st.state === 'leader';
  return {
    ...base,
    group: st.group,
    leader,
    term: st.term,
    commit: st.commit,
    applied: st.applied,
    lag: Math.max(0, st.commit - st.applied),
    peerLag: leader ? st.peers.filter((p) => !p.self).map((p) => ({ peer: p.id, lag: p.lag })) : [],
  };
}

export function raftGroupReports(c: ClusteredJetStream): RaftGroupReport[] {
  const out: RaftGroupReport[] = [];
  const push = (r: RaftGroupReport | undefined): void => {
    if (r) out.push(r);
  };
  if (c.node) push(report(c.node, { kind: 'meta' }));
  for (const sg of c.streamGroups.all()) {
    if (sg.stopped || !sg.node) continue;
    push(report(sg.node, { kind: 'stream', account: sg.account, stream: sg.name }));
    for (const cg of sg.consumers.values()) {
      if (cg.stopped || !cg.node) continue;
      push(report(cg.node, { kind: 'consumer', account: sg.account, stream: sg.name, consumer: cg.name }));
    }
  }
  return out;
}
