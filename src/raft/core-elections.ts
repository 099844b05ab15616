// Elections of a Raft group (NRG): the election timer, candidacy, votes,
// becoming leader or follower, leader transfer. Pre-vote without a pre-vote
// message: a node raises its term only when a quorum is reachable, else it
// first probes with a vote request at its current term (see README.md).

import { encodePeerId, encodePeerState } from './codec.js';
import { RaftCoreMembership } from './core-membership.js';
import { candidateVoteInbox, isProbeVoteInbox, probeVoteInbox, readsEmptyVoteFlag } from './subjects.js';
import { EntryType, RaftError, type VoteRequest, type VoteResponse } from './types.js';

export abstract class RaftCoreElections extends RaftCoreMembership {
  // Follower catch-up and proposals (core.ts).
  protected abstract cancelCatchup(): void;
  protected abstract catchupStalled(now: number): boolean;
  protected abstract abandonProposals(): void;

  protected onElectionTimeout(now: number): void {
    if (this._state === 'follower') {
      if (this.observer) {
        this.electionDeadline = now + this.timing.observerIntervalMs;
        return;
      }
      if (this.catchup) {
        if (this.catchupStalled(now)) this.cancelCatchup();
        this.resetElectionTimeout();
        return;
      }
    }
    this.switchToCandidate();
  }

  protected switchToCandidate(afterProbe = false): void {
    if (this._state === 'closed') return;
    if (this.observer || this._applied < this._commit) {
      this.resetElect(this.timing.electionTimeoutMinMs / 4);
      return;
    }
    // A node that lost state in recovery could win with a log missing
    // committed entries: it waits for a leader to catch it up.
    if (this.stateLost) {
      this.resetElectionTimeout();
      return;
    }
    // Never campaign with an uncommitted membership change about ourselves,
    // nor (managed groups) from outside our own peer set.
    // A server removed from the group never campaigns, nor does one whose
    // addition is still uncommitted. One whose *removal* is uncommitted may
    // (as in the Raft dissertation, without counting its own vote): it may
    // hold the only complete log, and winning commits its removal, after
    // which it hands over and closes.
    if (
      (this.membChange && this.membChange.peer === this.id && this.membChange.add) ||
      (this.managed && !this.peers.has(this.id)) ||
      (this.removed.has(this.id) && !this.peers.has(this.id))
    ) {
      this.updateLeader('');
      this.resetElect(this.timing.electionTimeoutMinMs);
      return;
    }
    const now = this.env.now();
    // After a candidacy lost to a better log we keep quiet (see quietUntil). A leader transfer's
    // target is exempt: its leader chose it for holding the whole log.
    if (this.quietUntil > now && !this.lxfer) {
      this.resetElect(this.quietUntil - now);
      return;
    }
    // Raise the term only when a quorum is reachable: a node cut off from
    // the group (or coming back from a partition) would otherwise return
    // with a higher term and depose a healthy leader. It first probes with a
    // vote request at its current term (harmless to every voter: nobody
    // changes term for it) and campaigns for real once enough peers answered.
    const force = this.forceCampaign || this.lxfer;
    this.forceCampaign = false;
    // A restarted node with an empty log can only win when every member
    // answers; it lets nodes holding a log campaign first (every other
    // timeout), or its own candidacies keep splitting their votes.
    if (!force && !afterProbe && this.pindex === 0 && !this.initializing && this._term > 0) {
      this.emptyDefer = !this.emptyDefer;
      if (this.emptyDefer) {
        this.updateLeader('');
        this.resetElectionTimeout();
        return;
      }
    }
    // After our leader was reported gone we always probe first and need pre-vote grants: a
    // peer that still hears the leader refuses, so a route that merely flapped deposes nobody.
    // After a split vote, too: the retry must not depose a leader elected meanwhile whose append
    // has not reached us yet (its followers veto the probe), and it is where a competing loser
    // steps back (answerPreVote).
    const goneWindow = this.goneLeaderUntil > now;
    const splitRetry = this.splitRetry;
    this.splitRetry = false;
    if (!force && !afterProbe && this._term > 0 && (goneWindow || splitRetry || !this.reachableQuorum(now))) {
      this.sendProbe(goneWindow || splitRetry);
      return;
    }
    this.probing = false;
    if (this._state === 'candidate' && this.lostQuorum(now) && now - this.lastQuorumSignalAt > this.timing.lostQuorumSignalMs) {
      this.lastQuorumSignalAt = now;
      this.host.leaderSignal(false, this._term);
    }
    // Who can still answer: the members heard from lately (a probe's answers included), taken
    // before updateLeader('') forgets them; see checkElectionLost.
    this.electorate.clear();
    for (const [pid, p] of this.peers) {
      if (pid !== this.id && p.lastSeen > 0 && now - p.lastSeen < this.timing.electionTimeoutMinMs) this.electorate.add(pid);
    }
    this._term++;
    this._vote = this.id;
    this.updateLeader('');
    this._state = 'candidate';
    this.resetElectionTimeout();
    // Term and self-vote must be durable before we ask anyone for a vote.
    if (!this.persistTermVote()) return;
    if (this.voteInbox) this.host.unsubscribe(this.voteInbox);
    this.voteInbox = candidateVoteInbox(this.group, this.id, this._term, this.env.random);
    this.host.subscribe(this.voteInbox, 'vote-response');
    this.votes.clear();
    this.emptyVotes.clear();
    this.refusals.clear();
    this.outvotedByLog = false;
    // Our own vote counts like anyone's: only as a member (or while the peer
    // set is still incomplete). A removed node must not help elect itself.
    if (this.countsVote(this.id)) this.votes.add(this.id);
    this.host.stateChanged();
    this.host.sendVoteRequest(this.voteSubject, this.voteInbox, {
      term: this._term,
      lastTerm: this.pterm,
      lastIndex: this.pindex,
      candidate: this.id,
    });
    this.checkElectionWon();
  }

