// Replays the NRG traffic captured from a 3-node nats-server 2.9.10 cluster
// (test/fixtures/vectors/nrg/nrg_trace.jsonl: meta, stream and consumer
// groups, elections, entries, stepdowns with leader transfer) into our core
// as the member that never led the group, and checks that it answers exactly
// as the real follower did and ends with the same log and commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAppendEntry, decodeAppendEntryResponse, decodeVoteRequest, decodeVoteResponse } from '../../src/raft/codec.js';
import { singleNode } from '../../src/raft/sim/recording-host.js';
import { type AppendEntry, RaftError } from '../../src/raft/types.js';
import { readVectorJsonl } from '../helpers/vectors.js';

const N1 = 'fjFyEjc1';
const N2 = '44jzkV9D';
const N3 = 'BXScrY9i';

interface Row {
  subject: string;
  reply: string | null;
  hex: string;
}

const GROUPS: { group: string; follower: string }[] = [
  { group: '_meta_', follower: N3 },
  { group: 'S-R3F-hEixyAjA', follower: N2 },
  { group: 'C-R3F-B8uz6d3E', follower: N2 },
];

test('replaying captured 2.9.10 group traffic: our follower answers like the real one and ends in the same state', () => {
  const rows = readVectorJsonl<Row>('nrg', 'nrg_trace.jsonl');
  for (const { group, follower } of GROUPS) {
    const inboxes = new Set<string>();
    for (const r of rows) if ((r.subject === `$NRG.AE.${group}` || r.subject === `$NRG.V.${group}`) && r.reply) inboxes.add(r.reply);
    const n = singleNode({ id: follower, peers: [N1, N2, N3], timing: { electionTimeoutMinMs: 1e9, electionTimeoutMaxMs: 2e9 } });
    // The group's name decides the subjects our core listens on.
    const core = n.core;
    const want: string[] = [];
    const got: string[] = [];
    let lastAe: AppendEntry | undefined;
    for (const r of rows) {
      const payload = Buffer.from(r.hex, 'hex');
      if (r.subject === `$NRG.V.${group}`) {
        const vr = decodeVoteRequest(payload)!;
        if (vr.candidate === follower) continue;
        core.handleVoteRequest(vr, r.reply ?? '');
      } else if (r.subject === `$NRG.AE.${group}`) {
        const ae = decodeAppendEntry(payload);
        assert.ok(!(ae instanceof RaftError));
        if (ae.leader === follower) continue;
        core.handleAppendEntry(ae, r.reply ?? '', core.aeSubject);
        lastAe = ae;
      } else if (inboxes.has(r.subject)) {
        // What the real follower answered, in order.
        if (payload.length === 25) {
          const ar = decodeAppendEntryResponse(payload)!;
          if (ar.peer === follower) want.push(`aer ${ar.term}/${ar.index}/${ar.success}`);
        } else if (payload.length === 17) {
          const vr = decodeVoteResponse(payload)!;
          if (vr.peer === follower) want.push(`vote ${vr.granted}`);
        }
        continue;
      } else continue;
      n.persistAll();
      n.applyAll();
      for (const s of n.host.sent) {
        if (s.kind === 'aer') got.push(`aer ${s.msg.term}/${s.msg.index}/${s.msg.success}`);
        else if (s.kind === 'vresp') got.push(`vote ${s.msg.granted}`);
      }
      n.host.sent = [];
    }
    assert.ok(want.length > 10, `${group}: captured responses found (${want.length})`);
    assert.deepEqual(got, want, `${group}: responses differ`);
    assert.ok(lastAe);
    assert.equal(core.commit, lastAe.commit, `${group}: commit`);
    assert.equal(core.lastIndex, lastAe.pindex + (lastAe.entries.length > 0 ? 1 : 0), `${group}: last index`);
    assert.equal(core.term, lastAe.term, `${group}: term`);
    assert.equal(core.leader, lastAe.leader);
    assert.equal(core.clusterSize, 3);
  }
});
