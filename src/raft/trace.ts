// Per-append-entry timeline of Raft groups, for measuring how the stages of a replicated write
// overlap across servers (bench/raft-timeline.ts reads it). Off unless TSNATS_RAFT_TRACE names a
// file; TSNATS_RAFT_TRACE_GROUPS limits it to groups whose name starts with that prefix (e.g.
// `S-`: stream groups). Events are per append entry, acknowledgement or apply, never per
// message; when off, each call site costs one boolean test.
//
// A line: `<wall-clock µs> <server> <group> <event> <index> <entries>`. Every process of a test
// cluster appends to the same file (O_APPEND writes of whole buffered lines, flushed every 500 ms
// and at exit), so one file holds the timeline of all servers.

import { appendFileSync } from 'node:fs';

const FILE = process.env.TSNATS_RAFT_TRACE ?? '';
const PREFIX = process.env.TSNATS_RAFT_TRACE_GROUPS ?? '';

/** True when the timeline is being written. */
export const raftTraceOn = FILE !== '';

/** What a node reports: L- events are its own as leader, F- as follower. */
export type RaftTraceEvent =
  | 'L-prop0' // first proposal of a batch queued (index = the batch's index to be)
  | 'L-aeout' // leader stored and sent an append entry
  | 'L-ackin' // leader received a follower's acknowledgement up to index
  | 'F-aein' // follower stored a received append entry
  | 'F-hb' // follower received an append entry without entries (index = its commit)
  | 'durable' // WAL fsync completed up to index
  | 'apply0' // apply of index started
  | 'apply1'; // apply of index finished

let lines: string[] = [];

export function raftTrace(server: string, group: string, ev: RaftTraceEvent, index: number, entries = 0): void {
  if (PREFIX !== '' && !group.startsWith(PREFIX)) return;
  lines.push(`${Math.round((performance.timeOrigin + performance.now()) * 1000)} ${server} ${group} ${ev} ${index} ${entries}`);
  if (lines.length >= 2000) flushRaftTrace();
}

function flushRaftTrace(): void {
  if (lines.length === 0) return;
  const out = lines.join('\n') + '\n';
  lines = [];
  try {
    appendFileSync(FILE, out);
  } catch {
    // A diagnostic only: a full disk or a removed directory must not stop the server.
  }
}

if (raftTraceOn) {
  setInterval(flushRaftTrace, 500).unref();
  process.on('exit', flushRaftTrace);
}
