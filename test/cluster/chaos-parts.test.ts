// The chaos suite's parts that do not need a cluster: the TCP proxy used to cut
// routes, and the seeded schedule that makes a failing run replayable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../../src/jetstream/store/index.js';
import { findStreamDir, readReplicaOffline } from '../../bench/chaos/offline.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { waitUntil } from '../helpers/wait.js';
import { ALL_FAULTS, planSchedule, parseFaults } from '../../bench/chaos/schedule.js';
import { streamSeqOfAck } from '../../bench/chaos/api.js';
import { CI_RUNS, ciFaults } from '../../bench/chaos/run.js';
import { damageFiles, notRejoined, raftFiles, streamBlocks, walBlocks } from '../../bench/chaos/faults.js';

async function echoServer(): Promise<{ srv: net.Server; port: number }> {
  const srv = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { srv, port: (srv.address() as net.AddressInfo).port };
}

/** Connects through the proxy and resolves with what came back for `msg`, or 'closed' when the proxy dropped it. */
function roundTrip(port: number, msg: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('connect', () => s.write(msg));
    s.on('data', (d) => {
      got += d.toString();
      if (got.length >= msg.length) {
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', () => resolve('closed'));
    s.on('close', () => resolve(got === '' ? 'closed' : got));
  });
}

test('tcp proxy: forwards, cut drops open and new connections, heal restores, target can change', async () => {
  const a = await echoServer();
  const b = await echoServer();
  const p = new TcpProxy(undefined, 't');
  const port = await p.listen();
  try {
    assert.equal(await roundTrip(port, 'x'), 'closed', 'no target yet: dropped');
    p.setTarget(a.port);
    assert.equal(await roundTrip(port, 'hello'), 'hello');

    // an open connection is destroyed by cut
    const s = net.connect({ host: '127.0.0.1', port });
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.on('connect', () => r()));
    await waitUntil(() => p.connections === 2, 5000, 'the proxied connection');
    p.cut();
    await closed;
    assert.equal(await roundTrip(port, 'y'), 'closed', 'cut: new connections dropped');
    assert.ok(p.dropped >= 2);

    p.heal();
    p.setTarget(b.port);
    assert.equal(await roundTrip(port, 'again'), 'again');
    assert.ok(p.forwarded >= 3);
  } finally {
    await p.close();
    await new Promise((r) => a.srv.close(r));
    await new Promise((r) => b.srv.close(r));
  }
});

test('chaos schedule: same seed same schedule, bounded by the duration, only the requested kinds', () => {
  const a = planSchedule(42, 60_000, ALL_FAULTS);
  const b = planSchedule(42, 60_000, ALL_FAULTS);
  assert.deepEqual(a, b);
  assert.notDeepEqual(planSchedule(43, 60_000, ALL_FAULTS), a);
  assert.ok(a.length > 5);
  const total = a.reduce((t, f) => t + f.gapMs + f.durationMs, 0);
  assert.ok(total <= 60_000, `schedule of ${total} ms exceeds 60 s`);
  const only = planSchedule(42, 60_000, ['stop', 'partition']);
  assert.ok(only.every((f) => f.kind === 'stop' || f.kind === 'partition'));
  assert.ok(only.filter((f) => f.kind === 'stop').every((f) => f.role === 'leader'), 'SIGSTOP targets the leader');
  const disk = a.filter((f) => f.kind === 'corrupt' || f.kind === 'unsynced' || f.kind === 'raft-damage');
  assert.ok(disk.some((f) => f.kind === 'raft-damage'), 'raft-damage is among the kinds planned');
  assert.ok(disk.every((f) => f.role === 'follower'), 'disk faults hit a minority replica');
  assert.ok(a.filter((f) => f.kind === 'raft-damage').every((f) => f.amount! >= 1 && f.amount! <= 4), 'raft-damage damages 1-4 files');
  assert.deepEqual(planSchedule(1, 60_000, []), []);
  assert.throws(() => parseFaults('kill,meteor'), /unknown fault 'meteor'/);
  assert.deepEqual(parseFaults('kill, stop'), ['kill', 'stop']);
});

test('ack reply subjects: stream sequence from both the 9-token and the domain form', () => {
  assert.equal(streamSeqOfAck('$JS.ACK.CHAOS.C1.1.42.7.1700000000000000000.3'), 42);
  assert.equal(streamSeqOfAck('$JS.ACK.dom.acchash.CHAOS.C1.1.42.7.1700000000000000000.3.rnd'), 42);
  assert.equal(streamSeqOfAck('_INBOX.x'), undefined);
  assert.equal(streamSeqOfAck(undefined), undefined);
});

