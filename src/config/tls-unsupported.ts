// TLS settings tsnats cannot honour stop the server at start-up (and fail `-t`): running
// without them where the operator asked for encryption or a certificate check would hand
// cleartext passwords, or a port meant for certificate holders only, to anyone who
// connects. Client, route and https monitoring TLS are served (src/tls/); what is listed
// here is not.
import type { Options, TlsConfig } from './options.js';

function blockProblems(where: string, t: TlsConfig | undefined, out: string[]): void {
  if (t === undefined) return;
  if (!t.certFile && !(t.certificates && t.certificates.length > 0)) {
    out.push(`${where}: no cert_file/key_file (cert_store, the Windows certificate store, is not supported)`);
  }
  if (t.certificates && t.certificates.length > 1) out.push(`${where}: more than one certificate in 'certs'`);
  if (t.connectionRateLimit !== undefined && t.connectionRateLimit > 0) out.push(`${where}: connection_rate_limit`);
  for (const k of new Set(t.unsupported ?? [])) out.push(`${where}: ${k}`);
}

/** The reason the options cannot be served, or undefined when tsnats serves all the TLS they ask for. */
export function tlsUnsupportedError(o: Options): string | undefined {
  const problems: string[] = [];
  blockProblems('client connections (tls block)', o.tls, problems);
  blockProblems('routes (cluster tls block)', o.cluster?.tls, problems);
  if (o.cluster?.tls?.verifyAndMap) problems.push('routes (cluster tls block): verify_and_map');
  if (o.websocket?.port !== undefined) blockProblems('websocket (tls block)', o.websocket.tls, problems);
  if (o.leafnodes?.port !== undefined) blockProblems('leafnodes (tls block)', o.leafnodes.tls, problems);
  // A remote's tls block is the dialling side: a client certificate is optional there.
  for (const r of o.leafnodes?.remotes ?? []) {
    if (r.tls?.certificates && r.tls.certificates.length > 1) problems.push("leafnodes remote (tls block): more than one certificate in 'certs'");
    for (const k of new Set(r.tls?.unsupported ?? [])) problems.push(`leafnodes remote (tls block): ${k}`);
  }
  for (const u of o.unsupported) {
    if (u.endsWith(' tls')) problems.push(`${u.slice(0, -4)} (tls block; tsnats has no ${u.slice(0, -4)} listener)`);
  }
  if (problems.length === 0) return undefined;
  return `TLS setting not supported by tsnats; refusing to start rather than run without it: ${problems.join(', ')}`;
}
