// NRG subjects and identifiers (server/raft.go: raftVoteSubj, raftAppendSubj, newInbox, ...).

import { createHash } from 'node:crypto';
import { sha256 } from '../core/sha256.js';
import { ID_LEN } from './types.js';

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = 62;

/**
 * Peer id of a server: first 8 bytes of SHA-256(server name), each byte
 * mapped to DIGITS[b % 62] (same as nats-server's route/system hash).
 */
export function peerIdForServerName(serverName: string): string {
  const sum = sha256(serverName);
  let s = '';
  for (let i = 0; i < ID_LEN; i++) s += DIGITS[sum[i] % BASE];
  return s;
}

/** 8 base62 chars from a caller-supplied uniform random source in [0,1). */
export function randomToken(random: () => number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += DIGITS[Math.floor(random() * BASE) % BASE];
  return s;
}

export const voteSubject = (group: string): string => `$NRG.V.${group}`;
export const appendEntrySubject = (group: string): string => `$NRG.AE.${group}`;
export const proposalSubject = (group: string): string => `$NRG.P.${group}`;
export const removePeerSubject = (group: string): string => `$NRG.RP.${group}`;
/** Reply inbox for vote responses and AE responses: `$NRG.R.<8 base62>`. */
export const replyInbox = (token: string): string => `$NRG.R.${token}`;
/** Catch-up inbox a lagging follower asks the leader to stream to. */
export const catchupInbox = (token: string): string => `$NRG.CR.${token}`;

/**
 * Stream / consumer group names: `S-R<replicas><F|M>-<8-char hash>` and
 * `C-R...`; the hash is peerIdForServerName-style over a fresh unique name.
 */
export function groupName(kind: 'S' | 'C', replicas: number, storage: 'F' | 'M', unique: string): string {
  return `${kind}-R${replicas}${storage}-${peerIdForServerName(unique)}`;
}

export const META_GROUP = '_meta_';

// A candidate's vote inbox tells voters whether it reads the "empty log"
// flag of a vote response. NRG 2.9.10 reads a grant only when the flag byte
// is exactly 1 (a grant with the empty bit set reads as a refusal), newer
// servers read bit 0 = granted, bit 1 = empty. Our candidates name their vote
// inbox `$NRG.R.<2 random><6 check>` where the check characters are a hash
// of (group, candidate, term, random part); a voter that recognises the
// check sends the empty bit, to anyone else a grant is the plain byte 1.
// A random 2.9.10 inbox passes the check with probability 62^-6.

function voteInboxCheck(group: string, candidate: string, term: number, rnd: string, kind = ''): string {
  const sum = createHash('sha256').update(`${group}\u0000${candidate}\u0000${term}\u0000${rnd}${kind}`).digest();
  let s = '';
  for (let i = 0; i < 6; i++) s += DIGITS[sum[i] % BASE];
  return s;
}

/** Vote inbox of one candidacy of ours (see above). */
export function candidateVoteInbox(group: string, candidate: string, term: number, random: () => number): string {
  const rnd = randomToken(random).slice(0, 2);
  return replyInbox(rnd + voteInboxCheck(group, candidate, term, rnd));
}

/** True when `reply` is the vote inbox of a candidate that reads the empty flag (one of ours). */
export function readsEmptyVoteFlag(reply: string, group: string, candidate: string, term: number): boolean {
  if (reply.length !== 15 || !reply.startsWith('$NRG.R.')) return false;
  const rnd = reply.slice(7, 9);
  return reply.slice(9) === voteInboxCheck(group, candidate, term, rnd);
}

// A probe (vote request at the candidate's current term, sent before it raises the term) goes
// out with an inbox whose check characters are salted differently. A voter of ours that
// recognises it answers as a pre-vote: "granted" means it would vote for that candidate at the
// next term; it records nothing and changes no term. Anyone else (NRG) sees an ordinary inbox
// and answers a same-term vote request, as it did before.

/** Vote inbox of one probe of ours. */
export function probeVoteInbox(group: string, candidate: string, term: number, random: () => number): string {
  const rnd = randomToken(random).slice(0, 2);
  return replyInbox(rnd + voteInboxCheck(group, candidate, term, rnd, '\u0000probe'));
}

/** True when `reply` is the inbox of a probe of ours (see probeVoteInbox). */
export function isProbeVoteInbox(reply: string, group: string, candidate: string, term: number): boolean {
  if (reply.length !== 15 || !reply.startsWith('$NRG.R.')) return false;
  const rnd = reply.slice(7, 9);
  return reply.slice(9) === voteInboxCheck(group, candidate, term, rnd, '\u0000probe');
}