test('the CI runs (CI_RUNS, run by chaos-ci.ts) schedule every CI fault kind, and faults of the leader', () => {
  const leaderFaults = { 'nats-server': ['kill:leader'], tsnats: ['kill:leader', 'partition:leader', 'stop:leader'] } as const;
  for (const impl of ['nats-server', 'tsnats'] as const) {
    const { seeds, durationS } = CI_RUNS[impl];
    const planned = seeds.flatMap((seed) => planSchedule(seed, durationS * 1000, ciFaults(impl)));
    assert.deepEqual([...new Set(planned.map((f) => f.kind))].sort(), [...ciFaults(impl)].sort(), impl);
    const kr = new Set(planned.map((f) => `${f.kind}:${f.role}`));
    for (const lf of leaderFaults[impl]) assert.ok(kr.has(lf), `${impl}: ${lf} not in ${[...kr].join(' ')}`);
  }
  // tsnats is held to every fault, the reference only to those it survives (README findings)
  assert.deepEqual(ciFaults('tsnats').sort(), ['bitflip', 'kill', 'partition', 'peer-remove', 'raft-damage', 'stop', 'torn', 'unsynced']);
});

test('offline replica reader: reads a stopped tsnats store through a copy, never touching the original', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-chaos-offline-'));
  try {
    const storeDir = join(root, 'n1', 'store');
    const dir = join(storeDir, 'jetstream', 'APP', 'streams', 'CHAOS');
    const fs = new FileStore({ name: 'CHAOS', subjects: ['chaos.>'], storage: 'file' }, { dir });
    for (let i = 0; i < 50; i++) fs.storeMsg('chaos.m0', undefined, Buffer.from(`m0.0-${i}|${'x'.repeat(40)}`));
    await fs.stop();
    const blk = join(dir, 'msgs', '1.blk');
    const before = readFileSync(blk);

    assert.equal(findStreamDir(storeDir), dir);
    const r = await readReplicaOffline(storeDir, join(root, 'scratch'));
    assert.ok(r !== undefined);
    assert.equal(r.count, 50);
    assert.equal(r.firstSeq, 1);
    assert.equal(r.lastSeq, 50);
    assert.equal(r.msgs.size, 50);
    assert.equal(r.msgs.get(1), 'm0.0-0');
    assert.equal(r.msgs.get(50), 'm0.0-49');

    // a torn tail: the copy is recovered, the replica's own file is left exactly as the crash left it
    truncateSync(blk, before.length - 7);
    const torn = readFileSync(blk);
    const r2 = await readReplicaOffline(storeDir, join(root, 'scratch2'));
    assert.ok(r2 !== undefined);
    assert.equal(r2.lastSeq, 49, 'the torn last record is not read');
    assert.equal(r2.msgs.get(49), 'm0.0-48');
    assert.deepEqual(readFileSync(blk), torn);

    assert.equal(await readReplicaOffline(join(root, 'nothing'), join(root, 'scratch3')), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('disk faults find the stream blocks and the raft WAL in both layouts', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-chaos-layout-'));
  try {
    const touch = (rel: string) => {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), 'x');
    };
    touch('jetstream/APP/streams/CHAOS/msgs/2.blk');
    touch('jetstream/APP/streams/CHAOS/msgs/10.blk');
    touch('jetstream/APP/streams/CHAOS/msgs/10.idx');
    touch('jetstream/APP/streams/OTHER/msgs/1.blk');
    touch('jetstream/$SYS/_js_/S-R3F-abc/msgs/3.blk');
    touch('jetstream/$SYS/_js_/S-R3F-abc/msgs/12.blk');
    touch('jetstream/$SYS/_js_/C-R3F-xyz/msgs/1.blk');
    touch('jetstream/$SYS/_js_/_meta_/msgs/1.blk');
    const tail = (l: string[]) => l.map((p) => p.slice(root.length));
    assert.deepEqual(tail(streamBlocks(root)), ['/jetstream/APP/streams/CHAOS/msgs/2.blk', '/jetstream/APP/streams/CHAOS/msgs/10.blk']);
    assert.deepEqual(tail(walBlocks(root)), ['/jetstream/$SYS/_js_/S-R3F-abc/msgs/3.blk', '/jetstream/$SYS/_js_/S-R3F-abc/msgs/12.blk']);
    touch(`jetstream/$SYS/_js_/S-R3F-def/${'9'.padStart(20, '0')}.wal`);
    touch(`jetstream/$SYS/_js_/S-R3F-def/${'10'.padStart(20, '0')}.wal`);
    assert.equal(walBlocks(root).pop()!.slice(root.length), `/jetstream/$SYS/_js_/S-R3F-def/${'10'.padStart(20, '0')}.wal`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('raft-damage finds every raft file of both layouts, and damages the ones its seed picks, the same way each time', () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-chaos-raft-'));
  try {
    const files: Record<string, number> = {
      // nats-server 2.9.10: the WAL is a file store (msgs/<n>.blk and its index <n>.idx)
      'ns/jetstream/SYS/_js_/_meta_/msgs/1.blk': 3000,
      'ns/jetstream/SYS/_js_/_meta_/msgs/1.idx': 34,
      'ns/jetstream/SYS/_js_/_meta_/snapshots/snap.2.19': 1000,
      'ns/jetstream/SYS/_js_/S-R3F-abc/tav.idx': 16,
      'ns/jetstream/SYS/_js_/S-R3F-abc/peers.idx': 34,
      'ns/jetstream/SYS/_js_/C-R3F-xyz/snapshots/snap.1.1186': 88,
      // tsnats: WAL segments named by their first index
      [`ts/jetstream/SYS/_js_/S-R3F-def/wal/${'1'.padStart(20, '0')}.wal`]: 5000,
      'ts/jetstream/SYS/_js_/C-R3F-uvw/tav.idx': 8,
      'ts/jetstream/SYS/_js_/_meta_/peers.idx': 42,
    };
    // not raft state: the stream's own blocks, the WAL store's meta.inf, files a recovery set aside, temp files
    const others = ['ns/jetstream/APP/streams/CHAOS/msgs/1.blk', 'ns/jetstream/SYS/_js_/_meta_/meta.inf',
      'ts/jetstream/SYS/_js_/_meta_/snapshots/snap.1.5.bad', 'ts/jetstream/SYS/_js_/_meta_/tav.idx.tmp', 'ts/jetstream/SYS/_js_/_meta_/state-lost'];
    for (const [rel, size] of [...Object.entries(files), ...others.map((o) => [o, 100] as const)]) {
      mkdirSync(join(root, rel, '..'), { recursive: true });
      writeFileSync(join(root, rel), Buffer.alloc(size, 0x5a));
    }
    const found = raftFiles(root);
    assert.deepEqual(found.map((p) => p.slice(root.length + 1)), Object.keys(files).sort());

    const sizes = () => found.map((f) => statSync(f).size);
    const contents = () => found.map((f) => readFileSync(f).toString('hex')).join('|');
    const before = contents();
    const note = damageFiles(found, 4, 12345);
    const after = contents();
    const changed = found.filter((f, i) => before.split('|')[i] !== after.split('|')[i]);
    assert.ok(changed.length >= 1 && changed.length <= 4, note);
    for (const f of changed) assert.ok(note.includes(f.slice(f.indexOf('/_js_/') + 6)), `${f} damaged but not reported: ${note}`);
    assert.match(note, /^(?:(?:torn|cut) \S+ \d+->\d+|\S+: flipped .+?)(?:; (?:(?:torn|cut) \S+ \d+->\d+|\S+: flipped .+?))*$/);

    // the same seed on the same files does the same again
    const root2 = join(root, 'again');
    for (const [rel, size] of Object.entries(files)) {
      mkdirSync(join(root2, rel, '..'), { recursive: true });
      writeFileSync(join(root2, rel), Buffer.alloc(size, 0x5a));
    }
    const found2 = raftFiles(root2);
    assert.equal(damageFiles(found2, 4, 12345).replaceAll(root2, root), note);
    assert.deepEqual(found2.map((f) => statSync(f).size), sizes());
    assert.equal(damageFiles([], 3, 1), 'no raft files to damage');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a damaged server has rejoined a group when it leads it or is a current, online replica', () => {
  assert.equal(notRejoined({ leader: 'n1', replicas: [{ name: 'n2', current: true }] }, 'n1'), undefined);
  assert.equal(notRejoined({ leader: 'n1', replicas: [{ name: 'n2', current: true }, { name: 'n3', current: false }] }, 'n2'), undefined);
  assert.equal(notRejoined({ leader: 'n1', replicas: [{ name: 'n3', current: false, lag: 7 }] }, 'n3'), 'current=false offline=false lag=7');
  assert.equal(notRejoined({ leader: 'n1', replicas: [{ name: 'n3', current: true, offline: true }] }, 'n3'), 'current=true offline=true lag=0');
  assert.equal(notRejoined({ leader: 'n1', replicas: [] }, 'n3'), 'not among the replicas (leader n1)');
  assert.equal(notRejoined({ replicas: [] }, 'n3'), 'no leader');
  assert.equal(notRejoined(undefined, 'n3'), 'no leader');
});
