// /healthz (nats-server monitor.go healthz): is the server ready, and — when
// JetStream is configured — is it running with its accounts, streams and
// consumers recovered. Probes only read the HTTP status: 200, 503, 400, 404.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../server/server.js';
import { jetStreamSource } from './sources.js';
import { isSpareName } from '../jetstream/stream-dir-spares.js';

export interface HealthzOptions {
  jsEnabled?: boolean;
  jsEnabledOnly?: boolean;
  jsServerOnly?: boolean;
  jsMetaOnly?: boolean;
  account?: string;
  stream?: string;
  consumer?: string;
  details?: boolean;
}

type ErrorType = 'CONNECTION' | 'BAD_REQUEST' | 'JETSTREAM' | 'ACCOUNT' | 'STREAM' | 'CONSUMER';

export interface HealthStatus {
  status: string;
  status_code: number;
  error?: string;
  errors?: { type: ErrorType; account?: string; stream?: string; consumer?: string; error: string }[];
  /** tsnats: with details, the long work still running (store recovery, catch-up, restore) and how far it is. */
  progress?: Record<string, unknown>[];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

export function healthz(server: Server, opts: HealthzOptions): HealthStatus {
  const details = opts.details === true;
  const h: HealthStatus = { status: 'ok', status_code: 0 };
  const fail = (code: number, status: string, type: ErrorType, error: string, where: { account?: string; stream?: string; consumer?: string } = {}): HealthStatus => {
    h.status_code = code;
    if (details) {
      // "not found" replaces whatever was collected, as nats-server reports it
      h.errors = [...(code === 404 ? [] : h.errors ?? []), { type, ...where, error }];
    } else {
      h.status = status;
      h.error = error;
    }
    return finish();
  };
  const finish = (): HealthStatus => {
    const work = details ? jetStreamSource(server)?.progressReports?.() ?? [] : [];
    if (work.length > 0) h.progress = work;
    if (details) h.status = h.errors && h.errors.length > 0 ? 'error' : 'ok';
    if (h.status_code === 0) h.status_code = h.error || (h.errors && h.errors.length > 0) ? 503 : 200;
    return h;
  };

  if (!opts.account && opts.stream) {
    return fail(400, 'error', 'BAD_REQUEST', '"account" must not be empty when checking stream health');
  }
  if (!opts.stream && opts.consumer) {
    return fail(400, 'error', 'BAD_REQUEST', '"stream" must not be empty when checking consumer health');
  }
  if (!server.running || server.shuttingDown) {
    return fail(500, 'error', 'CONNECTION', 'server is not running');
  }
  if (opts.jsServerOnly) return finish();
  if (!server.options.jetstream.enabled) return finish();
  const js = jetStreamSource(server);
  if (!js) return fail(503, 'unavailable', 'JETSTREAM', 'JetStream not enabled');
  if (opts.jsEnabledOnly || opts.jsEnabled) return finish();
  // Clustered: JetStream is healthy only once the meta layer has recovered and is current.
  const metaErr = js.clustered?.healthError();
  if (metaErr) return fail(503, 'unavailable', 'JETSTREAM', metaErr);
  if (opts.jsMetaOnly) return finish();
  // Clustered: every stream and consumer assigned here must be current (not-found answers follow below).
  let consumerAssigned = false;
  if (js.clustered) {
    const ah = js.clustered.assetHealth(opts, !details);
    consumerAssigned = ah.consumerAssigned;
    const errs = ah.errors;
    if (errs.length > 0) {
      if (!details) return fail(503, 'unavailable', errs[0]!.type, errs[0]!.error);
      h.errors = [...(h.errors ?? []), ...errs];
    }
  }

  // Single server: every stream directory on disk must have been recovered.
  const accounts = js.allJsAccounts();
  let accountFound = false;
  let streamFound = false;
  let consumerFound = false;
  for (const accName of listDir(js.storeRoot)) {
    if (opts.account) {
      if (accName !== opts.account) continue;
      accountFound = true;
    }
    const jsa = accounts.find((a) => a.name === accName);
    for (const streamName of listDir(join(js.storeRoot, accName, 'streams'))) {
      if (isSpareName(streamName)) continue; // a prepared directory for a later create, not a stream
      if (opts.stream) {
        if (streamName !== opts.stream) continue;
        streamFound = true;
      }
      const stream = jsa?.streams.get(streamName);
      if (!stream) {
        const msg = `JetStream stream '${accName} > ${streamName}' could not be recovered`;
        if (!details) return fail(503, 'unavailable', 'STREAM', msg);
        h.errors = [...(h.errors ?? []), { type: 'STREAM', account: accName, stream: streamName, error: msg }];
        continue;
      }
      if (streamFound) {
        if (opts.consumer && (consumerAssigned || stream.getConsumer?.(opts.consumer) !== undefined)) consumerFound = true;
        break;
      }
    }
    if (accountFound) break;
  }
  // An account with JetStream but no stream yet has no directory: still found.
  if (opts.account && !accountFound && accounts.some((a) => a.name === opts.account) && !opts.stream) accountFound = true;
  if (opts.account && !accountFound) {
    return fail(404, 'unavailable', 'ACCOUNT', `JetStream account "${opts.account}" not found`, { account: opts.account });
  }
  if (opts.stream && !streamFound) {
    return fail(404, 'unavailable', 'STREAM', `JetStream stream "${opts.stream}" not found on account "${opts.account}"`,
      { account: opts.account, stream: opts.stream });
  }
  if (opts.consumer && !consumerFound) {
    return fail(404, 'unavailable', 'CONSUMER',
      `JetStream consumer "${opts.consumer}" not found for stream "${opts.stream}" on account "${opts.account}"`,
      { account: opts.account, stream: opts.stream, consumer: opts.consumer });
  }
  return finish();
}
