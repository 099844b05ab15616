// ConsumerConfig decoding, defaults, validation (nats-server error codes) and update rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkConsumerConfig, checkConsumerUpdate, consumerConfigToJSON, decodeConsumerConfig, setConsumerConfigDefaults,
  NO_LIMITS, type ConsumerConfig, type StreamConfigView, cloneConsumerConfig, consumerConfigsEqual,
} from '../../src/jetstream/consumer/config.js';
import { ApiError } from '../../src/jetstream/api/errors.js';
import { JsonDecodeError } from '../../src/jetstream/api/json.js';

const limitsStream: StreamConfigView = {
  name: 'S', subjects: ['orders.>'], retention: 'limits', num_replicas: 1, max_msgs_per_subject: -1, max_consumers: -1,
};

function prepared(obj: Record<string, unknown>, stream = limitsStream): ConsumerConfig | ApiError {
  const c = decodeConsumerConfig(obj, true);
  const e = setConsumerConfigDefaults(c, stream, NO_LIMITS, false) ?? checkConsumerConfig(c, stream, NO_LIMITS);
  return e ?? c;
}

function errCode(r: ConsumerConfig | ApiError): number | undefined {
  return r instanceof ApiError ? r.errCode : undefined;
}

test('defaults match the captured durable pull create response', () => {
  // js_consumer_create_durable_pull.json request config -> response config
  const c = prepared({ durable_name: 'D1', deliver_policy: 'all', ack_policy: 'explicit', ack_wait: 30000000000, max_deliver: -1, replay_policy: 'instant' });
  assert.ok(!(c instanceof ApiError));
  c.name = 'D1';
  assert.equal(JSON.stringify(consumerConfigToJSON(c)),
    '{"durable_name":"D1","name":"D1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}');
});

test('push and ack-none defaults', () => {
  const c = prepared({ deliver_subject: 'dlv', ack_policy: 'none' }) as ConsumerConfig;
  assert.equal(c.max_waiting, 0);
  assert.equal(c.max_ack_pending, 0);
  assert.equal(c.ack_wait, 0);
  assert.equal(c.max_deliver, -1);
  const b = prepared({ durable_name: 'B', ack_policy: 'explicit', backoff: [1e9, 2e9], max_deliver: 5 }) as ConsumerConfig;
  assert.equal(b.ack_wait, 1e9, 'ack_wait comes from backoff[0]');
});

test('validation errors carry nats-server codes', () => {
  const cases: Array<[Record<string, unknown>, number, StreamConfigView?]> = [
    [{ durable_name: 'a.b' }, 10052],
    [{ name: 'x*' }, 10052],
    [{ deliver_policy: 'by_start_sequence' }, 10094],
    [{ deliver_policy: 'by_start_time' }, 10094],
    [{ deliver_policy: 'all', opt_start_seq: 4 }, 10094],
    [{ deliver_policy: 'last_per_subject' }, 10094],
    [{ deliver_subject: 'd', max_waiting: 10 }, 10080],
    [{ deliver_subject: 'd.*' }, 10079],
    [{ deliver_subject: 'orders.x' }, 10081],
    [{ deliver_subject: 'd', flow_control: true }, 10108],
    [{ deliver_subject: 'd', idle_heartbeat: 50_000_000 }, 10083],
    [{ deliver_subject: 'd', ack_policy: 'none', max_ack_pending: 5 }, 10082],
    [{ idle_heartbeat: 1e9 }, 10088],
    [{ flow_control: true }, 10089],
    [{ rate_limit_bps: 10 }, 10086],
    [{ max_expires: 10 }, 10115],
    [{ ack_policy: 'explicit', backoff: [1, 2, 3], max_deliver: 2 }, 10116],
    [{ ack_policy: 'explicit', backoff: [-1] }, 10184],
    [{ ack_wait: -5 }, 10183],
    [{ filter_subject: 'a', filter_subjects: ['b'] }, 10136],
    [{ filter_subjects: ['a.>', 'a.b'] }, 10138],
    [{ filter_subjects: [''] }, 10139],
    [{ filter_subject: 'a..b' }, 10052],
    [{ durable_name: 'a', name: 'b' }, 10132],
    [{ sample_freq: 'abc' }, 10095],
    [{ num_replicas: 3 }, 10126],
    [{ num_replicas: -1 }, 10133],
    [{ description: 'x'.repeat(4097) }, 10107],
    [{ ack_policy: 'none' }, 10084, { ...limitsStream, retention: 'workqueue' }],
  ];
  for (const [cfg, code, stream] of cases) {
    assert.equal(errCode(prepared(cfg, stream)), code, JSON.stringify(cfg));
  }
  const e = prepared({ deliver_policy: 'by_start_sequence' }) as ApiError;
  assert.equal(e.description, 'consumer delivery policy is deliver by start sequence, but optional start sequence is not set');
  assert.equal((prepared({ sample_freq: '-5%' }) as ApiError).description, 'failed to parse consumer sampling configuration: <nil>');
});

