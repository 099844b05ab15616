// A member whose log cannot win must not keep a group of nats-server 2.9.10 voters leaderless.
// 2.9.10 restarts its election timer (4-9 s) at every vote request it receives, even one it
// refuses; a member that asked for votes more often than that (a fresh, empty replica retrying
// every 4-9 s) kept the members holding the log from ever campaigning: the mixed test
// js-mixed-meta-snapshot saw an R3 stream stay leaderless for 20 s. After a candidacy lost to a
// better log our node waits longer than 2.9.10's longest election timeout before it asks again.
// The core alone with a manual clock; the two other members are models of 2.9.10's vote handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, SINGLE_ID, singleNode, type SingleNode } from '../../src/raft/sim/recording-host.js';
import type { VoteRequest, VoteResponse } from '../../src/raft/types.js';

/** nats-server 2.9.10's longest election timeout (raft.go maxElectionTimeoutDefault). */
const NRG_MAX_ELECTION_MS = 9000;

/**
 * One 2.9.10 member's vote handling (raft.go processVoteRequest): the election timer restarts at
 * every request; a higher term is adopted with the vote cleared; the answer carries the term held
 * before the request. Its timer is taken at its longest, the case that must still fire.
 */
class Nrg29Voter {
  electionAt: number;
  constructor(readonly id: string, public term: number, public vote: string, readonly pterm: number, readonly pindex: number, now: number) {
    this.electionAt = now + NRG_MAX_ELECTION_MS;
  }

  voteRequest(vr: VoteRequest, now: number): VoteResponse {
    this.electionAt = now + NRG_MAX_ELECTION_MS;
    const resp: VoteResponse = { term: this.term, peer: this.id, granted: false, empty: false };
    if (vr.term < this.term) return resp;
    if (vr.term > this.term) {
      this.term = vr.term;
      this.vote = '';
    }
    if ((this.vote === '' || this.vote === vr.candidate) && vr.lastTerm >= this.pterm && vr.lastIndex >= this.pindex) {
      this.vote = vr.candidate;
      resp.granted = true;
    }
    return resp;
  }
}

/** Deliver every vote request the node sent to the voters, and their answers back (which may send more). */
function deliverVoteRequests(n: SingleNode, voters: Nrg29Voter[], sentAt: number[]): void {
  for (let reqs = n.host.take('vreq'); reqs.length > 0; reqs = n.host.take('vreq')) {
    for (const req of reqs) {
      sentAt.push(n.clock.t);
      for (const v of voters) n.core.handleVoteResponse(v.voteRequest(req.msg, n.clock.t), req.reply);
    }
  }
}

/**
 * A fresh replica (new directory, empty log) of a group whose two other members are 2.9.10 servers
 * that hold 11 entries of term `term` and voted, at that term, for the replica's previous
 * incarnation (same server name, so the same peer id): it was their leader. It campaigns at once
 * (the preferred peer, as the stream layer does), then on its own timers. Runs until one of the
 * voters' election timers fires; returns when (ms after the start), or undefined within `limitMs`.
 */
function firstNrgElection(term: number, seed: number, limitMs: number): { at: number | undefined; sentAt: number[]; n: SingleNode } {
  const n = singleNode({ peers: [SINGLE_ID, NATS0, NATS1], seed });
  const start = n.clock.t;
  const voters = [NATS0, NATS1].map((id) => new Nrg29Voter(id, term, SINGLE_ID, term, 11, start));
  const sentAt: number[] = [];
  n.core.campaign();
  while (n.clock.t - start < limitMs) {
    const next = Math.min(n.clock.t + Math.max(1, n.core.electionTimerRemainingMs()), ...voters.map((v) => v.electionAt));
    n.advance(next - n.clock.t);
    if (voters.some((v) => v.electionAt <= n.clock.t)) return { at: n.clock.t - start, sentAt: sentAt.map((t) => t - start), n };
    deliverVoteRequests(n, voters, sentAt);
  }
  return { at: undefined, sentAt: sentAt.map((t) => t - start), n };
}

test('a fresh member refused by 2.9.10 voters holding the log leaves them a whole election timeout: one of them campaigns', () => {
  // Terms 1 (the old replica won the group's first election) and 4 (leadership moved since).
  for (const term of [1, 4]) {
    for (let seed = 1; seed <= 50; seed++) {
      const { at, sentAt } = firstNrgElection(term, seed, 120_000);
      assert.ok(at !== undefined, `term ${term} seed ${seed}: no 2.9.10 member could campaign in 120 s; our vote requests at ${sentAt.join(', ')} ms`);
      // Before the first candidacy lost to the better log come the preferred peer's campaign (and at
      // term 1 a retry), then one election timeout (at most 9 s) later a probe and that candidacy;
      // the voters' timers (9 s here) run out in the quiet period after it: within 30 s.
      assert.ok(at <= 30_000, `term ${term} seed ${seed}: first 2.9.10 campaign at ${at} ms; our vote requests at ${sentAt.join(', ')} ms`);
    }
  }
});

test('while quiet it still votes: the 2.9.10 member that campaigns wins its vote and leads it; a leader heard ends the quiet period', () => {
  const { at, n } = firstNrgElection(4, 3, 120_000);
  assert.ok(at !== undefined);
  assert.equal(n.core.state, 'follower');
  const term = n.core.term;
  // The voter whose timer ran out campaigns at the next term with its log (term 4, 11 entries).
  n.core.handleVoteRequest({ term: term + 1, lastTerm: 4, lastIndex: 11, candidate: NATS0 }, '$NRG.R.nats0');
  const [resp] = n.host.take('vresp');
  assert.equal(resp.msg.granted, true);
  assert.equal(n.core.term, term + 1);
  // Its first append makes it our leader; when it is gone later we campaign again on the usual
  // timers (no quiet period left over).
  n.core.handleAppendEntry(ae({ leader: NATS0, term: term + 1, pterm: 4, pindex: 11 }), '$R', '$NRG.AE.TEST');
  assert.equal(n.core.leader, NATS0);
  assert.ok(n.core.electionTimerRemainingMs() <= 9000, `election timer ${n.core.electionTimerRemainingMs()} ms`);
});

test('a refusal at our own term (a split vote, or a vote given to another) is no reason for quiet: the retry comes within the campaign timeout', () => {
  const n = singleNode({ peers: [SINGLE_ID, NATS0, NATS1] });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 2, entries: [{ type: 0, data: Buffer.from('a') }] }), '$R', '$NRG.AE.TEST');
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
  const [req] = n.host.take('vreq');
  for (const p of [NATS0, NATS1]) n.core.handleVoteResponse({ term: req.msg.term, peer: p, granted: false, empty: false }, req.reply);
  assert.ok(n.core.electionTimerRemainingMs() <= 800, `retry in ${n.core.electionTimerRemainingMs()} ms`);
});
