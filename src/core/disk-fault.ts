// Fault injection for tests, off unless a test calls injectDiskFull / injectWriteFault: the writes
// of the raft logs (src/raft/log/wal.ts), of the file stores (src/jetstream/store/filestore.ts) and
// of a new stream's meta files (store-meta.ts, checked-file.ts, the spare directories of
// store-factory.ts) under a given directory fail with ENOSPC, as on a full disk, or with EMFILE, as
// at the open-files limit (the files cannot even be opened); injectDiskFull(undefined) is the
// space coming back. In-process tests aim it at one server by its store directory (or at one
// part of it: its streams directory). Production code never sets it; each write pays one comparison.

const MESSAGES = {
  ENOSPC: 'ENOSPC: no space left on device, write (injected fault)',
  EMFILE: 'EMFILE: too many open files, open (injected fault)',
} as const;

let fullUnder: string | undefined;
let faultCode: keyof typeof MESSAGES = 'ENOSPC';

/** Tests: writes under `dir` fail with ENOSPC from now on (undefined: they succeed again). */
export function injectDiskFull(dir: string | undefined): void {
  injectWriteFault(dir, 'ENOSPC');
}

/** Tests: writes under `dir` fail with `code` from now on (undefined: they succeed again). */
export function injectWriteFault(dir: string | undefined, code: keyof typeof MESSAGES): void {
  fullUnder = dir;
  faultCode = code;
}

/** Throws the injected error when an injected fault covers `dir`. */
export function diskFullFault(dir: string): void {
  if (fullUnder === undefined || !dir.startsWith(fullUnder)) return;
  const e = new Error(MESSAGES[faultCode]) as NodeJS.ErrnoException;
  e.code = faultCode;
  throw e;
}
