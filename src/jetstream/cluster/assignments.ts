// The meta group's replicated state, as this layer uses it: accounts -> stream
// assignments -> consumer assignments, the meta entry encoding (op byte + JSON, as
// nats-server's assignStreamOp / updateStreamOp / removeStreamOp / assignConsumerOp /
// removeConsumerOp) and the snapshot form (JSON array of streams with a capitalised
// "Consumers" key). Decoding never throws on bad input: it returns an error string so
// the caller can log and skip the entry.
//
// The S2 compression of snapshots and of assignCompressedConsumerOp, and the byte-exact
// comparisons with nats-server's captures, belong to the sibling modules s2.ts /
// meta-codec.ts / meta-snapshot.ts; this module is the working subset the clustered
// JetStream layer runs on.

export const MetaOp = {
  assignStream: 0,
  assignConsumer: 1,
  removeStream: 2,
  removeConsumer: 3,
  assignCompressedConsumer: 9,
  updateStream: 11,
} as const;

export interface RaftGroupJson {
  name: string;
  peers: string[];
  store: 'file' | 'memory';
  cluster?: string;
  preferred?: string;
}

export interface ClientInfoJson {
  acc?: string;
  svc?: string;
  cluster?: string;
  server?: string;
  [k: string]: unknown;
}

export interface StreamAssignment {
  client: ClientInfoJson;
  created: string;
  stream: Record<string, unknown> & { name: string };
  group: RaftGroupJson;
  sync: string;
  subject: string;
  reply: string;
  restore_state?: unknown;
}

export interface ConsumerAssignment {
  client: ClientInfoJson;
  created: string;
  name: string;
  stream: string;
  consumer: Record<string, unknown>;
  group: RaftGroupJson;
  subject: string;
  reply: string;
  state?: unknown;
}

/** A stream assignment with its consumers, as held in the meta state. */
export interface StreamEntry {
  sa: StreamAssignment;
  consumers: Map<string, ConsumerAssignment>;
}

export type DecodedEntry =
  | { op: typeof MetaOp.assignStream | typeof MetaOp.updateStream | typeof MetaOp.removeStream; sa: StreamAssignment }
  | { op: typeof MetaOp.assignConsumer | typeof MetaOp.removeConsumer; ca: ConsumerAssignment };

/** The owning account of an assignment: `svc` when set, else `acc` (nats-server). */
export function accountOf(client: ClientInfoJson | undefined): string {
  return (client?.svc || client?.acc || '') as string;
}

export function encodeStreamEntry(op: number, sa: StreamAssignment): Buffer {
  const json = JSON.stringify(sa);
  return Buffer.concat([Buffer.from([op]), Buffer.from(op === MetaOp.assignStream ? json + '\n' : json)]);
}

export function encodeConsumerEntry(op: number, ca: ConsumerAssignment): Buffer {
  const json = JSON.stringify(ca);
  return Buffer.concat([Buffer.from([op]), Buffer.from(op === MetaOp.assignConsumer ? json + '\n' : json)]);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkGroup(g: unknown): string | undefined {
  if (!isObj(g)) return 'missing group';
  if (typeof g.name !== 'string' || !Array.isArray(g.peers) || !g.peers.every((p) => typeof p === 'string')) return 'bad group';
  return undefined;
}

function checkStream(v: unknown): string | undefined {
  if (!isObj(v)) return 'not an object';
  if (!isObj(v.stream) || typeof v.stream.name !== 'string' || v.stream.name === '') return 'missing stream config';
  if (!isObj(v.client) || accountOf(v.client as ClientInfoJson) === '') return 'missing client account';
  return checkGroup(v.group);
}

function checkConsumer(v: unknown): string | undefined {
  if (!isObj(v)) return 'not an object';
  if (typeof v.name !== 'string' || v.name === '' || typeof v.stream !== 'string' || v.stream === '') return 'missing names';
  if (!isObj(v.consumer)) return 'missing consumer config';
  if (!isObj(v.client) || accountOf(v.client as ClientInfoJson) === '') return 'missing client account';
  return checkGroup(v.group);
}

/** Decode one EntryNormal payload of the meta group, or say why it is unusable. */
export function decodeMetaEntry(data: Uint8Array): DecodedEntry | { error: string } {
  if (data.length < 2) return { error: 'entry too short' };
  const op = data[0]!;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(data.buffer, data.byteOffset + 1, data.byteLength - 1).toString('utf8'));
  } catch (e) {
    return { error: `op ${op}: ${(e as Error).message}` };
  }
  switch (op) {
    case MetaOp.assignStream:
    case MetaOp.updateStream:
    case MetaOp.removeStream: {
      const err = checkStream(v);
      return err ? { error: `op ${op}: ${err}` } : { op, sa: v as StreamAssignment };
    }
    case MetaOp.assignConsumer:
    case MetaOp.removeConsumer: {
      const err = checkConsumer(v);
      return err ? { error: `op ${op}: ${err}` } : { op, ca: v as ConsumerAssignment };
    }
    default:
      return { error: `unknown meta op ${op}` };
  }
}

