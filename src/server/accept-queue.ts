// Spreads a burst of accepted client sockets over event-loop turns.
//
// libuv runs the accept callback of every pending connection in one poll phase, so starting
// each client there (Client object, listeners, INFO written with a synchronous write syscall,
// timers) stalls the loop for all of them at once: ~120 ms for 2,000 connections. Here the
// accept callback only queues the socket; at most BATCH clients start per setImmediate turn,
// so messages of existing clients, timers and I/O run between batches. The check phase follows
// the poll phase of the same turn, so a lone connection still starts without delay. The listener
// uses pauseOnConnect, so a queued socket reads nothing: what its peer sent (even CONNECT, PUB
// and a FIN) waits in the kernel until the client starts, and is then handled as before.
import type net from 'node:net';

const BATCH = 64;

/** Errors of a socket that is queued and not yet a client: it is destroyed and then skipped. */
function swallowEarlyError(): void {}

export class AcceptQueue {
  private queue: net.Socket[] = [];
  private head = 0;
  private scheduled = false;

  /** `start` takes one socket off the queue (the server's acceptClient). */
  constructor(private readonly start: (socket: net.Socket) => void) {}

  push(socket: net.Socket): void {
    // Without a listener, an error (ECONNRESET) before the client starts would be thrown.
    socket.on('error', swallowEarlyError);
    this.queue.push(socket);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  /** Shutdown: sockets never started are closed. */
  clear(): void {
    for (let i = this.head; i < this.queue.length; i++) this.queue[i].destroy();
    this.queue = [];
    this.head = 0;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + BATCH);
    while (this.head < end) {
      const socket = this.queue[this.head++];
      socket.off('error', swallowEarlyError);
      // Errored, or destroyed by clear(), while queued: there is no client to start.
      if (socket.destroyed) continue;
      socket.resume();
      this.start(socket);
    }
    if (this.head < this.queue.length) {
      this.scheduled = true;
      setImmediate(this.drain);
    } else {
      this.queue = [];
      this.head = 0;
    }
  };
}
