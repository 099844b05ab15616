// Thin wrapper over worker_threads for the load-generator workers: each
// posts 'ready', waits for a start message, and posts 'done' or 'error'.

import { Worker } from 'node:worker_threads';

export interface WorkerDone {
  type: 'done';
  [key: string]: unknown;
}

export interface GenWorker {
  ready: Promise<void>;
  done: Promise<WorkerDone>;
  start(): void;
  terminate(): Promise<void>;
}

const WORKERS = new URL('../workers/', import.meta.url);

export function startWorker(name: 'publisher' | 'subscriber' | 'responder', data: unknown): GenWorker {
  const w = new Worker(new URL(`${name}.js`, WORKERS), { workerData: data });
  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  let resolveDone!: (m: WorkerDone) => void;
  let rejectDone!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => { resolveReady = res; rejectReady = rej; });
  const done = new Promise<WorkerDone>((res, rej) => { resolveDone = res; rejectDone = rej; });
  // Callers may only await one of these; keep the other from being "unhandled".
  ready.catch(() => undefined);
  done.catch(() => undefined);
  w.on('message', (m: { type: string; message?: string }) => {
    if (m.type === 'ready') resolveReady();
    else if (m.type === 'done') resolveDone(m as WorkerDone);
    else if (m.type === 'error') {
      const e = new Error(`${name}: ${m.message}`);
      rejectReady(e);
      rejectDone(e);
    }
  });
  w.on('error', (e) => { rejectReady(e); rejectDone(e); });
  w.on('exit', (code) => {
    const e = new Error(`${name} worker exited (${code})`);
    rejectReady(e);
    rejectDone(e);
  });
  return {
    ready,
    done,
    start: () => w.postMessage({ type: 'start' }),
    terminate: async () => { await w.terminate(); },
  };
}