/** The whole assignment map (one per server, identical everywhere once applied). */
export class MetaAssignments {
  readonly accounts = new Map<string, Map<string, StreamEntry>>();

  stream(account: string, name: string): StreamEntry | undefined {
    return this.accounts.get(account)?.get(name);
  }

  streamsOf(account: string): StreamEntry[] {
    return [...(this.accounts.get(account)?.values() ?? [])];
  }

  *all(): Generator<[string, StreamEntry]> {
    for (const [acc, m] of this.accounts) for (const e of m.values()) yield [acc, e];
  }

  /** Record (or replace, keeping its consumers) a stream assignment. */
  setStream(sa: StreamAssignment): StreamEntry {
    const acc = accountOf(sa.client);
    let m = this.accounts.get(acc);
    if (!m) this.accounts.set(acc, (m = new Map()));
    const prev = m.get(sa.stream.name);
    const e: StreamEntry = { sa, consumers: prev?.consumers ?? new Map() };
    m.set(sa.stream.name, e);
    return e;
  }

  removeStream(account: string, name: string): StreamEntry | undefined {
    const m = this.accounts.get(account);
    const e = m?.get(name);
    if (!m || !e) return undefined;
    m.delete(name);
    if (m.size === 0) this.accounts.delete(account);
    return e;
  }

  /** Returns false when the stream is not assigned (nats-server logs and ignores it). */
  setConsumer(ca: ConsumerAssignment): boolean {
    const e = this.stream(accountOf(ca.client), ca.stream);
    if (!e) return false;
    e.consumers.set(ca.name, ca);
    return true;
  }

  removeConsumer(ca: ConsumerAssignment): ConsumerAssignment | undefined {
    const e = this.stream(accountOf(ca.client), ca.stream);
    const cur = e?.consumers.get(ca.name);
    if (!e || !cur) return undefined;
    e.consumers.delete(ca.name);
    return cur;
  }

  clear(): void {
    this.accounts.clear();
  }

  /** Snapshot JSON: streams (without subject/reply) each with a "Consumers" array. */
  toSnapshotJson(): string {
    const out: unknown[] = [];
    for (const [, e] of this.all()) {
      const { client, created, stream, group, sync } = e.sa;
      const consumers = [...e.consumers.values()].map(({ client: c, created: cr, name, stream: s, consumer, group: g }) =>
        ({ client: c, created: cr, name, stream: s, consumer, group: g }));
      const item: Record<string, unknown> = { client, created, stream, group, sync };
      if (consumers.length) item.Consumers = consumers;
      out.push(item);
    }
    return out.length ? JSON.stringify(out) : '';
  }

  /** Parse a snapshot into a fresh map; malformed items are reported and skipped. */
  static fromSnapshotJson(text: string, warn: (m: string) => void): MetaAssignments {
    const m = new MetaAssignments();
    if (text.trim() === '') return m;
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      warn(`meta snapshot: ${(e as Error).message}`);
      return m;
    }
    if (!Array.isArray(arr)) {
      warn('meta snapshot: not an array');
      return m;
    }
    for (const item of arr) {
      const err = checkStream({ subject: '', reply: '', ...(isObj(item) ? item : {}) });
      if (err) {
        warn(`meta snapshot: stream skipped: ${err}`);
        continue;
      }
      const it = item as Record<string, unknown>;
      const sa = { ...(it as unknown as StreamAssignment), subject: '', reply: '' };
      delete (sa as unknown as Record<string, unknown>).Consumers;
      m.setStream(sa);
      for (const c of Array.isArray(it.Consumers) ? it.Consumers : []) {
        const cerr = checkConsumer(c);
        if (cerr) warn(`meta snapshot: consumer skipped: ${cerr}`);
        else m.setConsumer({ ...(c as ConsumerAssignment), subject: '', reply: '' });
      }
    }
    return m;
  }
}
