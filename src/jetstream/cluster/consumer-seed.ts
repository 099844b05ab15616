// Seeding a replicated consumer when its stream is scaled up from one replica (nats-server keeps
// the R1 group and makes its server the preferred leader, which then sends its state to the new
// replicas as a snapshot entry). Until that snapshot is committed, only the old holder has the
// consumer's state; a crash in that window must not let any replica lead (or restart) with a
// state it does not have: acknowledged messages would be redelivered, or ack state lost.
//
// Two durable markers, each in the group's directory before anything else is (the directory is
// built under a temporary name, the marker written and fsync'ed, then renamed into place and the
// parent fsync'ed: after a crash the directory either does not exist or holds its marker):
// * `seed-state` on the old holder: the consumer state its R1 consumer left. A restart takes it
//   instead of rebuilding from the (still empty) raft log. Removed once the snapshot the seed
//   sent is committed: a quorum then holds the state in its log.
// * `awaiting-seed` on a new replica: its raft node is an observer (it votes but never campaigns,
//   so only the seed, or a replica that applied the seed's state, can lead) and it installs no
//   snapshot of its own (one would vouch for an empty state). Removed once it applied a snapshot
//   from the leader (the seed's entry, or a later snapshot sent to catch it up).

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { holdsWitnessCopy } from '../../raft/index.js';
import { createDirWithFileSync, fsyncDirSync } from '../store/durable-fs.js';
import { encodeConsumerState } from '../store/consumer-state-codec.js';
import type { ConsumerState } from '../store/types.js';
import { decodeConsumerSnapshot } from './consumer-snapshot.js';
import type { ConsumerAssignment } from './assignments.js';

const SEED_STATE_FILE = 'seed-state';
const AWAITING_FILE = 'awaiting-seed';

export type SeedRole = { kind: 'seed'; state: ConsumerState } | { kind: 'join' } | undefined;

/**
 * The consumer's group grew from one peer to several: peer-changes.ts (as nats-server) keeps the
 * group, named `C-R1..` when it was placed, and names its one peer the preferred leader. A create
 * names a preferred leader too (placement.ts), of a group named after its own size; its API
 * subject is lost in a meta snapshot, so the name is what tells the two apart.
 */
export function scaledFromOne(ca: Pick<ConsumerAssignment, 'subject' | 'group'>): boolean {
  const p = ca.group.preferred;
  return ca.subject === '' && p !== undefined && ca.group.peers.length > 1 && ca.group.peers.includes(p) &&
    /^C-R1\D/.test(ca.group.name);
}

/**
 * This server's seeding role for the consumer group in `dir`, making it durable before the group
 * starts. `seedState`: the state of the consumer this server ran as R1 (when it seeds the stream).
 * A restart finds the role from the markers; an unreadable `seed-state` throws (the group must not
 * start without the state it seeds). `witnessCopy`: where the group keeps its raft witness copy.
 */
export function prepareSeedRole(dir: string, selfId: string, ca: Pick<ConsumerAssignment, 'subject' | 'group'>, seedState: ConsumerState | undefined,
  witnessCopy?: string): SeedRole {
  if (existsSync(dir)) {
    const seedFile = join(dir, SEED_STATE_FILE);
    if (existsSync(seedFile)) return { kind: 'seed', state: decodeConsumerSnapshot(readFileSync(seedFile)) };
    return existsSync(join(dir, AWAITING_FILE)) ? { kind: 'join' } : undefined;
  }
  if (seedState) {
    // The R1 consumer that ran here since is newer than any log of this group that was here: a
    // copy left by it (a crash while the scale-down removed the group) would make the seed a
    // replica that lost its log, and nobody else has the state. Gone durably before the marker.
    if (witnessCopy !== undefined && existsSync(witnessCopy)) {
      rmSync(witnessCopy, { force: true });
      fsyncDirSync(dirname(witnessCopy));
    }
    createDirWithFileSync(dir, SEED_STATE_FILE, encodeConsumerState(seedState));
    return { kind: 'seed', state: seedState };
  }
  // The group's log was here and its directory was removed: not a new replica of a scale-up but
  // one that lost its log (raft/node.ts finds it through the same copy), as for streams.
  if (witnessCopy !== undefined && holdsWitnessCopy(witnessCopy, ca.group.name)) return undefined;
  if (scaledFromOne(ca) && ca.group.preferred !== selfId) {
    createDirWithFileSync(dir, AWAITING_FILE, Buffer.from('new replica: waiting for the seed state from the leader\n'));
    return { kind: 'join' };
  }
  return undefined;
}

/**
 * The role is over (the seed's snapshot committed / a snapshot applied here). Not fsync'ed: a
 * marker that comes back after a crash only repeats a step (the seed sends its snapshot again, a
 * replica waits for the snapshot its own log replays).
 */
export function clearSeedRole(dir: string, role: 'seed' | 'join'): void {
  rmSync(join(dir, role === 'seed' ? SEED_STATE_FILE : AWAITING_FILE), { force: true });
}
