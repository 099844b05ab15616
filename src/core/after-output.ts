// Work that must not hold up what the current turn writes to sockets.
//
// The server writes its client and route output in a setImmediate after the poll phase
// (server/flush-queue.ts). Background work started in the same turn, even just handed to the
// thread pool (a wake-up that on a busy machine often costs the event loop its core for a while),
// would run before that flush. A setImmediate queued from a setImmediate runs in the check phase of
// the next loop iteration: after this iteration's flush, and without waiting for any I/O.

/** Runs `fn` in the next loop iteration's check phase, after this turn's output has been written. */
export function afterTurnOutput(fn: () => void): void {
  setImmediate(() => setImmediate(fn));
}
