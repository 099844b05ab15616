// 2.9.10's info requests from the meta leader to group leaders: a nats-server meta leader gathers
// STREAM.LIST by asking every stream leader on `$JSC.SI.<account>.<stream>` and CONSUMER.LIST by
// asking every consumer leader on `$JSC.CI.<account>.<stream>.<consumer>`, in the system account,
// and lists an asset whose leader does not answer as "missing". A tsnats group leader subscribes
// there while it leads and answers with the body of its own STREAM.INFO / CONSUMER.INFO answer
// (StreamInfo / ConsumerInfo: the API type and paging fields dropped), in the system account.
import type { ClusteredJetStream } from './js-cluster.js';

export const streamInfoSubject = (account: string, stream: string): string => `$JSC.SI.${account}.${stream}`;
export const consumerInfoSubject = (account: string, stream: string, consumer: string): string =>
  `$JSC.CI.${account}.${stream}.${consumer}`;

/**
 * Answer `subject` (system account) with the info body of the local `apiSubject` request while
 * `isLeader()` holds. Returns the unsubscribe.
 */
export function serveLeaderInfo(
  c: ClusteredJetStream, subject: string, account: string, apiSubject: string, isLeader: () => boolean,
  onRespond?: (body: string) => string,
): () => void {
  return c.subscribeSystem(subject, (_s, reply) => {
    if (!reply || !isLeader()) return;
    void c.runLocal(account, apiSubject, '', '', onRespond ? (b) => onRespond(b) : undefined).then((res) => {
      if (!res || res.error) return;
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(onRespond ? onRespond(res.body) : res.body) as Record<string, unknown>;
      } catch {
        return;
      }
      delete j.type; delete j.total; delete j.offset; delete j.limit;
      c.publishSystem(reply, JSON.stringify(j));
    });
  });
}
