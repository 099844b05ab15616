// STREAM.SNAPSHOT and STREAM.RESTORE with nats-server's chunked, acknowledged protocol
// (what the `nats` CLI / jsm.go speak):
//
// Snapshot: the request names a deliver subject. The server answers with
// {"type":"…stream_snapshot_response","config":…,"state":…}, then sends chunks to the
// deliver subject, each with reply "$JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<index>"; at most
// window_size/chunk_size chunks are unacknowledged (any message to the reply is an ack).
// The end is an empty message with header "NATS/1.0 204" (errors: "NATS/1.0 408 No Flow
// Response", "NATS/1.0 500 <err>").
//
// Restore: the answer carries deliver_subject "$JS.SNAPSHOT.RESTORE.<stream>.<id>"; the
// client publishes chunks there with a reply subject and the server acknowledges each with
// an empty message. An empty chunk ends the upload; its reply receives the
// stream_create_response of the restored stream (or an error).
//
// The chunk bytes are tsnats's own store snapshot format (store/snapshot.ts): a snapshot
// taken from tsnats restores into tsnats; nats-server archives are not readable here.

import { randomBytes } from 'node:crypto';
import type { ApiRouter } from './api/router.js';
import { decodeBody, guarded, isEmptyBody, requireAccount, sendOk, type JsApiContext } from './api/context.js';
import { jsErr, jsErrText, unlessApiError } from './api/errors.js';
import {
  ResponseType, encodeStreamConfig, snapshotRequestSchema, restoreRequestSchema,
  type SnapshotRequest, type RestoreRequest,
} from './api/types.js';
import { checkStreamConfig } from './stream-config.js';
import { isValidLiteralSubject } from './subjects.js';
import type { JetStreamService } from './index.js';
import type { JsAccount } from './js-account.js';
import type { Stream } from './stream.js';
import { restoreSnapshot } from './store/snapshot.js';
import { trackChunks } from './progress.js';

const DEFAULT_CHUNK = 128 * 1024;
const DEFAULT_WINDOW = 8 * 1024 * 1024;
const ACK_TIMEOUT_MS = 5000;
const RESTORE_IDLE_MS = 5000;

const newId = (): string => randomBytes(11).toString('base64url').replace(/[-_]/g, 'x');

export function registerSnapshotApi(router: ApiRouter, ctx: JsApiContext, js: JetStreamService): void {
  router.add('STREAM.SNAPSHOT.*', (req) => guarded(ctx, req, ResponseType.StreamSnapshot, () => {
    const acc = requireAccount(ctx, req);
    if (isEmptyBody(req.payload)) throw jsErr('BadRequest');
    const stream = acc.streams.get(req.tokens[2]!);
    if (!stream) throw jsErr('StreamNotFound');
    const body = decodeBody<SnapshotRequest>(ctx, req, snapshotRequestSchema, 'JSApiStreamSnapshotRequest');
    const deliver = body.deliver_subject ?? '';
    if (!deliver || !isValidLiteralSubject(deliver)) throw jsErr('SnapshotDeliverSubjectInvalid');
    const { state } = stream.stateJson();
    sendOk(ctx, req, ResponseType.StreamSnapshot, { config: encodeStreamConfig(stream.config), state });
    void sendSnapshot(ctx, acc, stream, body, deliver).catch((e) => js.server.log.warn(`snapshot of ${stream.name}: ${String(e)}`));
  }));

  router.add('STREAM.RESTORE.*', (req) => guarded(ctx, req, ResponseType.StreamRestore, () => {
    const acc = requireAccount(ctx, req);
    if (isEmptyBody(req.payload)) throw jsErr('BadRequest');
    const body = decodeBody<RestoreRequest>(ctx, req, restoreRequestSchema, 'JSApiStreamRestoreRequest');
    const name = req.tokens[2]!;
    const cfgReq = { ...(body.config ?? {}) };
    if (!cfgReq.name) cfgReq.name = name;
    if (cfgReq.name !== name) throw jsErr('StreamMismatch');
    if (/[\\/]/.test(name)) throw jsErr('StreamNameContainsPathSeparators');
    const cfg = checkStreamConfig(cfgReq, acc.configContext(cfgReq.storage === 'memory' ? 'memory' : 'file'));
    if (acc.limits.maxStreams > 0 && acc.streams.size >= acc.limits.maxStreams) throw jsErr('MaximumStreamsLimit');
    if (acc.streams.has(name)) throw jsErr('StreamNameExistRestoreFailed');
    const deliver = `$JS.SNAPSHOT.RESTORE.${name}.${newId()}`;
    receiveRestore(ctx, js, acc, cfg, req.accountName, deliver);
    sendOk(ctx, req, ResponseType.StreamRestore, { deliver_subject: deliver });
  }));
}

