// Fault injection for tests, off unless a test calls injectDiskFull: the writes of the raft logs
// (src/raft/log/wal.ts), of the file stores (src/jetstream/store/filestore.ts) and of a new
// stream's meta files (store-meta.ts, checked-file.ts, the spare directories of store-factory.ts)
// under a given directory fail with ENOSPC, as on a full disk; injectDiskFull(undefined) is the space coming back.
// In-process tests aim it at one server by its store directory. Production code never sets it;
// each write pays one comparison.

let fullUnder: string | undefined;

/** Tests: writes under `dir` fail with ENOSPC from now on (undefined: they succeed again). */
export function injectDiskFull(dir: string | undefined): void {
  fullUnder = dir;
}

/** Throws ENOSPC when an injected full disk covers `dir`. */
export function diskFullFault(dir: string): void {
  if (fullUnder === undefined || !dir.startsWith(fullUnder)) return;
  const e = new Error(`ENOSPC: no space left on device, write (injected fault)`) as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  throw e;
}
