// Decoding what nats-server 2.9.10 sends in a mixed cluster (captured on 127.0.0.1 with a
// system-account sniffer): the Nats-Request-Info header of a JetStream API request moved into
// the system account, and a `$SYS.SERVER.<id>.STATSZ` heartbeat as placement data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isImportedCopy, isServiceImportReply, requestInfoAccount, requestInfoHeader } from '../../src/jetstream/cluster/go-import.js';
import { peerInfoFromStatsz } from '../../src/jetstream/cluster/statsz-peers.js';

const CAPTURED_HEADER = Buffer.from('NATS/1.0\r\nNats-Request-Info: {"acc":"APP","rtt":1044251,"server":"n1","cluster":"C1"}\r\n\r\n');

test('Nats-Request-Info: the client account of a request nats-server moved into the system account', () => {
  assert.equal(requestInfoAccount(CAPTURED_HEADER), 'APP');
  assert.equal(requestInfoAccount(undefined), undefined);
  assert.equal(requestInfoAccount(Buffer.from('NATS/1.0\r\nNats-Request-Info: {not json\r\n\r\n')), undefined);
  assert.equal(requestInfoAccount(Buffer.from('NATS/1.0\r\nOther: x\r\n\r\n')), undefined);
  // What tsnats sends when it forwards a request to a nats-server reads back the same way.
  assert.equal(requestInfoAccount(requestInfoHeader('APP', 'n2', 'C1')), 'APP');
  assert.equal(requestInfoHeader('APP', 'n2', 'C1').toString(), 'NATS/1.0\r\nNats-Request-Info: {"acc":"APP","server":"n2","cluster":"C1"}\r\n\r\n');
});

test('system-account copies for another account are recognised; plain system requests are not', () => {
  assert.equal(isImportedCopy({ accountName: 'SYS', headers: CAPTURED_HEADER }, 'SYS'), true);
  assert.equal(isImportedCopy({ accountName: 'APP', headers: CAPTURED_HEADER }, 'SYS'), false);
  assert.equal(isImportedCopy({ accountName: 'SYS', headers: undefined }, 'SYS'), false);
  assert.equal(isImportedCopy({ accountName: 'SYS', headers: requestInfoHeader('SYS', 'n1', 'C1') }, 'SYS'), false);
  assert.equal(isServiceImportReply('_R_.i5cLko.ctekjp'), true);
  assert.equal(isServiceImportReply('_INBOX.HUxQ3ASIxrgNkR9feSq0hZ'), false);
});

test('a 2.9.10 statsz becomes placement data; without JetStream config/stats or in another domain it does not', () => {
  const statsz = {
    server: { name: 'n1', host: '127.0.0.1', id: 'NATHHL3LOPCRYI7CG5IOEW4EMENEOFURJ2WOTLBNNGFZ4Z6CSVB75ZLM', cluster: 'C1', ver: '2.9.10', tags: ['node:n1'], seq: 31, jetstream: true, time: '2026-12-06T21:07:13.644058032Z' },
    statsz: {
      start: '2026-12-06T21:07:12.59Z', mem: 1, cores: 2, cpu: 0, connections: 0, total_connections: 0, active_accounts: 1, subscriptions: 90,
      sent: { msgs: 0, bytes: 0 }, received: { msgs: 0, bytes: 0 }, slow_consumers: 0,
      jetstream: {
        config: { max_memory: 18957136896, max_storage: 64061202432, store_dir: '/tmp/x/jetstream' },
        stats: { memory: 10, storage: 2048, reserved_memory: 0, reserved_storage: 4096, accounts: 1, ha_assets: 1, api: { total: 3, errors: 0 } },
      },
    },
  };
  assert.deepEqual(peerInfoFromStatsz(JSON.stringify(statsz), ''), {
    name: 'n1', cluster: 'C1', tags: ['node:n1'], maxMemory: 18957136896, maxStore: 64061202432,
    usedMemory: 10, usedStore: 2048, reservedMemory: 0, reservedStore: 4096, haAssets: 1,
  });
  assert.equal(peerInfoFromStatsz(JSON.stringify(statsz), 'hub'), undefined);
  assert.equal(peerInfoFromStatsz(JSON.stringify({ ...statsz, statsz: { ...statsz.statsz, jetstream: undefined } }), ''), undefined);
  assert.equal(peerInfoFromStatsz('{"server":', ''), undefined);
  assert.equal(peerInfoFromStatsz('null', ''), undefined);
});
