// A leaf link made by hand on a server's leafnode port (child processes: the port is read from
// the log), for side-by-side tests of leaf authentication with nats-server.
import { RawClient } from './raw-client.js';
import { listenPort, type ChildServer } from './child.js';

/** The leaf port from the log. */
export function leafPort(s: ChildServer): Promise<number> {
  return listenPort(s, 'leafnode');
}

let leafSeq = 0;

/** A leaf link made by hand: the CONNECT of a leaf with these credentials, then PING. Returns
 *  the connection and "PONG", or the error the server sent. */
export async function rawLeaf(port: number, user: string, pass: string): Promise<{ c: RawClient; reply: string }> {
  const { c } = await RawClient.connectInfo(port);
  // each leaf its own server id: nats-server closes a second link from the same server
  const id = `RAWLEAF${++leafSeq}`;
  c.send(`CONNECT {"user":"${user}","pass":"${pass}","tls_required":false,"server_id":"${id}","name":"${id}","headers":true}\r\nPING\r\n`);
  const t = await c.waitFor((x) => x.includes('PONG\r\n') || x.includes('-ERR'));
  c.clear();
  return { c, reply: t.includes('-ERR') ? t.slice(t.indexOf('-ERR')).split('\r\n')[0]! : 'PONG' };
}

