// How nats-server 2.9.10 carries a client's JetStream API request across a cluster, and
// what a tsnats member does with it. nats-server does not route the request in the client's
// account: the account's `$JS.API.>` service import moves it into the system account, with
// the reply rewritten to a service-import reply `_R_.<prefix>.<id>` and the client's account
// in a `Nats-Request-Info` header, e.g.
//   $JS.API.STREAM.CREATE.S3  reply _R_.i5cLko.ctekjp
//   Nats-Request-Info: {"acc":"APP","rtt":1044251,"server":"n1","cluster":"C1"}
// The answer — from the meta leader, or from the server that holds the asset — is published
// in the system account on that `_R_` subject; the client's server maps it back to the
// client's inbox. The meta leader also copies the `_R_` reply into the stream / consumer
// assignment, so the holder must answer there in the system account.
//
// A tsnats server also receives the client's account copy of the request (it subscribes to
// `$JS.API.>` in every JetStream account, so routes carry that interest): it answers that
// one, and ignores the system-account copy, which would otherwise be answered a second time
// (as a request of the system account).

const REQUEST_INFO = 'Nats-Request-Info';

/** A reply subject made by a nats-server service import (it lives in the system account). */
export function isServiceImportReply(reply: string): boolean {
  return reply.startsWith('_R_.');
}

/** The `acc` of a Nats-Request-Info header, or undefined. */
export function requestInfoAccount(headers: Buffer | undefined): string | undefined {
  if (headers === undefined || headers.length === 0) return undefined;
  for (const line of headers.toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    if (i <= 0 || line.slice(0, i).trim().toLowerCase() !== REQUEST_INFO.toLowerCase()) continue;
    try {
      const ci = JSON.parse(line.slice(i + 1).trim()) as { acc?: unknown };
      return typeof ci.acc === 'string' ? ci.acc : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A request that reached this server in the system account over a route as nats-server's
 * service import puts it there for another account: its account copy is handled instead.
 */
export function isImportedCopy(req: { accountName: string; headers: Buffer | undefined; origin: { kind: string } },
  systemAccount: string): boolean {
  if (req.origin.kind !== 'route' || req.accountName !== systemAccount) return false;
  const acc = requestInfoAccount(req.headers);
  return acc !== undefined && acc !== systemAccount;
}
