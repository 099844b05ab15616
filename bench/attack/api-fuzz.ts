// Attack: one bad $JS.API request against a 3-server cluster (tsnats or nats-server).
//
// Seeded batches of mutated requests of every API type, sent to a random server. After each
// batch: every server still alive and answering, every stream named by STREAM.NAMES answers
// STREAM.INFO, and each server holds exactly the streams whose group names it (/jsz), i.e. every
// server applied the same assignments. At the end all three are killed (-9) and restarted
// together — the meta log is replayed — and the same checks must give the same state.
//
//   node dist/bench/attack/api-fuzz.js [--impl tsnats|nats-server] [--seed N] [--batches B] [--per P]
//
// Prints each request that got no reply or whose answer differs from the shape expected, and the
// server log lines with an error or a stack.
import { appendFileSync, writeFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { seededRandom } from '../../test/helpers/wait.js';
import { argOf } from './args.js';
import { checkAgreement, logProblems, printWarnings, rawRequest } from './cluster-checks.js';

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const arg = argOf;
const impl = arg('impl', 'tsnats') as Impl;
const seed = Number(arg('seed', '1'));
const batches = Number(arg('batches', '6'));
const perBatch = Number(arg('per', '60'));
const outFile = arg('out', '');
const rnd = seededRandom(seed);

// ---- mutation material ----
/** numbers that decode into Go's int64/uint64 fields (odd but well-typed), then everything else */
const GOOD_NUMS = ['-1', '0', '1', '2', '3', '5', '7', '100', '1000000000', '9007199254740991', '1000000000000000000', '9223372036854775807', '4294967296', '2147483648'];
const BAD_NUMS = ['-1', '-2', '0', '1', '3', '5', '1e400', '-1e400', '1.5', '9223372036854775807', '9223372036854775808',
  '18446744073709551615', '-9223372036854775808', '1e18', '2147483648', '4294967296', '"5"', 'null', 'true', '[]', '{}', '"NaN"', '0.0000001', '-0'];
const NUMS_ALL = [...GOOD_NUMS, ...BAD_NUMS];
/** mostly well-typed: the interesting configs are the ones a server accepts */
const numv = (): string => (rnd() < 0.85 ? pick(rnd, GOOD_NUMS) : pick(rnd, BAD_NUMS));
const STRS = ['""', '"x"', '"a.b"', '">"', '"*"', '"a.>"', '"a..b"', '" "', '"a b"', '"\\u0000"', '"\\u00ff\\u0000."', `"${'x'.repeat(300)}"`, '"$JS.API.>"',
  '"$SYS.>"', '"_INBOX.>"', '"a.*.>"', '"."', '"a."', '".a"', '"\\t"', '"ü"', '"\\ud800"', '1', 'null', '[]', '{}', '"file"', '"memory"', '"limits"', '"workqueue"',
  '"interest"', '"new"', '"old"', '"all"', '"last"', '"explicit"', '"none"', '"instant"', '"original"', '"by_start_sequence"', '"last_per_subject"', '"new"'];
const ENUMS: Record<string, string[]> = {
  retention: ['"limits"', '"interest"', '"workqueue"'], discard: ['"old"', '"new"'], storage: ['"file"', '"memory"'],
  description: ['"d"', `"${'d'.repeat(5000)}"`, '"\u0000\u00ff"'], deliver_policy: ['"all"', '"last"', '"new"', '"by_start_sequence"', '"by_start_time"', '"last_per_subject"'],
  ack_policy: ['"explicit"', '"none"', '"all"'], replay_policy: ['"instant"', '"original"'],
};
const deep = (n: number, open: string, close: string): string => open.repeat(n) + close.repeat(n);

const STREAM_FIELDS: Record<string, string[]> = {
  name: STRS, subjects: [], retention: STRS, max_consumers: NUMS_ALL, max_msgs: NUMS_ALL, max_bytes: NUMS_ALL, max_age: NUMS_ALL,
  max_msgs_per_subject: NUMS_ALL, max_msg_size: NUMS_ALL, discard: STRS, storage: STRS, num_replicas: NUMS_ALL, duplicate_window: NUMS_ALL,
  sealed: ['true', 'false', '1', 'null'], deny_delete: ['true', '"x"'], deny_purge: ['true', '[]'], allow_rollup_hdrs: ['true', '0'],
  allow_direct: ['true', 'false', '"y"'], mirror_direct: ['true', 'false'], discard_new_per_subject: ['true', '{}'], no_ack: ['true', 'false'],
  description: STRS, template_owner: STRS, placement: [], mirror: [], sources: [], republish: [], subject_transform: [], metadata: [],
  compression: STRS, first_seq: NUMS_ALL, consumer_limits: [],
};

function subjectsValue(): string {
  switch (Math.floor(rnd() * 8)) {
    case 0: return JSON.stringify(Array.from({ length: 10_000 }, (_x, i) => `big.${i}`));
    case 1: return JSON.stringify(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => JSON.parse(pick(rnd, STRS.filter((s) => s.startsWith('"'))))));
    case 2: return pick(rnd, STRS);
    case 3: return '["a","a"]';
    case 4: return '["x.>","x.y"]';
    case 5: return deep(3000, '[', ']');
    case 6: return JSON.stringify([`f${Math.floor(rnd() * 20)}.>`]);
    default: return `[${pick(rnd, STRS)}]`;
  }
}
function placementValue(): string {
  return pick(rnd, ['{"cluster":"C1"}', '{"cluster":"nope"}', '{"tags":["x"]}', '{"tags":[]}', '{"tags":"x"}', '{"tags":[1,null]}', '{"cluster":""}',
    '{"cluster":5}', 'null', '[]', '"C1"', '{"cluster":"C1","tags":["\\u0000"]}', `{"tags":${JSON.stringify(Array.from({ length: 1000 }, (_x, i) => `t${i}`))}}`]);
}
function sourceValue(): string {
  const n = pick(rnd, ['"S1"', '"S2"', '"nope"', '""', '"a.b"', '5', 'null', '"F0"', '"F1"']);
  const f = [`"name":${n}`];
  if (rnd() < 0.4) f.push(`"opt_start_seq":${numv()}`);
  if (rnd() < 0.3) f.push(`"opt_start_time":${pick(rnd, ['"2020-01-01T00:00:00Z"', '"garbage"', '5', '"9999-99-99T00:00:00Z"', 'null'])}`);
  if (rnd() < 0.4) f.push(`"filter_subject":${pick(rnd, STRS)}`);
  if (rnd() < 0.3) f.push(`"external":${pick(rnd, ['{"api":"$JS.ext.API","deliver":"d"}', '{"api":""}', '{"api":5}', 'null', '"x"', '{"api":"$JS.API","deliver":">"}'])}`);
  if (rnd() < 0.2) f.push(`"subject_transform_dest":${pick(rnd, STRS)}`);
  return `{${f.join(',')}}`;
}
function streamFieldValue(k: string): string {
  switch (k) {
    case 'subjects': return subjectsValue();
    case 'placement': return placementValue();
    case 'mirror': return rnd() < 0.8 ? sourceValue() : pick(rnd, ['null', '[]', '5', '"S1"']);
    case 'sources': return rnd() < 0.8 ? `[${Array.from({ length: 1 + Math.floor(rnd() * 3) }, sourceValue).join(',')}]` : pick(rnd, ['null', '{}', `[${Array.from({ length: 300 }, sourceValue).join(',')}]`]);
    case 'republish': return pick(rnd, ['{"src":">","dest":"rp.>"}', '{"src":"a.*","dest":"b.$1"}', '{"src":"","dest":""}', '{"dest":"x.>"}', '{"src":">","dest":">"}',
      '{"src":"f0.>","dest":"f0.>"}', '{"src":5}', 'null', '[]', '{"src":"a","dest":"b","headers_only":"x"}', '{"src":"a.*.*","dest":"b.{{wildcard(3)}}"}']);
    case 'subject_transform': return pick(rnd, ['{"src":">","dest":"t.>"}', '{"src":"a.*","dest":"{{wildcard(9)}}"}', 'null', '5']);
    case 'metadata': return pick(rnd, ['{"a":"b"}', '{"a":5}', '[]', 'null', deep(500, '{"a":', '}').replace(/}$/, '1}')]);
    case 'consumer_limits': return pick(rnd, ['{"inactive_threshold":-1}', '{"max_ack_pending":1e400}', 'null']);
    default: {
      const vals = STREAM_FIELDS[k]!;
      if (vals === NUMS_ALL) return numv();
      if (vals === STRS) return pick(rnd, ENUMS[k] !== undefined && rnd() < 0.85 ? ENUMS[k]! : STRS);
      return pick(rnd, vals);
    }
  }
}

