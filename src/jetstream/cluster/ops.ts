// Entry op codes: the first byte of every EntryNormal payload in the meta, stream and
// consumer raft groups (nats-server's entryOp). One enum shared by all three groups; the
// byte values are part of the on-disk/on-wire format and must never be renumbered.

export const EntryOp = {
  // Meta group.
  assignStreamOp: 0,
  assignConsumerOp: 1,
  removeStreamOp: 2,
  removeConsumerOp: 3,
  // Stream group.
  streamMsgOp: 4,
  purgeStreamOp: 5,
  deleteMsgOp: 6,
  // Consumer group.
  updateDeliveredOp: 7,
  updateAcksOp: 8,
  // Meta: a consumer assignment compressed with S2.
  assignCompressedConsumerOp: 9,
  // Consumer: a filtered consumer skipped a stream sequence.
  updateSkipOp: 10,
  // Meta.
  updateStreamOp: 11,
  // Consumer: pull requests waiting / done.
  addPendingRequest: 12,
  removePendingRequest: 13,
  // Stream (proposals and catchup): S2 block of a stream message.
  compressedStreamMsgOp: 14,
  // Catchup: a run of deleted sequences.
  deleteRangeOp: 15,
  // Stream: atomic batch publish.
  batchMsgOp: 16,
  batchCommitMsgOp: 17,
  // Consumer: reset to a starting sequence.
  resetSeqOp: 18,
} as const;

export type EntryOp = (typeof EntryOp)[keyof typeof EntryOp];

/** The ops a meta-group EntryNormal may carry. */
export type MetaOp =
  | typeof EntryOp.assignStreamOp
  | typeof EntryOp.assignConsumerOp
  | typeof EntryOp.removeStreamOp
  | typeof EntryOp.removeConsumerOp
  | typeof EntryOp.assignCompressedConsumerOp
  | typeof EntryOp.updateStreamOp;

const NAMES: string[] = [];
for (const [name, v] of Object.entries(EntryOp)) NAMES[v] = name;

/** nats-server's name of an op byte, or `unknown(<n>)`. */
export function entryOpName(op: number): string {
  return NAMES[op] ?? `unknown(${op})`;
}

export function isMetaOp(op: number): op is MetaOp {
  return op === EntryOp.assignStreamOp || op === EntryOp.assignConsumerOp || op === EntryOp.removeStreamOp ||
    op === EntryOp.removeConsumerOp || op === EntryOp.assignCompressedConsumerOp || op === EntryOp.updateStreamOp;
}

export function isStreamAssignmentOp(op: number): boolean {
  return op === EntryOp.assignStreamOp || op === EntryOp.removeStreamOp || op === EntryOp.updateStreamOp;
}

export function isConsumerAssignmentOp(op: number): boolean {
  return op === EntryOp.assignConsumerOp || op === EntryOp.removeConsumerOp || op === EntryOp.assignCompressedConsumerOp;
}
