// Dispatch of $JS.API requests to handlers by subject pattern. One router per
// JetStream service; each account's internal `$JS.API.>` subscription feeds it.
// Patterns are relative to "$JS.API." and use NATS wildcards, e.g. "STREAM.CREATE.*",
// "CONSUMER.CREATE.*.>". A request matching no pattern gets no reply, as with nats-server.

import type { MsgOrigin } from '../../core/types.js';
import { tokensMatchFilter } from '../subjects.js';

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

interface Route {
  pattern: string;
  /** The pattern's tokens, split once. */
  tokens: string[];
  handler: ApiHandler;
  /** Registration order: the earliest matching route wins. */
  order: number;
}

/**
 * Every server gets every request of an account (each subscribes `$JS.API.>`), pull requests
 * included, so `find` runs often: it splits the subject once and only tries the routes whose
 * first token can match, instead of splitting subject and pattern for every route.
 */
export class ApiRouter {
  private routes: Route[] = [];
  /** Routes by their pattern's first token; those starting with a wildcard are in `wild`. */
  private byFirst = new Map<string, Route[]>();
  private wild: Route[] = [];
  private nextOrder = 0;

  /** Register `handler` for subjects "$JS.API.<pattern>". Later registrations of the same pattern replace earlier ones. */
  add(pattern: string, handler: ApiHandler): void {
    this.routes = this.routes.filter((r) => r.pattern !== pattern);
    this.routes.push({ pattern, tokens: pattern.split('.'), handler, order: this.nextOrder++ });
    this.byFirst.clear();
    this.wild = [];
    for (const r of this.routes) {
      const first = r.tokens[0]!;
      if (first === '*' || first === '>') this.wild.push(r);
      else {
        const list = this.byFirst.get(first);
        if (list) list.push(r);
        else this.byFirst.set(first, [r]);
      }
    }
  }

  /** The handler for a "$JS.API.…" subject, or undefined. */
  find(subject: string): ApiHandler | undefined {
    const st = subject.slice(API_PREFIX.length).split('.');
    let best = firstMatch(this.byFirst.get(st[0]!), st);
    const w = firstMatch(this.wild, st);
    if (w !== undefined && (best === undefined || w.order < best.order)) best = w;
    return best?.handler;
  }
}

function firstMatch(routes: Route[] | undefined, st: string[]): Route | undefined {
  if (routes === undefined) return undefined;
  for (const r of routes) if (tokensMatchFilter(st, r.tokens)) return r;
  return undefined;
}
