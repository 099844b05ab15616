// bcrypt password checks off the event loop. bcrypt is slow on purpose (tens to hundreds
// of milliseconds per check at the costs `nats server passwd` uses); run on the event
// loop, every CONNECT with a wrong password would stall every other connection for that
// long. One worker thread (started on first use, unref'd) runs the checks in order.
import type { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { workerThreads } from '../core/lazy-modules.js';

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, (ok: boolean) => void>();

/**
 * Successful checks, by a digest of (hash, password): a client that reconnects with the
 * right password is answered at once. Failed checks are never cached. Bounded: cleared when full.
 */
const okCache = new Set<string>();
const CACHE_MAX = 4096;

/** nats-server isBcrypt: "$2a$10$...", "$2b$11$...": a bcrypt hash, not a plain password. */
export function isBcrypt(p: string): boolean {
  return /^\$2[abxy]?\$\d\d\$/.test(p);
}

function cacheKey(hash: string, given: string): string {
  return createHash('sha256').update(hash).update('\u0000').update(given).digest('base64');
}

/** True when the cache already knows this password matches (no worker round trip needed). */
export function bcryptKnownMatch(given: string, hash: string): boolean {
  return okCache.has(cacheKey(hash, given));
}

/** Does `given` match the bcrypt `hash`? Answered by the worker thread. */
export function bcryptMatches(given: string, hash: string): Promise<boolean> {
  const key = cacheKey(hash, given);
  if (okCache.has(key)) return Promise.resolve(true);
  const w = startWorker();
  const id = nextId++;
  return new Promise<boolean>((resolve) => {
    waiting.set(id, (ok) => {
      if (ok) {
        if (okCache.size >= CACHE_MAX) okCache.clear();
        okCache.add(key);
      }
      resolve(ok);
    });
    w.postMessage({ id, given, hash });
  });
}

function startWorker(): Worker {
  if (worker !== null) return worker;
  const w = new (workerThreads().Worker)(new URL('./bcrypt-worker.js', import.meta.url));
  w.on('message', (m: { id: number; ok: boolean }) => {
    const done = waiting.get(m.id);
    waiting.delete(m.id);
    done?.(m.ok);
  });
  const fail = (): void => {
    // A dead worker answers nothing: refuse what was waiting, start a new one next time.
    worker = null;
    for (const done of waiting.values()) done(false);
    waiting.clear();
  };
  w.on('error', fail);
  w.on('exit', fail);
  // After the listeners: attaching a 'message' listener refs the worker's port again.
  w.unref();
  worker = w;
  return w;
}
