// An in-memory file system for running the real RaftNode (WAL, meta files)
// inside the deterministic simulator. It models what a crash keeps:
// * file content is durable only up to the last completed fdatasync/fsync
//   of that file (writes live in the "page cache" until then);
// * names (create, rename, unlink) are durable only once their directory
//   has been fsync'ed;
// * on a crash, each file keeps its durable content, plus sometimes a byte
//   prefix of what was appended after it (the OS wrote some pages back), so
//   torn records appear as they do on real disks.
// Asynchronous calls complete through the simulator's event queue; a crash
// drops the ones still in flight.

import { dirname } from 'node:path';
import type { RaftFs } from '../runtime.js';
import type { Prng } from './prng.js';

interface Inode {
  data: Buffer;
  durable: Buffer;
}

interface Fd {
  path: string;
  inode: Inode | null;
  pos: number;
}

type Cb = (err: NodeJS.ErrnoException | null) => void;

function enoent(path: string): NodeJS.ErrnoException {
  const e = new Error(`ENOENT: no such file or directory, '${path}'`) as NodeJS.ErrnoException;
  e.code = 'ENOENT';
  return e;
}

export class SimFs {
  private files = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private dirs = new Set<string>(['/']);
  private fds = new Map<number, Fd>();
  private nextFd = 3;
  private generation = 0;
  /** fsync calls completed (diagnostics). */
  syncs = 0;

  constructor(
    /** Runs fn after delayMs of simulated time. */
    private readonly schedule: (delayMs: number, fn: () => void) => void,
    /** Latency of one fsync. */
    private readonly syncLatency: () => number,
  ) {}

  // ---------------------------------------------------------------- faults

  /** Power loss: keep what is durable (names and content), maybe a prefix of later appends. */
  crash(rng: Prng): void {
    this.generation++;
    this.fds.clear();
    const files = new Map<string, Inode>();
    for (const [path, inode] of this.durableNames) {
      const d = inode.durable;
      let data = Buffer.from(d);
      if (inode.data.length > d.length && inode.data.subarray(0, d.length).equals(d) && rng.chance(0.5)) {
        data = Buffer.from(inode.data.subarray(0, d.length + rng.int(0, inode.data.length - d.length)));
      }
      const n: Inode = { data, durable: Buffer.from(data) };
      files.set(path, n);
    }
    this.files = files;
    this.durableNames = new Map(files);
  }

  /** Process death (kill -9): the kernel keeps every write and name; nothing in flight completes. */
  kill(rng: Prng): void {
    for (const inode of this.files.values()) inode.durable = Buffer.from(inode.data);
    this.durableNames = new Map(this.files);
    this.crash(rng);
  }

  /** Cuts a file to `len` bytes, on disk (damage while the server is down). */
  cut(path: string, len: number): boolean {
    const inode = this.files.get(path);
    if (!inode || len >= inode.data.length) return false;
    inode.data = Buffer.from(inode.data.subarray(0, len));
    inode.durable = Buffer.from(inode.durable.subarray(0, len));
    return true;
  }

  /** Removes a file, on disk (damage while the server is down). */
  remove(path: string): boolean {
    this.durableNames.delete(path);
    return this.files.delete(path);
  }

  /** Flips one byte of a file, on disk (bit rot). */
  corrupt(path: string, offset: number): boolean {
    const inode = this.files.get(path);
    if (!inode || offset >= inode.data.length) return false;
    inode.data[offset] ^= 0x5a;
    if (offset < inode.durable.length) inode.durable[offset] ^= 0x5a;
    return true;
  }

