// `cipher_suites` and `curve_preferences` of a client tls block, side by side with nats-server
// 2.9.10 (same config file): a TLS 1.2 client offering only a suite or a curve the server did
// not list gets no connection, one offering the listed suite gets that suite; TLS 1.3 suites
// are not configurable (Go's, and so nats-server's), the curves apply there too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCerts, type CertFiles } from '../helpers/certs.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';

const skip = opensslSkip() || natsServerSkip();

/** The suite negotiated after the plaintext INFO, or "refused" when the handshake fails. */
async function handshake(port: number, c: CertFiles, opts: tls.ConnectionOptions): Promise<string> {
  const raw = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      const onData = (b: Buffer): void => {
        seen += b.toString('latin1');
        if (!seen.includes('\r\n')) return;
        raw.off('data', onData);
        resolve();
      };
      raw.on('data', onData);
      raw.once('error', reject);
    });
    return await new Promise<string>((resolve) => {
      const sock = tls.connect({ socket: raw, host: '127.0.0.1', ca: c.pem(c.ca), ...opts }, () => {
        const suite = sock.getCipher().name;
        sock.destroy();
        resolve(suite);
      });
      sock.on('error', () => resolve('refused'));
    });
  } finally {
    raw.destroy();
  }
}

test('cipher_suites and curve_preferences: the same handshakes succeed and fail as with nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const conf = join(c.dir, 'ciphers.conf');
  writeFileSync(conf, [
    'listen: 127.0.0.1:-1',
    `tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}"`,
    '  cipher_suites: ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]',
    '  curve_preferences: ["CurveP256"] }',
  ].join('\n'));
  const tls12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
  const run = async (s: ChildServer): Promise<Record<string, string>> => {
    try {
      return {
        listed: await handshake(s.port, c, { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' }),
        unlisted: await handshake(s.port, c, { ...tls12, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }),
        otherCurve: await handshake(s.port, c, { ...tls12, ecdhCurve: 'X25519' }),
        tls13: await handshake(s.port, c, { minVersion: 'TLSv1.3' }),
        tls13OtherCurve: await handshake(s.port, c, { minVersion: 'TLSv1.3', ecdhCurve: 'X25519' }),
      };
    } finally {
      await s.stop();
    }
  };
  const ns = await run(await spawnNatsServer(['-c', conf]));
  const ts = await run(await spawnTsnats(['-c', conf]));
  assert.equal(ts.listed, 'ECDHE-ECDSA-AES128-GCM-SHA256');
  assert.equal(ts.unlisted, 'refused');
  assert.equal(ts.otherCurve, 'refused');
  assert.deepEqual(ts, ns);
});
