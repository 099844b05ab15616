// Shared state of one NRG group member's Raft core, and what every layer of
// the core uses: status, election-timer and term/vote persistence helpers,
// logging. The layers build on it in one chain, each in its own module:
//   RaftCoreBase (here) <- RaftCoreMembership (core-membership.ts)
//     <- RaftCoreElections (core-elections.ts) <- RaftCore (core.ts).
// The state lives here (one object, one owner); the layers only hold
// behaviour. A layer calls into a later one through abstract declarations.

import {
  type CoreConfig,
  type CoreStatus,
  DEFAULT_TIMING,
  type PeerProgress,
  type RaftEnv,
  type RaftHost,
  type RaftTiming,
  type MembershipChange,
  type FollowerCatchup,
} from './core-types.js';
import { LeaderCatchup } from './core-catchup.js';
import { appendEntrySubject, proposalSubject, randomToken, removePeerSubject, replyInbox, voteSubject } from './subjects.js';
import type { AppendEntry, Entry, RaftStateName } from './types.js';

export abstract class RaftCoreBase {
  readonly id: string;
  readonly group: string;
  readonly timing: RaftTiming;
  readonly voteSubject: string;
  readonly aeSubject: string;
  readonly proposalSubject: string;
  readonly removePeerSubject: string;
  /** Our AE-response inbox (fixed for the node's life). */
  readonly aeReply: string;
  protected readonly env: RaftEnv;
  protected readonly host: RaftHost;
  protected readonly managed: boolean;

  protected _state: RaftStateName = 'follower';
  protected _term = 0;
  protected _vote = '';
  protected _leader = '';
  protected pterm = 0;
  protected pindex = 0;
  protected _commit = 0;
  protected _applied = 0;
  protected snapIndex = 0;
  protected snapTerm = 0;
  protected durable = 0;
  protected readonly peers = new Map<string, PeerProgress>();
  protected csz = 1;
  protected qn = 1;
  protected readonly removed = new Map<string, number>();
  protected membChange: MembershipChange | null = null;
  protected observer: boolean;
  protected initializing!: boolean;
  protected hadLeader = false;
  /** Recovery lost possibly-acknowledged state: vote as an empty log, never campaign, until a leader caught us up. */
  protected stateLost: boolean;
  /** Leader term for which "our commit is ahead of the leader's log" was reported (0 = none). */
  protected commitAheadTerm = 0;

  protected electionDeadline = 0;
  /** Leader transfer target mode: AEs do not push our election timer back. */
  protected lxfer = false;
  /**
   * Pre-vote by probe (NRG has no pre-vote message): the current vote inbox
   * belongs to a vote request sent at our *current* term, only to learn
   * whether a quorum is reachable before we raise the term.
   */
  protected probing = false;
  /** The next candidacy skips the probe (leader transfer target, campaign() calls). */
  protected forceCampaign = false;
  /** An empty-log node skips every other chance to campaign. */
  protected emptyDefer = false;
  /** env.now() of the last live AE from the current leader (0 = none). */
  protected leaderContactAt = 0;
  /**
   * Our leader's server was reported gone (peerGone) and no leader has been heard since: until
   * this env time, election timers are short and every candidacy starts with a probe that must
   * collect pre-vote grants from a quorum (0 = not in that window).
   */
  protected goneLeaderUntil = 0;
  /** The current probe counts pre-vote grants (goneLeaderUntil window), not mere answers. */
  protected probeWantsGrants = false;
  protected readonly probeGrants = new Set<string>();
  /** Members that refused our current candidacy (a split vote is known once no quorum is left). */
  protected readonly refusals = new Set<string>();
  /** Members heard from within the minimum election timeout when our current candidacy began. */
  protected readonly electorate = new Set<string>();
  /** Our last candidacy was lost to a split vote: the retry starts with a probe that needs pre-vote grants. */
  protected splitRetry = false;
  /** Candidacies lost in a row to split votes since a leader was last heard (widens the retry delay). */
  protected splitRounds = 0;
  /**
   * A member refused our current candidacy after moving up to its term: it holds a better log (NRG
   * 2.9.10), or follows a live leader (ours). Once the candidacy is lost we keep quiet (quietUntil).
   */
  protected outvotedByLog = false;
  /**
   * Until this env time we send no vote request (0 = none): 2.9.10 voters restart their election
   * timer at every vote request, even one they refuse, so a member whose log cannot win must leave
   * the members holding a better log a whole NRG election timeout to campaign.
   */
  protected quietUntil = 0;
  /** Peer named by the latest EntryLeaderTransfer we stored: its vote requests are not refused as disruptive. */
  protected transferTarget = '';
  /** Index of a new leader's first entry; leadership is signalled once it is applied. */
  protected aflr = 0;
  protected leaderReady = false;
  protected voteInbox = '';
  protected readonly votes = new Set<string>();
  protected readonly emptyVotes = new Set<string>();
  protected catchup: FollowerCatchup | null = null;
  protected readonly runs: LeaderCatchup;