test('strict decoding rejects unknown fields and wrong types with Go wording', () => {
  assert.throws(() => decodeConsumerConfig({ bogus: 1 }, true), (e: unknown) => e instanceof JsonDecodeError && e.message === 'json: unknown field "bogus"');
  assert.doesNotThrow(() => decodeConsumerConfig({ bogus: 1 }, false));
  assert.throws(() => decodeConsumerConfig({ ack_wait: 'x' }, true), /cannot unmarshal string into Go struct field ConsumerConfig.ack_wait of type time.Duration/);
  assert.throws(() => decodeConsumerConfig({ ack_policy: 'sometimes' }, true), /can not unmarshal/);
  assert.throws(() => decodeConsumerConfig({ opt_start_seq: -1 }, true), /of type uint64/);
  assert.equal(decodeConsumerConfig({ opt_start_time: '2024-01-02T03:04:05Z', deliver_policy: 'by_start_time' }).opt_start_time?.isUtc, true);
});

test('pedantic mode refuses normalising', () => {
  const c = decodeConsumerConfig({ max_deliver: -5 });
  const e = setConsumerConfigDefaults(c, limitsStream, NO_LIMITS, true);
  assert.equal(e?.errCode, 10157);
  assert.equal(e?.description, 'pedantic mode: max_deliver must be set to -1');
});

test('server limits bound max_ack_pending and max_batch', () => {
  const lim = { serverMaxRequestBatch: 100, serverMaxAckPending: 50, accountMaxAckPending: 0 };
  const c = decodeConsumerConfig({ ack_policy: 'explicit' });
  assert.equal(setConsumerConfigDefaults(c, limitsStream, lim, false), undefined);
  assert.equal(c.max_ack_pending, 50);
  assert.equal(c.max_batch, 100);
  const d = decodeConsumerConfig({ ack_policy: 'explicit', max_ack_pending: 500 });
  setConsumerConfigDefaults(d, limitsStream, lim, false);
  const err = checkConsumerConfig(d, limitsStream, lim);
  assert.equal(err?.errCode, 10121);
  assert.equal(err?.description, 'consumer max ack pending exceeds system limit of 50');
});

test('update rules: what may and may not change', () => {
  const base = prepared({ durable_name: 'D', ack_policy: 'explicit' }) as ConsumerConfig;
  const noInterest = () => false;
  const ok = cloneConsumerConfig(base);
  ok.description = 'new';
  ok.max_ack_pending = 20;
  ok.filter_subject = 'orders.a';
  assert.equal(checkConsumerUpdate(base, ok, noInterest), undefined);
  const bad: Array<[Partial<ConsumerConfig>, string]> = [
    [{ deliver_policy: 'new' }, 'deliver policy can not be updated'],
    [{ ack_policy: 'all' }, 'ack policy can not be updated'],
    [{ replay_policy: 'original' }, 'replay policy can not be updated'],
    [{ mem_storage: true }, 'storage type can not be updated'],
    [{ opt_start_seq: 3 }, 'start sequence can not be updated'],
    [{ deliver_subject: 'x' }, 'can not update pull consumer to push based'],
    [{ max_waiting: 1 }, 'max waiting can not be updated'],
  ];
  for (const [delta, msg] of bad) {
    assert.equal(checkConsumerUpdate(base, { ...cloneConsumerConfig(base), ...delta }, noInterest), msg);
  }
  const push = prepared({ durable_name: 'P', deliver_subject: 'a' }) as ConsumerConfig;
  const moved = { ...cloneConsumerConfig(push), deliver_subject: 'b' };
  assert.equal(checkConsumerUpdate(push, moved, noInterest), undefined);
  assert.equal((checkConsumerUpdate(push, moved, () => true) as ApiError).errCode, 10013);
  assert.ok(consumerConfigsEqual(base, cloneConsumerConfig(base)));
});