  /** Files (paths) under `dir`, recursively, sorted. */
  list(dir: string): string[] {
    const pre = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.files.keys()].filter((p) => p.startsWith(pre)).sort();
  }

  /** What a crash right now would leave of `path` (undefined: the file would not exist). */
  durableContent(path: string): Buffer | undefined {
    return this.durableNames.get(path)?.durable;
  }

  /** Paths that would survive a crash right now, under `dir`, sorted. */
  durableList(dir: string): string[] {
    const pre = dir.endsWith('/') ? dir : `${dir}/`;
    return [...this.durableNames.keys()].filter((p) => p.startsWith(pre)).sort();
  }

  size(path: string): number {
    return this.files.get(path)?.data.length ?? -1;
  }

  // ---------------------------------------------------------------- sync API

  private fd(fd: number): Fd {
    const f = this.fds.get(fd);
    if (!f) {
      const e = new Error(`EBADF: bad file descriptor ${fd}`) as NodeJS.ErrnoException;
      e.code = 'EBADF';
      throw e;
    }
    return f;
  }

  private file(fd: number): Inode {
    const f = this.fd(fd);
    if (!f.inode) throw new Error('EISDIR');
    return f.inode;
  }

  private write(inode: Inode, buf: Uint8Array, pos: number): number {
    const end = pos + buf.length;
    if (end > inode.data.length) {
      const grown = Buffer.alloc(end);
      inode.data.copy(grown);
      inode.data = grown;
    }
    inode.data.set(buf, pos);
    return buf.length;
  }

  private syncDir(dir: string): void {
    const pre = dir.endsWith('/') ? dir : `${dir}/`;
    const under = (p: string): boolean => p.startsWith(pre) && !p.slice(pre.length).includes('/');
    for (const p of [...this.durableNames.keys()]) if (under(p) && !this.files.has(p)) this.durableNames.delete(p);
    for (const [p, inode] of this.files) if (under(p)) this.durableNames.set(p, inode);
  }

  private syncFd(f: Fd): void {
    if (f.inode) f.inode.durable = Buffer.from(f.inode.data);
    else this.syncDir(f.path);
    this.syncs++;
  }

  readonly api = {
    mkdirSync: (path: string): undefined => {
      for (let p = path; p !== '/' && p !== '.' && !this.dirs.has(p); p = dirname(p)) this.dirs.add(p);
      return undefined;
    },
    existsSync: (path: string): boolean => this.files.has(path) || this.dirs.has(path),
    openSync: (path: string, flags: string): number => {
      let inode: Inode | null;
      if (this.dirs.has(path)) inode = null;
      else if (flags.startsWith('w')) {
        if (!this.dirs.has(dirname(path))) throw enoent(path);
        if (flags.includes('x') && this.files.has(path)) throw Object.assign(new Error(`EEXIST: ${path}`), { code: 'EEXIST' });
        inode = this.files.get(path) ?? null;
        if (inode) inode.data = Buffer.alloc(0);
        else this.files.set(path, (inode = { data: Buffer.alloc(0), durable: Buffer.alloc(0) }));
      } else {
        inode = this.files.get(path) ?? null;
        if (!inode) throw enoent(path);
      }
      const fd = this.nextFd++;
      this.fds.set(fd, { path, inode, pos: 0 });
      return fd;
    },
    closeSync: (fd: number): void => {
      this.fds.delete(fd);
    },
    readSync: (fd: number, buf: Uint8Array, off: number, len: number, pos: number): number => {
      const inode = this.file(fd);
      const n = Math.max(0, Math.min(len, inode.data.length - pos));
      buf.set(inode.data.subarray(pos, pos + n), off);
      return n;
    },
    writeSync: (fd: number, buf: Uint8Array, off = 0, len = buf.length - off, pos?: number | null): number => {
      const f = this.fd(fd);
      const at = pos ?? f.pos;
      const n = this.write(this.file(fd), buf.subarray(off, off + len), at);
      if (pos === undefined || pos === null) f.pos = at + n;
      return n;
    },
    writevSync: (fd: number, bufs: Uint8Array[], pos: number): number => {
      const inode = this.file(fd);
      let n = 0;
      for (const b of bufs) n += this.write(inode, b, pos + n);
      return n;
    },
    ftruncateSync: (fd: number, len = 0): void => {
      const inode = this.file(fd);
      inode.data = Buffer.from(inode.data.subarray(0, len));
    },
    truncateSync: (path: string, len = 0): void => {
      const inode = this.files.get(path);
      if (!inode) throw enoent(path);
      inode.data = Buffer.from(inode.data.subarray(0, len));
    },
    unlinkSync: (path: string): void => {
      if (!this.files.delete(path)) throw enoent(path);
    },
    renameSync: (from: string, to: string): void => {
      const inode = this.files.get(from);
      if (!inode) throw enoent(from);
      this.files.delete(from);
      this.files.set(to, inode);
    },
    readdirSync: (dir: string): string[] => {
      if (!this.dirs.has(dir)) throw enoent(dir);
      const pre = `${dir}/`;
      const names = new Set<string>();
      for (const p of [...this.files.keys(), ...this.dirs]) {
        if (p.startsWith(pre)) {
          const rest = p.slice(pre.length);
          if (rest !== '') names.add(rest.split('/')[0]);
        }
      }
      return [...names].sort();
    },
    readFileSync: (path: string): Buffer => {
      const inode = this.files.get(path);
      if (!inode) throw enoent(path);
      return Buffer.from(inode.data);
    },
    writeFileSync: (path: string, data: Uint8Array): void => {
      const fd = this.api.openSync(path, 'w');
      this.api.writeSync(fd, data, 0, data.length, 0);
      this.api.closeSync(fd);
    },
    rmSync: (path: string, opts?: { recursive?: boolean; force?: boolean }): void => {
      const pre = `${path}/`;
      let found = this.files.delete(path) || this.dirs.has(path);
      this.durableNames.delete(path);
      if (opts?.recursive) {
        for (const p of [...this.files.keys()]) if (p.startsWith(pre)) (this.files.delete(p), this.durableNames.delete(p), (found = true));
        for (const d of [...this.dirs]) if (d === path || d.startsWith(pre)) this.dirs.delete(d);
      }
      if (!found && !opts?.force) throw enoent(path);
    },
    fsyncSync: (fd: number): void => this.syncFd(this.fd(fd)),
    fdatasyncSync: (fd: number): void => this.syncFd(this.fd(fd)),
    fdatasync: (fd: number, cb: Cb): void => this.asyncSync(fd, cb),
    fsync: (fd: number, cb: Cb): void => this.asyncSync(fd, cb),
    open: (path: string, flags: string, cb: (err: NodeJS.ErrnoException | null, fd: number) => void): void => {
      this.later(0, () => {
        try {
          cb(null, this.api.openSync(path, flags));
        } catch (e) {
          cb(e as NodeJS.ErrnoException, -1);
        }
      });
    },
    write: (fd: number, buf: Uint8Array, off: number, len: number, pos: number, cb: (err: NodeJS.ErrnoException | null, n: number) => void): void => {
      this.later(0, () => {
        try {
          cb(null, this.api.writeSync(fd, buf, off, len, pos));
        } catch (e) {
          cb(e as NodeJS.ErrnoException, 0);
        }
      });
    },
    close: (fd: number, cb: Cb): void => {
      this.later(0, () => {
        this.fds.delete(fd);
        cb(null);
      });
    },
    rename: (from: string, to: string, cb: Cb): void => {
      this.later(0, () => {
        try {
          this.api.renameSync(from, to);
          cb(null);
        } catch (e) {
          cb(e as NodeJS.ErrnoException);
        }
      });
    },
  };

  private later(delay: number, fn: () => void): void {
    const gen = this.generation;
    this.schedule(delay, () => {
      if (gen === this.generation) fn();
    });
  }

  private asyncSync(fd: number, cb: Cb): void {
    const f = this.fds.get(fd);
    if (!f) {
      this.later(0, () => cb(Object.assign(new Error('EBADF'), { code: 'EBADF' })));
      return;
    }
    // The fsync covers what was written before it was called.
    const image = f.inode ? Buffer.from(f.inode.data) : null;
    const inode = f.inode;
    const path = f.path;
    this.later(this.syncLatency(), () => {
      if (inode && image) {
        inode.durable = image;
        this.syncs++;
      } else this.syncDir(path);
      cb(null);
    });
  }

  /** The RaftFs view of this file system. */
  get raftFs(): RaftFs {
    return this.api as unknown as RaftFs;
  }
}