  /** Follower: reply subject waiting for a durable acknowledgement. */
  protected ackReply = '';
  protected ackTarget = 0;
  protected lastAckIndex = -1;

  protected lastStoreAt = 0;
  protected nextHeartbeatAt = 0;
  protected nextLostQuorumCheckAt = 0;
  protected scaleUpAt = 0;
  protected lastQuorumSignalAt = 0;
  protected heartbeatAfterCommit = false;

  // Proposals queued on the leader until flush() (or a full batch).
  protected queue: Entry[] = [];
  protected queueBytes = 0;
  protected queueSeqEnd = 0;
  protected forwardedReplies: string[] = [];
  protected nextPropSeq = 1;
  protected committedPropSeq = 0;
  /** [index, propSeqEnd] pairs of leader batches not yet committed, in index order. */
  protected propMarks: number[] = [];

  /** Recently stored AEs by index (pending apply); bounded. */
  protected readonly cache = new Map<number, AppendEntry>();
  protected commitScratch: number[] = [];

  constructor(cfg: CoreConfig, env: RaftEnv, host: RaftHost) {
    this.id = cfg.id;
    this.group = cfg.group;
    this.env = env;
    this.host = host;
    this.timing = { ...DEFAULT_TIMING, ...cfg.timing };
    this.managed = cfg.managed ?? false;
    this.observer = cfg.observer ?? false;
    this.stateLost = cfg.stateLost ?? false;
    this.voteSubject = voteSubject(cfg.group);
    this.aeSubject = appendEntrySubject(cfg.group);
    this.proposalSubject = proposalSubject(cfg.group);
    this.removePeerSubject = removePeerSubject(cfg.group);
    this.aeReply = replyInbox(randomToken(env.random));
    this.runs = new LeaderCatchup(this.timing, host);
  }

  /** Stop taking part (core.ts); a failed write closes the node. */
  abstract close(): void;

  // ------------------------------------------------------------------ status

  get state(): RaftStateName {
    return this._state;
  }
  get term(): number {
    return this._term;
  }
  get vote(): string {
    return this._vote;
  }
  /** Current leader id as known here ('' = none). */
  get leader(): string {
    return this._leader;
  }
  get commit(): number {
    return this._commit;
  }
  get applied(): number {
    return this._applied;
  }
  get lastIndex(): number {
    return this.pindex;
  }
  get lastTerm(): number {
    return this.pterm;
  }
  get durableIndex(): number {
    return this.durable;
  }
  get snapshotIndex(): number {
    return this.snapIndex;
  }
  get clusterSize(): number {
    return this.csz;
  }
  get quorumNeeded(): number {
    return this.qn;
  }
  get isObserver(): boolean {
    return this.observer;
  }
  /** Leader whose first entry has been applied (what upper layers call "leader"). */
  get isLeader(): boolean {
    return this._state === 'leader' && this.leaderReady;
  }
  get isCatchingUp(): boolean {
    return this.catchup !== null;
  }
  get catchupInbox(): string {
    return this.catchup?.inbox ?? '';
  }
  get currentVoteInbox(): string {
    return this.voteInbox;
  }
  get membershipChangeInProgress(): boolean {
    return this.membChange !== null;
  }
  /** A probe (vote request at the current term) is out: we campaign once a quorum answers. */
  get isProbing(): boolean {
    return this.probing;
  }
  /** Recovery lost state and no leader has caught us up yet. */
  get hasLostState(): boolean {
    return this.stateLost;
  }
  get hadPreviousLeader(): boolean {
    return this.hadLeader;
  }
  get leaderCatchupsRunning(): number {
    return this.runs.size;
  }
  peerIds(): string[] {
    return [...this.peers.keys()];
  }
  /** Milliseconds until the election timer fires (negative when overdue). */
  electionTimerRemainingMs(): number {
    return this.electionDeadline - this.env.now();
  }

