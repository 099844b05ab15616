// Store errors. Messages are nats-server's exact texts (they reach clients in
// PubAck errors, e.g. 10077 "maximum messages exceeded").

export type StoreErrorCode =
  | 'ErrStoreClosed'
  | 'ErrStoreMsgNotFound'
  | 'ErrStoreEOF'
  | 'ErrMaxMsgs'
  | 'ErrMaxBytes'
  | 'ErrMaxMsgsPerSubject'
  | 'ErrMsgTooLarge'
  | 'ErrSequenceMismatch'
  | 'ErrNoAckPolicy'
  | 'ErrStoreOldUpdate'
  | 'ErrCorruptStreamState'
  | 'ErrTooManyResults'
  | 'ErrStoreFailed'
  | 'ErrInvalidSequence'
  | 'ErrStoreRead';

const MESSAGES: Record<StoreErrorCode, string> = {
  ErrStoreClosed: 'store is closed',
  ErrStoreMsgNotFound: 'no message found',
  ErrStoreEOF: 'stream store EOF',
  ErrMaxMsgs: 'maximum messages exceeded',
  ErrMaxBytes: 'maximum bytes exceeded',
  ErrMaxMsgsPerSubject: 'maximum messages per subject exceeded',
  ErrMsgTooLarge: 'message too large',
  ErrSequenceMismatch: 'expected sequence does not match store',
  ErrNoAckPolicy: 'ack policy is none',
  ErrStoreOldUpdate: 'old update ignored',
  ErrCorruptStreamState: 'stream state snapshot is corrupt',
  ErrTooManyResults: 'too many matching results for request',
  ErrStoreFailed: 'store write failed',
  ErrInvalidSequence: 'invalid sequence',
  ErrStoreRead: 'store read failed',
};

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, detail?: string) {
    super(detail ? `${MESSAGES[code]}: ${detail}` : MESSAGES[code]);
    this.name = 'StoreError';
    this.code = code;
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** errno codes of a write the disk refused, not of damaged data: full, quota, too large, I/O error, read-only. */
const WRITE_FAILURE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EROFS']);

/** The store (or a raft log) could not write: its files are as good as they were, the disk is not. */
export function isStorageFailure(err: unknown): boolean {
  if (isStoreError(err, 'ErrStoreFailed')) return true;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && WRITE_FAILURE_CODES.has(code);
}