  /** Self plus peers heard from within the minimum election timeout form a quorum. */
  protected reachableQuorum(now: number): boolean {
    let n = 0;
    for (const [pid, p] of this.peers) {
      if (pid === this.id || (p.lastSeen > 0 && now - p.lastSeen < this.timing.electionTimeoutMinMs)) {
        if (++n >= this.qn) return true;
      }
    }
    return this.qn <= 1;
  }

  /**
   * A vote request at our current term, on a probe inbox: our voters answer it as a pre-vote
   * (see answerPreVote), NRG voters as an ordinary same-term request. `wantGrants`: we campaign
   * once a quorum would vote for us; otherwise once a quorum answered at all.
   */
  protected sendProbe(wantGrants: boolean): void {
    this.updateLeader('');
    this.resetElectionTimeout();
    if (this.voteInbox) this.host.unsubscribe(this.voteInbox);
    this.voteInbox = probeVoteInbox(this.group, this.id, this._term, this.env.random);
    this.host.subscribe(this.voteInbox, 'vote-response');
    this.probing = true;
    this.probeWantsGrants = wantGrants;
    this.probeGrants.clear();
    this.debug(`probing for a quorum at term ${this._term} before campaigning${wantGrants ? ' (pre-vote grants needed)' : ''}`);
    this.host.sendVoteRequest(this.voteSubject, this.voteInbox, {
      term: this._term,
      lastTerm: this.pterm,
      lastIndex: this.pindex,
      candidate: this.id,
    });
  }

  protected cancelProbe(): void {
    if (!this.probing) return;
    this.probing = false;
    if (this.voteInbox) this.host.unsubscribe(this.voteInbox);
    this.voteInbox = '';
  }

  /**
   * A vote request that would raise our term is refused without effect while
   * we follow a leader heard from within the minimum election timeout (or
   * lead with a quorum heard from within it): the candidate is disruptive,
   * not needed. The target of a leader transfer is exempt.
   */
  protected disruptive(vr: VoteRequest): boolean {
    if (vr.term <= this._term || vr.candidate === this.transferTarget) return false;
    const now = this.env.now();
    if (this._state === 'leader') return this.reachableQuorum(now) && this.qn > 1;
    return this._state === 'follower' && this._leader !== '' && this.leaderContactAt > 0 && now - this.leaderContactAt < this.timing.electionTimeoutMinMs;
  }

  protected countsVote(peer: string): boolean {
    return this.peers.has(peer) || this.peers.size < this.csz;
  }

  protected checkElectionWon(): void {
    if (this.votes.size >= this.qn || this.votes.size + this.emptyVotes.size >= this.csz) this.switchToLeader();
  }

