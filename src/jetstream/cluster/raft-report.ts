// The Raft groups this server runs (meta, replicated streams, replicated consumers) as
// monitoring reads them: a point-in-time figure per group, built on scrape only (/metrics).
import type { RaftNode } from '../../raft/index.js';
import type { ClusteredJetStream } from './js-cluster.js';
import type { RaftGroupSource } from '../../monitor/sources.js';

/** Monitoring defines the shape (it may not import this layer); this module fills it in. */
export type RaftGroupReport = RaftGroupSource;

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
