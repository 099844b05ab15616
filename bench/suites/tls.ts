// TLS suite: pub -> sub throughput with client TLS (issue 13: at least 0.8x
// nats-server). Both servers get the same certificate (made with openssl for the
// run) and the generator offers a single TLS 1.3 cipher suite per row (AES-128-GCM,
// then ChaCha20-Poly1305), so both negotiate the same one; the negotiated suite is
// checked. node's OpenSSL may lack AES instructions where Go has them (see
// BENCHMARKS.md), which is why both suites are shown.

import { rmSync } from 'node:fs';
import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import type { RunningServer, ServerKind } from '../lib/servers.js';
import { measureFanout, type Counts } from '../lib/throughput.js';
import { RawConn, type ConnTls } from '../lib/conn.js';
import { makeCerts } from '../../test/helpers/certs.js';
import { opensslBin } from '../../test/helpers/nats-server.js';

const SUBJECT = 'bench.tls';
const CIPHERS: [suite: string, label: string][] = [
  ['TLS_AES_128_GCM_SHA256', 'AES-128-GCM'], ['TLS_CHACHA20_POLY1305_SHA256', 'ChaCha20-Poly1305'],
];
/** The same runs without TLS (separate servers), so the rows show what TLS itself adds. */
const PLAIN = 'plaintext';
const SIZES = [16, 1024];

export const suite: BenchSuite = {
  name: 'tls',
  description: 'client TLS: pub -> sub throughput, same cipher on both servers',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    if (opensslBin() === undefined) {
      return [{ name: 'TLS pub -> sub', unit: 'msgs/s', tsnats: null, natsServer: null, note: 'openssl not found: no certificates' }];
    }
    const certs = makeCerts();
    const tlsFor = (suite: string): ConnTls => ({ ca: certs.pem(certs.ca), suite });
    const q = ctx.quick;
    const counts = (size: number): Counts => size >= 1024
      ? { warmupMsgs: q ? 20_000 : 50_000, measuredMsgs: q ? 100_000 : 500_000 }
      : { warmupMsgs: q ? 50_000 : 200_000, measuredMsgs: q ? 300_000 : 2_000_000 };
    const rounds = q ? 1 : 3;
    const best = new Map<string, number>();
    const cpuPerMsg = new Map<string, number>();
    const notes: string[] = [];
    const servers = new Map<ServerKind, RunningServer>();
    const plainServers = new Map<ServerKind, RunningServer>();
    try {
      for (const kind of ctx.kinds) {
        try {
          servers.set(kind, await ctx.startServer({ kind, tls: { certFile: certs.serverCert, keyFile: certs.serverKey } }));
          plainServers.set(kind, await ctx.startServer({ kind }));
        } catch (e) {
          notes.push(`${kind} did not start: ${(e as Error).message.split('\n')[0]}`);
        }
      }
      for (const [kind, s] of servers) {
        for (const [suite] of CIPHERS) {
          const probe = await RawConn.open({ port: s.port, name: 'bench-tls-probe', tls: tlsFor(suite) }, false);
          if (probe.tlsCipher !== suite) notes.push(`${kind} negotiated ${probe.tlsCipher} when offered ${suite}`);
          probe.close();
        }
      }
      for (let round = 1; round <= rounds; round++) {
        for (const [kind, tlsServer] of servers) {
          for (const [suite, cipher] of [...CIPHERS, [null, PLAIN] as const]) for (const size of SIZES) {
            const s = suite === null ? plainServers.get(kind) : tlsServer;
            if (s === undefined) continue;
            const label = `tls/${kind} round ${round}/${rounds}: pub -> sub ${size}B ${cipher}`;
            ctx.log(label);
            try {
              const cpu0 = s.cpuSeconds();
              const r = await measureFanout(s.port, s.port, 1, SUBJECT, size, counts(size), q ? 60_000 : 120_000, undefined, undefined, suite === null ? undefined : tlsFor(suite));
              const key = `${kind}/${size}/${cipher}`;
              best.set(key, Math.max(best.get(key) ?? 0, r.deliveredPerSec));
              // Server CPU per message (warm-up included): unlike msgs/s, it does not depend on
              // how much of a shared machine the server was given.
              const c = counts(size);
              const us = ((s.cpuSeconds() - cpu0) / (c.warmupMsgs + c.measuredMsgs)) * 1e6;
              cpuPerMsg.set(key, Math.min(cpuPerMsg.get(key) ?? Infinity, us));
              ctx.log(`${label}: ${Math.round(r.deliveredPerSec)} msgs/s, generator CPU ${(r.generatorCpuShare * 100).toFixed(0)}%`);
            } catch (e) {
              notes.push(`${label} failed: ${(e as Error).message.split('\n')[0]}`);
            }
          }
        }
      }
    } finally {
      for (const s of [...servers.values(), ...plainServers.values()]) await s.stop();
      rmSync(certs.dir, { recursive: true, force: true });
    }
    const rows: BenchRow[] = [...CIPHERS.map(([, c]) => c), PLAIN].flatMap((cipher) => SIZES.flatMap((size): BenchRow[] => [{
      name: cipher === PLAIN ? `plaintext pub -> sub ${size}B (same run, for reference)` : `TLS pub -> sub ${size}B (TLS 1.3 ${cipher})`,
      unit: 'msgs/s',
      tsnats: best.get(`tsnats/${size}/${cipher}`) ?? null,
      natsServer: best.get(`nats-server/${size}/${cipher}`) ?? null,
      target: cipher === PLAIN ? undefined : { kind: 'ratio-at-least', ratio: 0.8 },
    }, {
      name: `  server CPU per message, ${size}B ${cipher}`,
      unit: 'us',
      tsnats: cpuPerMsg.get(`tsnats/${size}/${cipher}`) ?? null,
      natsServer: cpuPerMsg.get(`nats-server/${size}/${cipher}`) ?? null,
    }]));
    if (notes.length > 0) rows[0]!.note = notes.join('; ');
    return rows;
  },
};