async function sendSnapshot(ctx: JsApiContext, acc: JsAccount, stream: Stream, req: SnapshotRequest, deliver: string): Promise<void> {
  const chunkSize = Math.min(Math.max(1024, req.chunk_size || DEFAULT_CHUNK), 1024 * 1024);
  const windowSize = Math.max(Math.min(Math.max(1024, req.window_size || DEFAULT_WINDOW), 32 * 1024 * 1024), chunkSize);
  const maxInflight = Math.floor(windowSize / chunkSize);
  const ackSubject = `$JS.SNAPSHOT.ACK.${stream.name}.${newId()}`;
  let slots = maxInflight;
  let wake: (() => void) | undefined;
  const unsub = ctx.subscribe(acc.name, ackSubject + '.>', () => {
    slots++;
    wake?.();
  });
  const publish = (reply: string, hdr: Buffer | undefined, data: Buffer): void => ctx.publishRaw(acc.name, deliver, reply, hdr, data);
  let endHeader = Buffer.from('NATS/1.0 204\r\n\r\n');
  try {
    const source = stream.store.snapshot(req.no_consumers !== true);
    let pending: Buffer = Buffer.alloc(0);
    let index = 1;
    const sendChunk = async (chunk: Buffer, last: boolean): Promise<boolean> => {
      while (slots <= 0) {
        const ok = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => { wake = undefined; resolve(false); }, ACK_TIMEOUT_MS);
          wake = () => { clearTimeout(t); wake = undefined; resolve(true); };
        });
        if (!ok) return false;
      }
      slots--;
      publish(last ? '' : `${ackSubject}.${chunk.length}.${index}`, undefined, chunk);
      index++;
      return true;
    };
    for await (const part of source) {
      pending = pending.length ? Buffer.concat([pending, part]) : part;
      while (pending.length >= chunkSize) {
        if (!(await sendChunk(pending.subarray(0, chunkSize), false))) {
          endHeader = Buffer.from('NATS/1.0 408 No Flow Response\r\n\r\n');
          return;
        }
        pending = pending.subarray(chunkSize);
      }
    }
    if (pending.length && !(await sendChunk(pending, true))) endHeader = Buffer.from('NATS/1.0 408 No Flow Response\r\n\r\n');
  } catch (e) {
    endHeader = Buffer.from(`NATS/1.0 500 ${e instanceof Error ? e.message : String(e)}\r\n\r\n`);
  } finally {
    unsub();
    publish('', endHeader, Buffer.alloc(0));
  }
}

function receiveRestore(ctx: JsApiContext, js: JetStreamService, acc: JsAccount,
  cfg: import('./api/types.js').StreamConfig, accountName: string, deliver: string): void {
  const chunks: Buffer[] = [];
  let idle: NodeJS.Timeout | undefined;
  let done = false;
  const finish = (): void => {
    done = true;
    if (idle) clearTimeout(idle);
    unsub();
  };
  const resetIdle = (): void => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => finish(), RESTORE_IDLE_MS);
    idle.unref?.();
  };
  const answer = (reply: string, body: Record<string, unknown>): void => {
    if (reply) ctx.publishRaw(accountName, reply, '', undefined, JSON.stringify(body));
  };
  const unsub = ctx.subscribe(accountName, deliver, (_s, reply, _h, payload) => {
    if (done) return;
    if (!reply) {
      finish();
      return;
    }
    if (payload.length > 0) {
      chunks.push(Buffer.from(payload));
      resetIdle();
      ctx.publishRaw(accountName, reply, '', undefined, Buffer.alloc(0));
      return;
    }
    finish();
    void (async () => {
      if (acc.streams.has(cfg.name)) throw jsErr('StreamNameExistRestoreFailed');
      const createdNs = BigInt(Date.now()) * 1_000_000n;
      const store = await js.stores.open(acc.name, cfg, createdNs);
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const task = js.progress?.begin(`JetStream: restoring stream '${acc.name} > ${cfg.name}' from a snapshot`, 'bytes', total);
      try {
        await restoreSnapshot(store, task ? trackChunks(chunks, task) : chunks);
        task?.end('restored');
      } catch (e) {
        task?.end('failed');
        await store.delete().catch(() => {});
        if (cfg.storage === 'file') await js.stores.removeDir(acc.name, cfg.name).catch(() => {});
        throw jsErrText('StreamRestore', e instanceof Error ? e.message : String(e));
      }
      await js.stores.saveMeta(acc.name, cfg, createdNs);
      const stream = js.adoptRestoredStream(acc, cfg, store, createdNs);
      const { info } = stream.info();
      delete info.cluster;
      answer(reply, { type: ResponseType.StreamCreate, ...info, did_create: true });
    })().catch((e) => {
      const err = unlessApiError('StreamRestore', e);
      answer(reply, { type: ResponseType.StreamCreate, error: err.toJSON() });
    });
  });
  resetIdle();
}