  handleVoteRequest(vr: VoteRequest, reply: string): void {
    if (this._state === 'closed') return;
    if (reply && isProbeVoteInbox(reply, this.group, vr.candidate, vr.term)) {
      this.answerPreVote(vr, reply);
      return;
    }
    // The empty-log flag goes only to candidates that read it (ours): NRG
    // 2.9.10 takes a flag byte other than 1 as a refusal.
    const flagAware = readsEmptyVoteFlag(reply, this.group, vr.candidate, vr.term);
    const resp: VoteResponse = { term: this._term, peer: this.id, granted: false, empty: flagAware && this.pindex === 0 && !this.initializing };
    if (vr.term < this._term || this.disruptive(vr)) {
      if (reply) this.host.sendVoteResponse(reply, resp);
      return;
    }
    let dirty = false;
    if (vr.term > this._term) {
      if (this._state !== 'follower') this.switchToFollower('');
      this.cancelCatchup();
      this._term = vr.term;
      this._vote = '';
      this.updateLeader('');
      dirty = true;
    }
    const voteOk = this._vote === '' || this._vote === vr.candidate;
    // A node that lost state compares as an empty log (any candidate is at
    // least as up to date) and says so, so the vote counts only as "empty".
    // (Towards a candidate that cannot read the flag it compares its log as
    // it is, as NRG 2.9.10 would.)
    const asEmpty = this.stateLost && flagAware;
    const myTerm = asEmpty ? 0 : this.pterm;
    const myIndex = asEmpty ? 0 : this.pindex;
    if (asEmpty) resp.empty = true;
    if (voteOk && (vr.lastTerm > myTerm || (vr.lastTerm === myTerm && vr.lastIndex >= myIndex))) {
      this._vote = vr.candidate;
      dirty = true;
      // Persist before granting: a restart must not forget a vote.
      if (!this.persistTermVote()) return;
      dirty = false;
      resp.granted = true;
      // We back this candidate: a probe of ours still out would otherwise turn its late grants
      // into a candidacy that splits the vote we just gave.
      this.cancelProbe();
      this.splitRetry = false;
      this.resetElectionTimeout();
    } else if (this._vote === '' && this._state !== 'candidate') {
      // We have the better log and have not voted: campaign early.
      this.resetElect(this.campaignTimeout());
    }
    if (dirty && !this.persistTermVote()) return;
    resp.term = this._term;
    if (dirty) this.host.stateChanged();
    if (reply) this.host.sendVoteResponse(reply, resp);
  }

  /**
   * A probe of one of ours: answer whether we would vote for that candidate at its next term,
   * recording nothing and changing no term. A leader, or a follower that heard its leader within
   * the minimum election timeout, refuses (the candidate's real request would be disruptive).
   */
  private answerPreVote(vr: VoteRequest, reply: string): void {
    const now = this.env.now();
    const liveLeader =
      this._state === 'leader' ||
      (this._state === 'follower' && this._leader !== '' && this.leaderContactAt > 0 && now - this.leaderContactAt < this.timing.electionTimeoutMinMs) ||
      this.openCandidacy(vr.term);
    const myTerm = this.stateLost ? 0 : this.pterm;
    const myIndex = this.stateLost ? 0 : this.pindex;
    const logOk = vr.lastTerm > myTerm || (vr.lastTerm === myTerm && vr.lastIndex >= myIndex);
    const empty = this.stateLost || (this.pindex === 0 && !this.initializing);
    const granted = vr.term >= this._term && !liveLeader && logOk;
    if (!logOk && !liveLeader && this._vote === '' && this._state === 'follower' && vr.term >= this._term) {
      // We have the better log: campaign early (as for a real request).
      this.resetElect(this.campaignTimeout());
    }
    if (granted && (this.probing || this.splitRetry) && this.yieldsTo(vr)) {
      // Two of us probing at once would both campaign at the next term and split the vote; with
      // few members left (3 of 5 need every vote) each split costs a whole election timeout. The
      // one that yields lets the other's candidacy through and waits a timer.
      this.debug(`stepping back for ${vr.candidate}, probing at term ${vr.term} too`);
      this.cancelProbe();
      this.splitRetry = false;
      this.resetElectionTimeout();
    }
    const resp: VoteResponse = { term: this._term, peer: this.id, granted, empty };
    if (liveLeader) resp.liveLeader = true;
    this.host.sendVoteResponse(reply, resp);
  }

