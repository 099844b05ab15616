// JetStream stream advisories published in the account, as nats-server does:
//   $JS.EVENT.ADVISORY.STREAM.CREATED|DELETED|UPDATED.<stream>  (io.nats.jetstream.advisory.v1.stream_action)
//   $JS.EVENT.ADVISORY.API                                       (io.nats.jetstream.advisory.v1.api_audit)
// They are only built when someone in the account listens, so they cost nothing otherwise.

import { nuid } from '@nats-io/nuid';
import type { Account } from '../core/account.js';
import { goJson, goTimeFromNanos } from './api/json.js';

export type StreamAction = 'create' | 'delete' | 'modify';

const ACTION_SUBJECT: Record<StreamAction, string> = {
  create: '$JS.EVENT.ADVISORY.STREAM.CREATED.',
  delete: '$JS.EVENT.ADVISORY.STREAM.DELETED.',
  modify: '$JS.EVENT.ADVISORY.STREAM.UPDATED.',
};
export const API_AUDIT_SUBJECT = '$JS.EVENT.ADVISORY.API';

type Publish = (subject: string, payload: string) => void;

const nowText = (): string => goTimeFromNanos(BigInt(Date.now()) * 1_000_000n);

export function publishStreamAction(account: Account, publish: Publish, stream: string, action: StreamAction, domain?: string): void {
  const subject = ACTION_SUBJECT[action] + stream;
  if (!account.sublist.hasInterest(subject)) return;
  const body: Record<string, unknown> = {
    type: 'io.nats.jetstream.advisory.v1.stream_action', id: nuid.next(), timestamp: nowText(), stream, action,
  };
  if (domain) body.domain = domain;
  publish(subject, goJson(body));
}

export function publishApiAudit(account: Account, publish: Publish, info: {
  server: string; subject: string; request: string; response: string; domain?: string;
}): void {
  if (!account.sublist.hasInterest(API_AUDIT_SUBJECT)) return;
  const body: Record<string, unknown> = {
    type: 'io.nats.jetstream.advisory.v1.api_audit', id: nuid.next(), timestamp: nowText(), server: info.server,
    client: { acc: account.name, server: info.server }, subject: info.subject,
  };
  if (info.request) body.request = info.request;
  body.response = info.response;
  if (info.domain) body.domain = info.domain;
  publish(API_AUDIT_SUBJECT, goJson(body));
}
