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
    const notes: string[] = [];
    const servers = new Map<ServerKind, RunningServer>();
    try {
      for (const kind of ctx.kinds) {
        try {
          servers.set(kind, await ctx.startServer({ kind, tls: { certFile: certs.serverCert, keyFile: certs.serverKey } }));
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
        for (const [kind, s] of servers) {
          for (const [suite, cipher] of CIPHERS) for (const size of SIZES) {
            const label = `tls/${kind} round ${round}/${rounds}: pub -> sub ${size}B ${cipher}`;
            ctx.log(label);
            try {
              const r = await measureFanout(s.port, s.port, 1, SUBJECT, size, counts(size), q ? 60_000 : 120_000, undefined, undefined, tlsFor(suite));
              const key = `${kind}/${size}/${cipher}`;
              best.set(key, Math.max(best.get(key) ?? 0, r.deliveredPerSec));
              ctx.log(`${label}: ${Math.round(r.deliveredPerSec)} msgs/s, generator CPU ${(r.generatorCpuShare * 100).toFixed(0)}%`);
            } catch (e) {
              notes.push(`${label} failed: ${(e as Error).message.split('\n')[0]}`);
            }
          }
        }
      }
    } finally {
      for (const s of servers.values()) await s.stop();
      rmSync(certs.dir, { recursive: true, force: true });
    }
    const rows: BenchRow[] = CIPHERS.flatMap(([, cipher]) => SIZES.map((size): BenchRow => ({
      name: `TLS pub -> sub ${size}B (TLS 1.3 ${cipher})`,
      unit: 'msgs/s',
      tsnats: best.get(`tsnats/${size}/${cipher}`) ?? null,
      natsServer: best.get(`nats-server/${size}/${cipher}`) ?? null,
      target: { kind: 'ratio-at-least', ratio: 0.8 },
    })));
    if (notes.length > 0) rows[0]!.note = notes.join('; ');
    return rows;
  },
};
