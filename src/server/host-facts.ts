// Facts about this process and host that monitoring, INFO and routes read
// while the server runs: resident memory, CPU count, interface addresses.
//
// Node reads them from /proc (or with a socket), so each read needs a free
// file descriptor. A server at its open-files limit (many clients, many
// replicated streams under a low `ulimit -n`) gets EMFILE from
// process.memoryUsage() and os.networkInterfaces(), and those calls used to
// run from timers (STATSZ heartbeat) and route handshakes, where a throw ends
// the process. Here every such read falls back to the last value that was
// read successfully: a monitoring figure a few seconds stale is harmless, a
// crash is not.
import { availableParallelism, cpus, networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

let lastRss = 0;
let lastMemory: NodeJS.MemoryUsage = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
let lastInterfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {};

/** Resident set size in bytes; the last good reading when /proc cannot be opened. */
export function residentBytes(): number {
  try {
    lastRss = process.memoryUsage.rss();
  } catch {
    // EMFILE/ENFILE: keep the previous figure
  }
  return lastRss;
}

/** process.memoryUsage(), or the last good reading when /proc cannot be opened. */
export function memoryUsage(): NodeJS.MemoryUsage {
  try {
    lastMemory = process.memoryUsage();
    lastRss = lastMemory.rss;
  } catch {
    // EMFILE/ENFILE: keep the previous figures
  }
  return lastMemory;
}

// The CPU count does not change while the process runs; os.cpus() returns an
// empty list when /proc/stat cannot be opened, so it is read once, at load.
const cores = cpus().length || availableParallelism();

/** Number of CPUs (what nats-server reports as cores and gomaxprocs). */
export function cpuCount(): number {
  return cores;
}

/** os.networkInterfaces(), or the last good reading when it fails (it opens a socket). */
export function interfaces(): NodeJS.Dict<NetworkInterfaceInfo[]> {
  try {
    lastInterfaces = networkInterfaces();
  } catch {
    // EMFILE/ENFILE: keep the previous list
  }
  return lastInterfaces;
}

// A first reading at start-up, while descriptors are free, so that a server that reaches its limit
// before any monitoring request still reports real figures rather than zeros.
memoryUsage();
residentBytes();
interfaces();
