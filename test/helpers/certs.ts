// Certificates for TLS tests, made with openssl in a temp dir: a CA, a server
// certificate for 127.0.0.1/localhost, client certificates, and a second CA that
// signed nothing the server trusts. Removed after the test when `t` is given.
import type { TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireOpenssl } from './nats-server.js';

export interface CertFiles {
  dir: string;
  ca: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** a CA that signed nothing here, and its key (a certificate the CA above did not sign) */
  otherCa: string;
  otherCaKey: string;
  /** PEM contents, for client options */
  pem(path: string): string;
  /** another certificate signed by the CA: `subject` like "/CN=bob/O=acme", SANs like "email:bob@acme.io" */
  issue(name: string, subject: string, sans?: string[]): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync(requireOpenssl(), args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', key, '-out', cert], dir);
  return { cert, key };
}

function issue(dir: string, ca: { cert: string; key: string }, name: string, subject: string, sans: string[], usage: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', subject,
    '-keyout', key, '-out', csr], dir);
  const lines = [`extendedKeyUsage=${usage}`, 'basicConstraints=CA:FALSE'];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  writeFileSync(ext, lines.join('\n') + '\n');
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2',
    '-extfile', ext, '-out', cert], dir);
  return { cert, key };
}

/** A fresh set of certificates (needs openssl: use opensslSkip() as the test's skip option). */
export function makeCerts(t?: TestContext): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-certs-'));
  if (t) t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, ca, 'server', '/CN=localhost/O=tsnats', ['IP:127.0.0.1', 'DNS:localhost'], 'serverAuth,clientAuth');
  const client = issue(dir, ca, 'client', '/CN=client/OU=tests/O=tsnats', ['email:client@tsnats.test'], 'clientAuth');
  return {
    dir, ca: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key,
    clientCert: client.cert, clientKey: client.key, otherCa: other.cert, otherCaKey: other.key,
    pem: (p) => readFileSync(p, 'utf8'),
    issue: (name, subject, sans = []) => issue(dir, ca, name, subject, sans, 'clientAuth'),
  };
}