  /** Earliest time (env clock) at which tick() has something to do. */
  nextDeadline(): number {
    if (this._state === 'closed') return Infinity;
    if (this._state !== 'leader') return this.electionDeadline;
    let d = Math.min(this.nextHeartbeatAt, this.nextLostQuorumCheckAt);
    const r = this.runs.nextDeadline();
    if (r < d) d = r;
    return d;
  }

  /** Quorum as seen from here: self plus peers heard from recently. */
  hasQuorum(): boolean {
    const now = this.env.now();
    let n = 0;
    for (const [pid, p] of this.peers) {
      if (pid === this.id || (p.lastSeen > 0 && now - p.lastSeen < this.timing.lostQuorumMs)) {
        if (++n >= this.qn) return true;
      }
    }
    return false;
  }

  status(): CoreStatus {
    const now = this.env.now();
    const isLeader = this._state === 'leader';
    const peers = [];
    for (const [pid, p] of this.peers) {
      const self = pid === this.id;
      const seen = self ? now : p.lastSeen;
      const li = self ? this.pindex : p.li;
      peers.push({
        id: pid,
        self,
        lastSeenAgoMs: seen > 0 ? now - seen : null,
        lastIndex: li,
        lag: isLeader && !self ? Math.max(0, this.pindex - li) : 0,
        current: self || (seen > 0 && now - seen < 2 * this.timing.heartbeatMs),
      });
    }
    return {
      id: this.id,
      group: this.group,
      state: this._state,
      leader: this._leader,
      term: this._term,
      vote: this._vote,
      pterm: this.pterm,
      pindex: this.pindex,
      commit: this._commit,
      applied: this._applied,
      snapshotIndex: this.snapIndex,
      durableIndex: this.durable,
      clusterSize: this.csz,
      quorum: this.qn,
      observer: this.observer,
      catchingUp: this.catchup !== null,
      leaderReady: this.leaderReady,
      membershipChangeInProgress: this.membChange !== null,
      stateLost: this.stateLost,
      commitAheadOfLeader: this.commitAheadTerm !== 0,
      peers,
    };
  }

  protected randomBetween(min: number, max: number): number {
    return min + Math.floor(this.env.random() * (max - min));
  }
  protected resetElectionTimeout(): void {
    const now = this.env.now();
    if (this.goneLeaderUntil > now) {
      // Retries after a lost leader: long enough for a competing candidacy to win and be heard.
      // A candidacy waits twice as long as a probe: its round trip holds two term/vote writes
      // (ours, the voter's), which a loaded disk makes slow; a lost one retries early anyway
      // (checkElectionLost).
      const max = this.timing.goneLeaderDelayMaxMs * (this._state === 'candidate' ? 2 : 1);
      this.electionDeadline = now + this.randomBetween(2 * max, 4 * max);
      return;
    }
    this.goneLeaderUntil = 0;
    this.electionDeadline = now + this.randomBetween(this.timing.electionTimeoutMinMs, this.timing.electionTimeoutMaxMs);
  }
  protected resetElect(ms: number): void {
    this.electionDeadline = this.env.now() + ms;
  }
  protected campaignTimeout(): number {
    return this.randomBetween(this.timing.campaignTimeoutMinMs, this.timing.campaignTimeoutMaxMs);
  }

  // ------------------------------------------------------------------ persistence helpers

  protected persistTermVote(): boolean {
    if (this.host.persistTermVote(this._term, this._vote)) return true;
    this.failWrite('term and vote');
    return false;
  }

  protected failWrite(what: string): void {
    if (this._state === 'closed') return;
    this.close();
    this.host.writeFailed(what);
  }

  // ------------------------------------------------------------------ diagnostics

  protected debug(msg: string): void {
    this.host.log?.('debug', `RAFT [${this.id} - ${this.group}] ${msg}`);
  }
  protected warn(msg: string): void {
    this.host.log?.('warn', `RAFT [${this.id} - ${this.group}] ${msg}`);
  }
}
