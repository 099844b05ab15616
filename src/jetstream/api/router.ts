// Dispatch of $JS.API requests to handlers by subject pattern. One router per
// JetStream service; each account's internal `$JS.API.>` subscription feeds it.
// Patterns are relative to "$JS.API." and use NATS wildcards, e.g. "STREAM.CREATE.*",
// "CONSUMER.CREATE.*.>". A request matching no pattern gets no reply, as with nats-server.

import type { MsgOrigin } from '../../core/types.js';
import { subjectMatchesFilter } from '../subjects.js';

export interface ApiRequest {
  /** Name of the account the request was published in. */
  accountName: string;
  /** Normalised subject: always "$JS.API.…" (a domain prefix is removed). */
  subject: string;
  /** Tokens after "$JS.API." */
  tokens: string[];
  reply: string;
  headers: Buffer | undefined;
  /** The request body (a private copy; safe to keep). */
  payload: Buffer;
  origin: MsgOrigin;
  /**
   * Clustered JetStream: sees every answer before it is sent and returns the body to
   * send (e.g. with the cluster block added), or null to send nothing and count nothing.
   */
  onRespond?: (body: string, isError: boolean) => string | null;
}

export type ApiHandler = (req: ApiRequest) => void | Promise<void>;

export const API_PREFIX = '$JS.API.';

export class ApiRouter {
  private routes: Array<{ pattern: string; handler: ApiHandler }> = [];

  /** Register `handler` for subjects "$JS.API.<pattern>". Later registrations of the same pattern replace earlier ones. */
  add(pattern: string, handler: ApiHandler): void {
    this.routes = this.routes.filter((r) => r.pattern !== pattern);
    this.routes.push({ pattern, handler });
  }

  /** The handler for a "$JS.API.…" subject, or undefined. */
  find(subject: string): ApiHandler | undefined {
    const rest = subject.slice(API_PREFIX.length);
    for (const r of this.routes) if (subjectMatchesFilter(rest, r.pattern)) return r.handler;
    return undefined;
  }
}
