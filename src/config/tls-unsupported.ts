// tsnats has no TLS listener yet. A config that asks for TLS (client `tls {}`,
// `--tls*` flags, `cluster { tls {} }`, the https monitoring port) must stop the
// server at start-up (and fail `-t`): running plaintext where the operator asked
// for encryption and certificate checks would hand cleartext passwords, and a
// port meant for certificate holders only, to anyone who connects.
import type { Options } from './options.js';

/** The reason the options cannot be served without TLS support, or undefined when they ask for no TLS. */
export function tlsUnsupportedError(o: Options): string | undefined {
  const asked: string[] = [];
  if (o.tls) asked.push('client connections (tls block or --tls flags)');
  if (o.cluster?.tls) asked.push('routes (cluster tls block)');
  if (o.httpsPort !== undefined) asked.push('monitoring (https / https_port)');
  if (o.websocket?.port !== undefined && o.websocket.tls) asked.push('websocket (websocket tls block)');
  if (asked.length === 0) return undefined;
  return `TLS is not supported by tsnats yet; refusing to start rather than run without it: TLS requested for ${asked.join(', ')}`;
}