  /**
   * We are a candidate whose vote request is out, not known lost, at a term at or above the
   * prober's: its candidacy would be one term above ours and, if we win meanwhile, depose us
   * through its append responses. We veto its probe (as a live leader does); it votes for us when
   * our request arrives. A candidacy that lost, timed out or went back to probing vetoes nothing,
   * so candidates never hold each other off.
   */
  private openCandidacy(proberTerm: number): boolean {
    return this._state === 'candidate' && !this.probing && this.voteInbox !== '' && this._term >= proberTerm;
  }

  /**
   * Of two concurrent probers, exactly one yields: to a more up-to-date log, and between equal
   * logs the higher peer id to the lower (any fixed order will do, as long as both sides agree).
   */
  private yieldsTo(vr: VoteRequest): boolean {
    if (vr.lastTerm !== this.pterm) return vr.lastTerm > this.pterm;
    if (vr.lastIndex !== this.pindex) return vr.lastIndex > this.pindex;
    return vr.candidate < this.id;
  }

  /** A vote response arriving on `inbox`. */
  handleVoteResponse(vr: VoteResponse, inbox: string): void {
    if (this._state === 'closed') return;
    if (vr.term > this._term) {
      this._term = vr.term;
      this._vote = '';
      this.lxfer = false;
      if (!this.persistTermVote()) return;
      if (this._state !== 'follower') this.switchToFollower('');
      else this.host.stateChanged();
      return;
    }
    if (inbox !== this.voteInbox || this._state === 'leader') return;
    // Any answer on our current inbox shows that peer is reachable.
    this.trackPeerSeen(vr.peer);
    if (this.probing) {
      // A member that leads, or hears its leader, vetoes the candidacy: a node whose election timer
      // ran out before it heard that leader (a restarted server: its timer starts before the
      // leader's first append reaches it) would otherwise raise its term and, answering the
      // leader's appends with that term, depose a healthy leader. It waits for the leader's append
      // instead (a full election timeout, set by sendProbe).
      if (vr.liveLeader) {
        this.debug(`probe at term ${this._term} refused by ${vr.peer}: it has a live leader`);
        this.cancelProbe();
        return;
      }
      if (this.probeWantsGrants) {
        // Only a full (non-empty) pre-vote from a member counts: the real election needs as much.
        if (vr.granted && !vr.empty && this.countsVote(vr.peer)) this.probeGrants.add(vr.peer);
        if (this.probeGrants.size + (this.countsVote(this.id) ? 1 : 0) < this.qn) return;
      } else if (!this.reachableQuorum(this.env.now())) {
        return;
      }
      this.probing = false;
      this.switchToCandidate(true);
      return;
    }
    if (this._state !== 'candidate' || !this.countsVote(vr.peer)) return;
    if (!vr.granted) {
      this.refusals.add(vr.peer);
      // A refusal at a term below ours: the voter moved up to our term and still refused. NRG
      // 2.9.10 answers with the term it had and clears its vote on a higher term, so it refused on
      // the logs; ours refuse so only while they hear a live leader.
      if (vr.term < this._term) this.outvotedByLog = true;
      this.checkElectionLost();
      return;
    }
    if (vr.empty) this.emptyVotes.add(vr.peer);
    else this.votes.add(vr.peer);
    this.checkElectionWon();
  }

