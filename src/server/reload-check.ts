// What a config reload may not change on a running server. nats-server 2.9.10 (diffOptions)
// refuses the whole reload, applying nothing of it, with "config reload not supported for
// <field>" when such an option differs; tsnats refuses the same way instead of reporting a
// reload it did not apply. Checked: the leafnodes block, where nats-server accepts only new
// TLS settings (its users compare by name, password and account, in any order; its remotes
// compare in any order, TLS aside). Connected leaf links are never re-checked by a reload, even
// when it changes the client users they authenticated as (verified against the 2.9.10 binary).
import type { LeafRemoteOptions, LeafnodeOptions, Options } from '../config/options.js';

/** The error text of a reload that changes what cannot be reloaded, or null when it may go on. */
export function unsupportedReload(prev: Options, next: Options): string | null {
  const part = leafnodesChange(prev.leafnodes, next.leafnodes);
  // the part is named, never the values: they hold passwords
  return part === null ? null : `config reload not supported for LeafNode: ${part} changed`;
}

function leafnodesChange(a: LeafnodeOptions | undefined, b: LeafnodeOptions | undefined): string | null {
  if (a === undefined || b === undefined) return a === b ? null : 'the leafnodes block';
  if (a.host !== b.host || a.port !== b.port || a.advertise !== b.advertise) return 'the listener';
  if (a.user !== b.user || a.password !== b.password || a.account !== b.account || a.authTimeoutMs !== b.authTimeoutMs
    || !sameMembers(a.users.map((u) => JSON.stringify([u.user, u.password, u.account ?? ''])), b.users.map((u) => JSON.stringify([u.user, u.password, u.account ?? ''])))) {
    return 'the authorization';
  }
  if (!sameMembers(a.remotes.map(remoteKey), b.remotes.map(remoteKey))) return 'the remotes';
  if (a.reconnectMs !== b.reconnectMs) return 'the reconnect interval';
  return null;
}

/** A remote as compared: its TLS may change, an unnamed local account is $G, the order of its
 *  settings in the file does not matter. */
function remoteKey(r: LeafRemoteOptions): string {
  const { tls: _tls, ...rest } = r;
  const o: Record<string, unknown> = { ...rest, account: r.account ?? '$G' };
  return JSON.stringify(o, Object.keys(o).sort());
}

function sameMembers(x: string[], y: string[]): boolean {
  if (x.length !== y.length) return false;
  const a = [...x].sort();
  const b = [...y].sort();
  return a.every((v, i) => v === b[i]);
}
