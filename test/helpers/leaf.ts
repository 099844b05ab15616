// Shared by the in-process leaf tests (tsnats on both sides): a leafnodes block on 127.0.0.1
// with a quick re-dial, a client of a test server closed after the test, a subscription that
// collects what it gets, and whether a server has interest in a subject ($G).
import type { TestContext } from 'node:test';
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node';
import type { ServerHandle } from './server.js';
import type { LeafnodeOptions } from '../../src/config/options.js';

export function leafOpts(o: Partial<LeafnodeOptions>): LeafnodeOptions {
  return { host: '127.0.0.1', users: [], remotes: [], reconnectMs: 50, ...o };
}

export async function client(h: ServerHandle, t: TestContext): Promise<NatsConnection> {
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  return nc;
}

export function collect(nc: NatsConnection, subject: string, queue?: string): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, { queue, callback: (_e, m) => { got.push(m); } });
  return got;
}

export const interest = (h: ServerHandle, subject: string): boolean => h.server.globalAccount.sublist.hasInterest(subject);