  /**
   * Once the refusals leave no quorum among the votes we have and the members we heard from lately
   * that have not answered yet, this candidacy is lost (split vote, or a better log elsewhere).
   * Waiting out the election timeout (4-9 s) would leave the group leaderless for nothing: we retry
   * after a short random delay, widened after each split in a row, starting with a probe that
   * needs pre-vote grants. Timing only: votes and terms follow the usual rules.
   */
  private checkElectionLost(): void {
    if (this.splitRetry) return;
    // Members that may still grant: those we heard from when the candidacy began (a member silent
    // since then is likely down: 3 of 5 left cannot wait for the other two); every member when we
    // knew of none.
    let pending = 0;
    for (const pid of this.peers.keys()) {
      if (pid === this.id || this.votes.has(pid) || this.emptyVotes.has(pid) || this.refusals.has(pid)) continue;
      if (this.electorate.size === 0 || this.electorate.has(pid)) pending++;
    }
    const votes = this.votes.size + pending;
    if (votes >= this.qn || votes + this.emptyVotes.size >= this.csz) return;
    // Closed: late answers count for nothing, and we no longer veto probes as an open candidacy.
    if (this.voteInbox) this.host.unsubscribe(this.voteInbox);
    this.voteInbox = '';
    if (this.outvotedByLog) {
      // Lost to a better log (or a live leader): retrying cannot win while our log stays as it is,
      // and every vote request restarts the election timers of 2.9.10 voters (they do so even for
      // one they refuse), so retries within their longest election timeout would keep the members
      // that hold the log from ever campaigning (a fresh member with an empty log, the group
      // leaderless for good). We wait as a follower for longer than that timeout, still voting.
      const { electionTimeoutMinMs: min, electionTimeoutMaxMs: max } = this.timing;
      const quiet = max + this.randomBetween(0, max - min);
      this.switchToFollower('');
      this.quietUntil = this.env.now() + quiet;
      this.resetElect(quiet);
      this.debug(`election at term ${this._term} lost to a better log (refused by ${[...this.refusals].join(',')}): no vote request for ${quiet} ms`);
      return;
    }
    this.splitRounds++;
    const widen = 2 ** Math.min(this.splitRounds - 1, 3);
    const delay = Math.min(this.timing.electionTimeoutMinMs, widen * this.campaignTimeout());
    this.splitRetry = true;
    this.resetElect(delay);
    this.debug(`election at term ${this._term} lost (${this.votes.size} votes, refused by ${[...this.refusals].join(',')}): probing again in ${delay} ms`);
  }

  protected switchToLeader(): void {
    if (this._state === 'closed') return;
    this.lxfer = false;
    this.probing = false;
    this.goneLeaderUntil = 0;
    this.updateLeader(this.id);
    this._state = 'leader';
    if (this.voteInbox) {
      this.host.unsubscribe(this.voteInbox);
      this.voteInbox = '';
    }
    for (const p of this.peers.values()) p.match = 0;
    this.host.subscribe(this.proposalSubject, 'proposal');
    this.host.subscribe(this.removePeerSubject, 'remove-peer');
    const now = this.env.now();
    this.lastStoreAt = now;
    this.nextHeartbeatAt = now + this.timing.heartbeatMs;
    this.nextLostQuorumCheckAt = now + this.timing.lostQuorumMs;
    this.leaderReady = false;
    this.debug(`leader for term ${this._term}`);
    this.host.stateChanged();
    // The peer state doubles as the no-op that lets us commit earlier terms.
    this.appendAndSend([{ type: EntryType.PeerState, data: encodePeerState(this.currentPeerState()) }], 0);
    this.aflr = this.pindex;
    this.maybeSignalLeader();
  }

  protected switchToFollower(newLeader: string): void {
    if (this._state === 'closed') return;
    const was = this._state;
    this.aflr = 0;
    this.lxfer = false;
    for (const p of this.peers.values()) p.match = 0;
    this._state = 'follower';
    this.probing = false;
    this.splitRetry = false;
    this.updateLeader(newLeader);
    this.resetElectionTimeout();
    if (this.voteInbox) {
      this.host.unsubscribe(this.voteInbox);
      this.voteInbox = '';
    }
    if (was === 'leader') {
      this.leaderReady = false;
      this.host.unsubscribe(this.proposalSubject);
      this.host.unsubscribe(this.removePeerSubject);
      this.runs.clear();
      this.abandonProposals();
      this.host.leaderSignal(false, this._term);
    }
    this.host.stateChanged();
  }

  protected updateLeader(newLeader: string): void {
    const wasLeader = this._leader === this.id;
    if (newLeader !== '') {
      this.hadLeader = true;
      this.splitRounds = 0;
      this.quietUntil = 0;
    }
    if (newLeader !== this._leader) {
      this.leaderContactAt = 0;
      if (newLeader !== '') this.transferTarget = '';
    }
    this._leader = newLeader;
    // Followers only track the leader; a (former) leader keeps its view.
    if (newLeader !== this.id && !wasLeader) {
      for (const [pid, p] of this.peers) {
        p.li = 0;
        if (pid !== newLeader) p.lastSeen = 0;
      }
    }
  }

