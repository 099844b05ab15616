// The CONSUMER.CREATE / DURABLE.CREATE subject and body checks shared by the standalone API
// (consumer/api.ts) and the clustered meta leader (cluster/cluster-api.ts): nats-server 2.9.10's
// jsConsumerCreate order (stream mismatch, path separators, durable rules, ephemeral with durable,
// filter subject), so both paths answer the same error when a request breaks several rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsumerTarget, type CreateConsumerBody } from '../../src/jetstream/consumer/create-request.js';
import { ApiError, jsErr, type JSErrorName } from '../../src/jetstream/api/errors.js';

/** Tokens after "$JS.API." */
const tok = (s: string): string[] => s.split('.');

function errOf(body: CreateConsumerBody, subject: string): ApiError {
  try {
    createConsumerTarget(body, tok(subject));
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    return e;
  }
  assert.fail(`no error for ${subject} ${JSON.stringify(body)}`);
}

function assertErr(body: CreateConsumerBody, subject: string, name: JSErrorName): void {
  const e = errOf(body, subject);
  const want = jsErr(name);
  assert.deepEqual([e.code, e.errCode, e.description], [want.code, want.errCode, want.description], `${subject} ${JSON.stringify(body)}`);
}

test('legacy durable create: subject shape, then stream mismatch, path separators, durable name rules', () => {
  assertErr({ stream_name: 'S', config: { durable_name: 'D' } }, 'CONSUMER.DURABLE.CREATE.S', 'ConsumerDurableNameNotInSubject');
  // Several rules broken: the stream mismatch is reported first (nats-server order).
  assertErr({ stream_name: 'X', config: {} }, 'CONSUMER.DURABLE.CREATE.S.D', 'StreamMismatch');
  assertErr({ stream_name: 'S', config: {} }, 'CONSUMER.DURABLE.CREATE.S.a/b', 'ConsumerNameContainsPathSeparators');
  assertErr({ stream_name: 'S', config: {} }, 'CONSUMER.DURABLE.CREATE.S.D', 'ConsumerDurableNameNotSet');
  assertErr({ stream_name: 'S', config: { durable_name: 'E' } }, 'CONSUMER.DURABLE.CREATE.S.D', 'ConsumerDurableNameNotMatchSubject');
  const ok = createConsumerTarget({ stream_name: 'S', config: { durable_name: 'D' } }, tok('CONSUMER.DURABLE.CREATE.S.D'));
  assert.deepEqual([ok.streamName, ok.consumerName, ok.config.name, ok.config.durable_name], ['S', 'D', 'D', 'D']);
});

test('legacy ephemeral create: stream mismatch before the durable-name refusal; no name is left to the server', () => {
  assertErr({ stream_name: 'X', config: { durable_name: 'D' } }, 'CONSUMER.CREATE.S', 'StreamMismatch');
  assertErr({ stream_name: 'S', config: { durable_name: 'D' } }, 'CONSUMER.CREATE.S', 'ConsumerEphemeralWithDurableName');
  const ok = createConsumerTarget({ stream_name: 'S', config: {} }, tok('CONSUMER.CREATE.S'));
  assert.deepEqual([ok.streamName, ok.consumerName], ['S', '']);
});

test('named create with a filter token: durable must match the name, the filter must match the config', () => {
  assertErr({ stream_name: 'S', config: { durable_name: 'E' } }, 'CONSUMER.CREATE.S.N', 'ConsumerDurableNameNotMatchSubject');
  assertErr({ stream_name: 'S', config: { filter_subject: 'a.b' } }, 'CONSUMER.CREATE.S.N.a.c', 'ConsumerCreateFilterSubjectMismatch');
  const ok = createConsumerTarget({ stream_name: 'S', config: { filter_subject: 'a.b' } }, tok('CONSUMER.CREATE.S.N.a.b'));
  assert.deepEqual([ok.streamName, ok.consumerName, ok.config.name, ok.config.filter_subject], ['S', 'N', 'N', 'a.b']);
});

test('a config that does not decode is InvalidJSON with the decoder text', () => {
  const e = errOf({ stream_name: 'S', config: { opt_start_time: 'soon' } }, 'CONSUMER.CREATE.S.N');
  assert.equal(e.errCode, jsErr('InvalidJSON').errCode);
});