let streamSeq = 0;
function streamName(): string {
  // A fixed pool (not the names that were created): the same seed sends the same requests to either implementation.
  return pick(rnd, [`F${streamSeq++ % 12}`, 'S1', 'S2', `F${Math.floor(rnd() * 12)}`]);
}

/** A stream config: a sane base (R1 or R3) with 1-4 fields replaced or added, as raw JSON text. */
function streamConfig(name: string): string {
  const base: Record<string, string> = {
    name: JSON.stringify(name), subjects: JSON.stringify([`${name.toLowerCase()}.>`]), storage: pick(rnd, ['"file"', '"memory"']),
    num_replicas: pick(rnd, ['1', '3']), retention: '"limits"',
  };
  const n = 1 + Math.floor(rnd() * rnd() * 4);
  for (let i = 0; i < n; i++) {
    const k = pick(rnd, Object.keys(STREAM_FIELDS));
    if (k === 'name' && rnd() < 0.7) continue; // keep most names matching the subject (mismatch is one error only)
    base[k] = streamFieldValue(k);
  }
  if (rnd() < 0.1) delete base[pick(rnd, Object.keys(base))];
  return `{${Object.entries(base).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

const CONSUMER_FIELDS: Record<string, () => string> = {
  durable_name: () => pick(rnd, ['"D1"', '"D2"', '""', '"a.b"', '"a b"', '5', 'null', `"${'d'.repeat(300)}"`, '"*"', '">"']),
  name: () => pick(rnd, ['"D1"', '"N1"', '""', '"a.b"', '5']),
  deliver_subject: () => pick(rnd, ['"dlv.1"', '""', '"a.*"', '">"', '5', 'null', '"$JS.API.X"']),
  deliver_group: () => pick(rnd, ['"q"', '""', '"a b"', '5']),
  deliver_policy: () => pick(rnd, rnd() < 0.85 ? ENUMS.deliver_policy! : STRS),
  opt_start_seq: () => numv(),
  opt_start_time: () => pick(rnd, ['"2020-01-01T00:00:00Z"', '"garbage"', '5', 'null']),
  ack_policy: () => pick(rnd, rnd() < 0.85 ? ENUMS.ack_policy! : STRS),
  ack_wait: () => numv(),
  max_deliver: () => numv(),
  backoff: () => pick(rnd, ['[1000000000,2000000000]', '[-1]', '[]', '[1e400]', '"x"', JSON.stringify(Array.from({ length: 5000 }, () => 1))]),
  filter_subject: () => pick(rnd, STRS),
  replay_policy: () => pick(rnd, rnd() < 0.85 ? ENUMS.replay_policy! : STRS),
  rate_limit_bps: () => numv(),
  sample_freq: () => pick(rnd, ['"50%"', '"x"', '"200%"', '5', '"-1%"']),
  max_waiting: () => numv(),
  max_ack_pending: () => numv(),
  flow_control: () => pick(rnd, ['true', '"x"']),
  idle_heartbeat: () => numv(),
  headers_only: () => pick(rnd, ['true', '2']),
  max_batch: () => numv(),
  max_expires: () => numv(),
  max_bytes: () => numv(),
  inactive_threshold: () => numv(),
  num_replicas: () => numv(),
  mem_storage: () => pick(rnd, ['true', '"x"']),
  metadata: () => pick(rnd, ['{"a":"b"}', '5']),
  filter_subjects: () => pick(rnd, ['["a","b"]', '[]', '5']),
  direct: () => pick(rnd, ['true', '"x"']),
};

function consumerConfig(durable: string | undefined): string {
  const base: Record<string, string> = { ack_policy: '"explicit"', deliver_policy: '"all"' };
  if (durable !== undefined) base.durable_name = JSON.stringify(durable);
  if (rnd() < 0.4) base.deliver_subject = JSON.stringify(`dlv.${Math.floor(rnd() * 5)}`);
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const k = pick(rnd, Object.keys(CONSUMER_FIELDS));
    base[k] = CONSUMER_FIELDS[k]!();
  }
  return `{${Object.entries(base).map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

function oddBody(fields: Record<string, () => string>): string {
  const r = rnd();
  if (r < 0.1) return '';
  if (r < 0.15) return deep(5000, '{"a":', '}').replace(/}+$/, (m) => '1' + m);
  if (r < 0.2) return pick(rnd, ['null', '[]', '5', '"x"', '{', 'nul', '\u0000', 'true', '{"seq":1}{"seq":2}']);
  const keys = Object.keys(fields);
  const n = 1 + Math.floor(rnd() * 3);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = pick(rnd, keys);
    parts.push(`${JSON.stringify(k)}:${fields[k]!()}`);
  }
  return `{${parts.join(',')}}`;
}
const num = () => numv();
const str = () => pick(rnd, STRS);
const PURGE = { filter: str, seq: num, keep: num };
const MSG_GET = { seq: num, last_by_subj: str, next_by_subj: str };
const MSG_DEL = { seq: num, no_erase: () => pick(rnd, ['true', '1']) };
const NEXT = { batch: num, expires: num, no_wait: () => pick(rnd, ['true', '"x"']), max_bytes: num, idle_heartbeat: num };
const LIST = { offset: num, subject: str, deleted_details: () => pick(rnd, ['true', '5']), subjects_filter: str };
const STEPDOWN = { placement: placementValue };
const PEER_REMOVE = { peer: () => pick(rnd, ['"n1"', '"n2"', '"nope"', '""', '5']) };

interface Req { subject: string; body: string }
function consumerName(): string {
  return pick(rnd, ['D1', 'D2', 'N1', 'x']);
}

function nextRequest(): Req {
  const s = streamName();
  switch (Math.floor(rnd() * 20)) {
    case 0: case 1: case 2: case 3: {
      const name = s;
      const body = streamConfig(name);
      return { subject: `$JS.API.STREAM.CREATE.${name}`, body };
    }
    case 4: case 5: return { subject: `$JS.API.STREAM.UPDATE.${s}`, body: streamConfig(s) };
    case 6: return { subject: `$JS.API.STREAM.DELETE.${s}`, body: rnd() < 0.5 ? '' : oddBody(PURGE) };
    case 7: return { subject: `$JS.API.STREAM.INFO.${s}`, body: oddBody(LIST) };
    case 8: return { subject: `$JS.API.STREAM.PURGE.${s}`, body: oddBody(PURGE) };
    case 9: return { subject: `$JS.API.STREAM.MSG.GET.${s}`, body: oddBody(MSG_GET) };
    case 10: return { subject: `$JS.API.STREAM.MSG.DELETE.${s}`, body: oddBody(MSG_DEL) };
    case 11: case 12: {
      const d = consumerName();
      const form = Math.floor(rnd() * 3);
      const subj = form === 0 ? `$JS.API.CONSUMER.CREATE.${s}` : form === 1 ? `$JS.API.CONSUMER.DURABLE.CREATE.${s}.${d}` : `$JS.API.CONSUMER.CREATE.${s}.${d}.${s.toLowerCase()}.x`;
      const body = rnd() < 0.8 ? `{"stream_name":${JSON.stringify(s)},"config":${consumerConfig(form === 0 ? (rnd() < 0.5 ? d : undefined) : d)}}` : oddBody({ stream_name: str, config: () => consumerConfig(d) });
      return { subject: subj, body };
    }
    case 13: return { subject: `$JS.API.CONSUMER.MSG.NEXT.${s}.${consumerName()}`, body: rnd() < 0.5 ? num() : oddBody(NEXT) };
    case 14: return { subject: `$JS.API.CONSUMER.DELETE.${s}.${consumerName()}`, body: '' };
    case 15: return { subject: pick(rnd, ['$JS.API.STREAM.NAMES', '$JS.API.STREAM.LIST', `$JS.API.CONSUMER.NAMES.${s}`, `$JS.API.CONSUMER.LIST.${s}`]), body: oddBody(LIST) };
    case 16: return { subject: pick(rnd, [`$JS.API.STREAM.LEADER.STEPDOWN.${s}`, `$JS.API.CONSUMER.LEADER.STEPDOWN.${s}.${consumerName()}`]), body: oddBody(STEPDOWN) };
    case 17: return { subject: `$JS.API.STREAM.PEER.REMOVE.${s}`, body: oddBody(PEER_REMOVE) };
    case 18: return { subject: `$JS.API.CONSUMER.INFO.${s}.${consumerName()}`, body: oddBody(LIST) };
    default: return { subject: pick(rnd, ['$JS.API.INFO', `$JS.API.DIRECT.GET.${s}`, `$JS.API.STREAM.SNAPSHOT.${s}`, `$JS.API.STREAM.MSG.GET.${s}.x`, '$JS.API.STREAM.CREATE', '$JS.API.STREAM.CREATE.a.b']), body: oddBody(MSG_GET) };
  }
}

/** A reply without what differs between runs and servers (times, ids, leaders). */
function normalize(r: string): unknown {
  try {
    const j = JSON.parse(r) as Record<string, unknown>;
    for (const k of ['created', 'state', 'cluster', 'ts', 'delivered', 'ack_floor', 'num_pending', 'num_ack_pending', 'num_redelivered', 'num_waiting']) delete j[k];
    return j;
  } catch {
    return r.slice(0, 200);
  }
}

async function main(): Promise<void> {
  console.log(`api-fuzz impl=${impl} seed=${seed} batches=${batches} per=${perBatch}`);
  if (outFile !== '') writeFileSync(outFile, '');
  const c = await JsCluster.start({ impl, size: 3 });
  const logSeen = new Map<string, number>();
  let noReply = 0;
  let multi = 0;
  let sent = 0;
  const errCodes = new Map<string, number>();
  try {
    let ncs = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < perBatch; i++) {
        const req = nextRequest();
        const nc = pick(rnd, ncs);
        const replies = await rawRequest(nc, req.subject, req.body, req.subject.includes('MSG.NEXT') ? 1500 : 6000);
        sent++;
        if (outFile !== '') appendFileSync(outFile, JSON.stringify({ subject: req.subject, body: req.body.length > 2000 ? `${req.body.slice(0, 2000)}...(${req.body.length})` : req.body, replies: replies.map(normalize) }) + '\n');
        const short = `${req.subject} ${req.body.length > 300 ? req.body.slice(0, 300) + `...(${req.body.length} bytes)` : req.body}`;
        if (replies.length > 1) {
          multi++;
          console.log(`MULTI (${replies.length}) ${short}\n   ${replies.map((r) => r.slice(0, 200)).join('\n   ')}`);
        }
        if (replies.length === 0 && !req.subject.includes('MSG.NEXT') && !req.subject.includes('DIRECT.GET') && !req.subject.includes('SNAPSHOT')) {
          noReply++;
          console.log(`NOREPLY ${short}`);
        }
        for (const r of replies) {
          try {
            const j = JSON.parse(r) as { error?: { err_code?: number; description?: string }; config?: { name?: string } };
            if (j.error) {
              const k = `${j.error.err_code} ${j.error.description}`.slice(0, 120);
              errCodes.set(k, (errCodes.get(k) ?? 0) + 1);
            } else if (req.subject.startsWith('$JS.API.STREAM.CREATE.') || req.subject.startsWith('$JS.API.STREAM.UPDATE.')) {
              if (process.env.SHOW_OK) console.log(`OK ${short}`);
            }
          } catch {
            // a non-JSON reply (a message of a pull, a direct get)
          }
        }
        for (const p of logProblems(c, logSeen)) console.log(`LOG after ${short.slice(0, 400)}\n   ${p}`);
      }
      const view = await checkAgreement(c, ncs, `batch ${b}`);
      console.log(`batch ${b}: ${sent} sent, ${noReply} unanswered, ${multi} multi; ${view.size} streams agreed`);
    }
    const before = await checkAgreement(c, ncs, 'before restart');
    await Promise.all(ncs.map((nc) => nc.close()));
    for (let round = 0; round < 2; round++) {
      await Promise.all(c.nodes.map((n) => c.kill(n)));
      for (const n of c.nodes) await c.restart(n);
      ncs = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
      const after = await checkAgreement(c, ncs, `after restart ${round + 1}`);
      const a = [...before.values()].map((v) => `${v.name}:${v.peers}`).join(' ');
      const z = [...after.values()].map((v) => `${v.name}:${v.peers}`).join(' ');
      if (a !== z) throw new Error(`state changed across a full restart:\n before ${a}\n after  ${z}`);
      for (const p of logProblems(c, logSeen)) console.log(`LOG after restart ${round + 1}\n   ${p}`);
      console.log(`full restart ${round + 1}: same ${after.size} streams`);
      await Promise.all(ncs.map((nc) => nc.close()));
    }
    console.log('error answers:');
    for (const [k, v] of [...errCodes.entries()].sort((x, y) => y[1] - x[1])) console.log(`  ${v}x ${k}`);
    console.log(`RESULT seed=${seed}: ${sent} requests, ${noReply} unanswered, ${multi} with several replies; survived`);
  } catch (e) {
    // What the servers said about it, before their dirs go.
    printWarnings(c);
    throw e;
  } finally {
    await c.shutdown();
  }
}

main().catch((e: unknown) => {
  console.error(`FAILED seed=${seed}:`, e);
  process.exit(1);
});