  protected lostQuorum(now: number): boolean {
    let n = 0;
    for (const [pid, p] of this.peers) {
      if (pid === this.id || (p.lastSeen > 0 && now - p.lastSeen < this.timing.lostQuorumMs)) {
        if (++n >= this.qn) return false;
      }
    }
    return true;
  }

  protected maybeSignalLeader(): void {
    if (this.aflr > 0 && this._applied >= this.aflr && this._state === 'leader' && !this.leaderReady) {
      this.aflr = 0;
      this.leaderReady = true;
      this.host.leaderSignal(true, this._term);
      this.host.stateChanged();
    }
  }

  /** Step down, transferring leadership to `preferred` (or any healthy peer). */
  stepDown(preferred?: string): void {
    if (this._state !== 'leader') throw new RaftError('not_leader');
    this.transferAndStepDown(preferred ?? '');
  }

  protected transferAndStepDown(preferred: string): void {
    const now = this.env.now();
    // A transfer target must be healthy and hold everything we have (as
    // acknowledged): a lagging target would need a catch-up first, miss the
    // transfer entry or lose the election it is asked to win.
    const caughtUp = (pid: string): boolean => {
      const p = this.peers.get(pid);
      return !!p && pid !== this.id && p.lastSeen > 0 && now - p.lastSeen < this.timing.healthyPeerMs && p.li >= this.pindex;
    };
    let target = preferred && caughtUp(preferred) ? preferred : '';
    if (preferred && !target) this.warn(`leader transfer: preferred peer ${preferred} is not caught up, choosing another`);
    if (!target) {
      for (const pid of this.peers.keys()) {
        if (caughtUp(pid)) {
          target = pid;
          break;
        }
      }
    }
    if (this.queue.length > 0) this.flushQueue();
    if (target) {
      this.debug(`transferring leadership to ${target}`);
      this.appendAndSend([{ type: EntryType.LeaderTransfer, data: encodePeerId(target) }], 0);
    }
    this.switchToFollower('');
  }

  /** Start an election after a short random delay (NRG Campaign). */
  /**
   * Campaign after a random campaign timeout (NRG Campaign), or within `withinMs` when given (a
   * bootstrapping group lets one agreed member go first, so the first election of a fresh group
   * does not wait the random timeout; see jetstream/cluster/js-cluster.ts). Timing only: the
   * candidacy itself is the ordinary one.
   */
  campaign(withinMs?: number): void {
    if (this._state === 'leader') throw new RaftError('already_leader');
    if (this._state === 'closed') throw new RaftError('closed');
    this.forceCampaign = true;
    this.resetElect(withinMs === undefined ? this.campaignTimeout() : Math.max(0, withinMs));
  }

  /**
   * The transport reports `peerId`'s server gone (its last route closed: a kill -9 does that at
   * once). When it is our leader we stop counting on it: we no longer refuse other candidates
   * for its sake, and after a short random delay (not the election timeout) we probe. Our probes
   * collect pre-votes and we campaign only once a quorum would vote for us, so a leader that the
   * others still hear (a route flap between it and us alone) is not disturbed; until a leader is
   * heard we retry at short intervals for at most the minimum election timeout.
   */
  peerGone(peerId: string): void {
    if (this._state !== 'follower' || peerId === this.id || this._leader !== peerId) return;
    const p = this.peers.get(peerId);
    if (p) p.lastSeen = 0;
    this.leaderContactAt = 0;
    const now = this.env.now();
    this.goneLeaderUntil = now + this.timing.electionTimeoutMinMs;
    if (this.lxfer) return;
    const delay = this.randomBetween(this.timing.goneLeaderDelayMinMs, this.timing.goneLeaderDelayMaxMs);
    if (now + delay < this.electionDeadline) this.resetElect(delay);
    this.debug(`leader ${peerId} reported gone: probing in ${delay} ms`);
  }

  /** Start an election almost at once (NRG CampaignImmediately). */
  campaignImmediately(): void {
    if (this._state === 'leader') throw new RaftError('already_leader');
    if (this._state === 'closed') throw new RaftError('closed');
    this.initializing = false;
    this.forceCampaign = true;
    this.resetElect(this.timing.campaignTimeoutMinMs / 2);
  }
}
