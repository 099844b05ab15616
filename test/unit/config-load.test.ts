// Mapping config files onto Options: values, units, unknown fields, unsupported
// blocks, auth/accounts, and every error path with its file:line:col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadConfigText, validateOptions, ConfigError } from '../../src/config/load.js';
import { defaultOptions } from '../../src/config/options.js';
import { configFixturesDir } from '../fixtures/config/locate.js';
import { opensslSkip, requireOpenssl } from '../helpers/nats-server.js';

function load(text: string) {
  return loadConfigText(text, 't.conf');
}

function loadError(text: string): ConfigError {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail(`expected an error for ${JSON.stringify(text)}`);
}

test('the documented example produces the values nats-server shows', () => {
  const { options: o, warnings } = loadConfigFile(join(configFixturesDir(), 'valid', 'example.conf'));
  assert.deepEqual(warnings, []);
  assert.equal(o.host, '127.0.0.1');
  assert.equal(o.port, 24222);
  assert.equal(o.serverName, 's2');
  assert.equal(o.httpHost, '127.0.0.1');
  assert.equal(o.httpPort, 28222);
  assert.equal(o.maxPayloadBytes, 2097152);
  assert.equal(o.pingIntervalMs, 30_000);
  assert.equal(o.pingMax, 3);
  assert.equal(o.writeDeadlineMs, 5000);
  assert.equal(o.maxPendingBytes, 10 * 1024 * 1024);
  assert.equal(o.jetstream.enabled, true);
  assert.equal(o.jetstream.storeDir, '/tmp/tsnats-example-js');
  assert.equal(o.jetstream.maxMemoryBytes, 268435456);
  assert.equal(o.jetstream.maxFileBytes, 1_000_000_000);
  assert.equal(o.jetstream.domain, 'hub');
  assert.equal(o.systemAccount, 'SYS');
  assert.equal(o.noAuthUser, 'admin');
  const app = o.accounts.find((a) => a.name === 'APP')!;
  assert.deepEqual(app.jetstream, { enabled: true });
  assert.deepEqual(app.users.map((u) => u.user), ['admin', 'other']);
  assert.equal(app.users[1].password, '$2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly');
  assert.deepEqual(app.users[0].permissions, {
    publish: { allow: ['app.>', '_INBOX.>'], deny: ['app.secret'] },
    subscribe: { allow: ['>'] },
  });
  assert.equal(app.users[0].account, 'APP');
  const sys = o.accounts.find((a) => a.name === 'SYS')!;
  assert.deepEqual(sys.users, [{ account: 'SYS', user: 'sys', password: 'sys' }]);
  assert.equal(validateOptions(o), undefined);
});

test('the n1.conf vector (cluster, accounts, permissions) loads', () => {
  const { options: o } = loadConfigFile(join(configFixturesDir(), 'valid', 'n1.conf'));
  assert.equal(o.serverName, 'n1');
  assert.equal(o.port, 34221);
  assert.equal(o.httpPort, 38221);
  assert.equal(o.jetstream.enabled, true);
  assert.equal(o.jetstream.storeDir, '<scratch>/data/n1');
  assert.equal(o.cluster?.name, 'C1');
  assert.equal(o.cluster?.host, '127.0.0.1');
  assert.equal(o.cluster?.port, 36221);
  assert.deepEqual(o.cluster?.routes, [
    'nats-route://127.0.0.1:36221', 'nats-route://127.0.0.1:36222', 'nats-route://127.0.0.1:36223',
  ]);
  const lim = o.accounts.find((a) => a.name === 'APP')!.users.find((u) => u.user === 'lim')!;
  assert.deepEqual(lim.permissions, { publish: { deny: ['deny.>'] }, subscribe: { deny: ['nosub.>'] } });
});

test('keys are case-insensitive and aliases map to the same option', () => {
  const { options: o } = load('PORT: 5000\nNet: 127.0.0.2\nMAX_CONN: 10\nmax_subs: 7\nmonitor_port: 9000\npidfile: /tmp/p\nLog_File: /tmp/l');
  assert.equal(o.port, 5000);
  assert.equal(o.host, '127.0.0.2');
  assert.equal(o.maxConnections, 10);
  assert.equal(o.maxSubscriptions, 7);
  assert.equal(o.httpPort, 9000);
  assert.equal(o.pidFile, '/tmp/p');
  assert.equal(o.logFile, '/tmp/l');
});

test('ports: -1 is random (0 in Options), 0 is the default for clients and off for monitoring', () => {
  assert.equal(load('port: -1').options.port, 0);
  assert.equal(load('port: 0').options.port, 4222);
  assert.equal(load('listen: 127.0.0.1:-1').options.port, 0);
  assert.equal(load('listen: 4999').options.port, 4999);
  assert.equal(load('http_port: -1').options.httpPort, 0);
  assert.equal(load('http_port: 0').options.httpPort, undefined);
  assert.deepEqual([load('http: "0.0.0.0:8222"').options.httpHost, load('http: "0.0.0.0:8222"').options.httpPort], ['0.0.0.0', 8222]);
  assert.equal(load('http: 8223').options.httpPort, 8223);
  assert.equal(load('https: "127.0.0.1:8443"').options.httpsPort, 8443);
  assert.equal(load('cluster { listen: "127.0.0.1:-1" }').options.cluster?.port, 0);
  assert.equal(load('cluster { name: C }').options.cluster?.port, undefined);
  assert.equal(load('listen: "[::1]:4333"').options.host, '::1');
});

test('listen errors', () => {
  assert.equal(loadError('listen: "abc"').message, 't.conf:1:0: could not parse address string "abc"');
  assert.equal(loadError('listen: "h:x"').message, 't.conf:1:0: could not parse port "x"');
  assert.equal(loadError('listen: 1.5').message, 't.conf:1:0: expected port or host:port, got float64');
});

test('durations: Go strings, or integer seconds with a warning', () => {
  const r = load('ping_interval: "1h30m"\nwrite_deadline: "500ms"\nlame_duck_duration: "45s"\nlame_duck_grace_period: "1.5s"');
  assert.equal(r.options.pingIntervalMs, 90 * 60_000);
  assert.equal(r.options.writeDeadlineMs, 500);
  assert.equal(r.options.lameDuckDurationMs, 45_000);
  assert.equal(r.options.lameDuckGracePeriodMs, 1500);
  assert.deepEqual(r.warnings, []);
  const w = load('ping_interval: 30\nwrite_deadline: 2');
  assert.equal(w.options.pingIntervalMs, 30_000);
  assert.equal(w.options.writeDeadlineMs, 2000);
  assert.deepEqual(w.warnings, [
    't.conf:1:0: invalid use of field "ping_interval": ping_interval should be converted to a duration',
    't.conf:2:1: invalid use of field "write_deadline": write_deadline should be converted to a duration',
  ]);
  assert.equal(loadError('ping_interval: "30x"').message, 't.conf:1:0: error parsing ping_interval: time: unknown unit "x" in duration "30x"');
  assert.equal(loadError('ping_interval: "abc"').message, 't.conf:1:0: error parsing ping_interval: time: invalid duration "abc"');
  assert.equal(loadError('ping_interval: "30"').message, 't.conf:1:0: error parsing ping_interval: time: missing unit in duration "30"');
  assert.equal(loadError('lame_duck_duration: "10s"').message, 't.conf:1:0: invalid lame_duck_duration of 10s, minimum is 30 seconds');
  assert.equal(loadError('lame_duck_duration: 60').message, 't.conf:1:0: interface conversion: interface {} is int64, not string');
});

test('sizes: unquoted suffixes everywhere; quoted K/M/G/T (powers of 1024) for JetStream limits', () => {
  const o = load('max_payload: 2MB\nmax_pending: 1G\nmax_control_line: 8kb\njetstream { max_mem: "1G", max_file: "512M" }').options;
  assert.equal(o.maxPayloadBytes, 2 * 1024 * 1024);
  assert.equal(o.maxPendingBytes, 1_000_000_000);
  assert.equal(o.maxControlLineBytes, 8192);
  assert.equal(o.jetstream.maxMemoryBytes, 1024 ** 3);
  assert.equal(o.jetstream.maxFileBytes, 512 * 1024 ** 2);
  assert.equal(loadError('jetstream { max_file: "12X" }').message, 't.conf:1:12: max_file_store sizes defined as strings must end in K, M, G, T');
  assert.equal(loadError('jetstream { max_mem: "1g" }').message, 't.conf:1:12: max_mem_store sizes defined as strings must end in K, M, G, T');
  assert.equal(loadError('jetstream { max_mem: "abG" }').message, 't.conf:1:12: max_mem_store strconv.ParseInt: parsing "ab": invalid syntax');
  assert.equal(loadError('jetstream { max_mem: 1.5 }').message, 't.conf:1:12: max_mem_store must be int64 or string');
  assert.equal(loadError('max_payload: 3GB').message, 't.conf:1:0: max_payload value is too big');
});

test('jetstream: bool, enabled/disabled strings, and the full block', () => {
  assert.equal(load('jetstream: true').options.jetstream.enabled, true);
  assert.equal(load('jetstream: enabled').options.jetstream.enabled, true);
  assert.equal(load('jetstream: disabled').options.jetstream.enabled, false);
  assert.equal(load('jetstream { enabled: false, store_dir: /x }').options.jetstream.enabled, false);
  const js = loadConfigFile(join(configFixturesDir(), 'valid', 'jetstream-full.conf')).options;
  assert.equal(js.jetstream.enabled, true);
  assert.equal(js.jetstream.storeDir, '/tmp/tsnats-js');
  assert.equal(js.jetstream.maxMemoryBytes, 1024 ** 3);
  assert.equal(js.jetstream.maxFileBytes, 10 * 1024 ** 3);
  assert.equal(js.jetstream.domain, 'leafy');
  assert.equal(js.jetstream.syncIntervalMs, 'always');
  assert.equal(js.jetstream.syncIntervalSet, true);
  assert.equal(js.jetstream.strict, false);
  assert.equal(js.jetstream.uniqueTag, 'az:');
  assert.deepEqual(js.jetstream.limits, { maxRequestBatch: 100, maxAckPending: 1000, duplicateWindowMs: 60_000, maxHaAssets: 10 });
  assert.equal(js.jetstream.maxBufferedMsgs, 10000);
  assert.deepEqual(js.serverTags, ['az:1', 'region:east']);
  assert.deepEqual(js.mappings, { 'orders.*': 'new.orders.$1' });
  assert.deepEqual(js.weightedMappings, {
    'w.>': [{ subject: 'a.>', weight: 40 }, { subject: 'b.>', weight: 60 }],
  });
  const sync = load('jetstream { sync_interval: "10s" }').options.jetstream;
  assert.equal(sync.syncIntervalMs, 10_000);
  // top-level store_dir, but not twice
  assert.equal(load('store_dir: /data\njetstream: true').options.jetstream.storeDir, '/data');
  assert.equal(loadError('jetstream { store_dir: a }\nstore_dir: b').message, "t.conf:2:1: Duplicate 'store_dir' configuration");
  assert.equal(loadError('jetstream: maybe').message, "t.conf:1:0: Expected 'enabled' or 'disabled' for string value, got 'maybe'");
  assert.equal(loadError('jetstream: 1').message, 't.conf:1:0: Expected map, bool or string to define JetStream, got int64');
});

test('unknown fields are errors at their position, unless used as a $variable', () => {
  assert.equal(loadError('port: 4222\nfoo_unknown: 1').message, 't.conf:2:1: unknown field "foo_unknown"');
  assert.equal(loadError('UNUSED: 1').message, 't.conf:1:0: unknown field "UNUSED"');
  assert.equal(loadError('jetstream {\n  max_filez: 1G\n}').message, 't.conf:2:3: unknown field "max_filez"');
  assert.equal(loadError('cluster { port: 6222, bar: 2 }').message, 't.conf:1:22: unknown field "bar"');
  assert.equal(loadError('accounts { A { bogus: 1 } }').message, 't.conf:1:15: unknown field "bogus"');
  assert.equal(loadError('authorization { users: [ {user: a, nope: 1} ] }').message, 't.conf:1:35: unknown field "nope"');
  assert.equal(loadError('tls { foo: 1 }').message, 't.conf:1:6: error parsing tls config, unknown field "foo"');
  // used as variables: accepted, at top level and inside blocks
  const ok = load('SIZE: 2MB\nmax_payload: $SIZE\njetstream { LIM: 1G, max_file: $LIM }');
  assert.equal(ok.options.maxPayloadBytes, 2 * 1024 * 1024);
  assert.equal(ok.options.jetstream.maxFileBytes, 1e9);
});

test('all errors of a file are reported together, in file order', () => {
  const e = loadError('foo: 1\nport: "x"\nbar: 2');
  assert.equal(e.errors.length, 3);
  assert.deepEqual(e.errors.map((x) => x.line), [1, 2, 3]);
  assert.equal(e.message, [
    't.conf:1:0: unknown field "foo"',
    't.conf:2:1: interface conversion: interface {} is string, not int64',
    't.conf:3:1: unknown field "bar"',
  ].join('\n'));
});

test('type errors read like nats-server (Go interface conversion)', () => {
  assert.equal(loadError('debug: 1').message, 't.conf:1:0: interface conversion: interface {} is int64, not bool');
  assert.equal(loadError('port: 2016-05-04T18:53:41Z').message, 't.conf:1:0: interface conversion: interface {} is time.Time, not int64');
  assert.equal(loadError('server_name: [a]').message, 't.conf:1:0: interface conversion: interface {} is []interface {}, not string');
  assert.equal(loadError('host { a: 1 }').message, 't.conf:1:0: interface conversion: interface {} is map[string]interface {}, not string');
  assert.equal(loadError('system_account: 1').message, 't.conf:1:0: system account name must be a string');
});

test('blocks of features tsnats lacks are accepted, listed and reported as notices', () => {
  const r = loadConfigFile(join(configFixturesDir(), 'valid', 'unsupported-blocks.conf'));
  // (the fixture's websocket and leafnodes blocks are supported now: test/unit/websocket-config.test.ts,
  // test/integration/leaf-basic.test.ts)
  assert.deepEqual(r.options.unsupported.sort(), ['gateway', 'mqtt']);
  assert.equal(r.notices.length, 2);
  assert.match(r.notices[0], /unsupported-blocks\.conf:7:1: "mqtt" is not supported yet by tsnats/);
  assert.equal(r.options.leafnodes?.port, 7422);
  assert.deepEqual(r.options.leafnodes?.remotes, [{ urls: ['nats-leaf://127.0.0.1:7422'] }]);
  // even with content nats-server would reject, never an error
  const r2 = load('trusted_keys: [x]\nresolver_tls: { cert_file: x }');
  assert.deepEqual(r2.options.unsupported.sort(), ['resolver_tls', 'trusted_keys']);
  // leafnodes is served: a key nats-server 2.9.10 does not know there is its error
  assert.throws(() => load('leaf { bogus: 1 }'), /t\.conf:1:7: unknown field "bogus"/);
});

test('authorization: single user, token, users array with permissions and defaults', () => {
  const single = load('authorization { user: alice, password: s3cret, timeout: 3 }').options;
  assert.equal(single.authorization?.user, 'alice');
  assert.equal(single.authorization?.password, 's3cret');
  assert.equal(single.authorization?.timeoutSec, 3);
  assert.equal(single.authTimeoutMs, 3000);
  assert.equal(load('authorization { token: "t0k" }').options.authorization?.token, 't0k');
  const multi = load(`authorization {
    default_permissions: { publish: "pub.>" }
    users = [
      { user: a, password: a, permissions: { publish: { allow: ["a.>"], deny: "a.x" }, subscribe: { allow: ["_INBOX.>", "q.* grp"] }, allow_responses: true } }
      { username: b, pass: b }
      { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 }
    ]
  }`).options;
  const [a, b, nk] = multi.authorization!.users!;
  assert.deepEqual(a.permissions, {
    publish: { allow: ['a.>'], deny: ['a.x'] },
    subscribe: { allow: ['_INBOX.>', 'q.* grp'] },
    allowResponses: { max: 1, expiresMs: 120_000 },
  });
  assert.deepEqual([b.user, b.password, b.account], ['b', 'b', '$G']);
  assert.deepEqual(b.permissions, { publish: { allow: ['pub.>'] } });
  assert.equal(nk.nkey, 'UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4');
  assert.equal(nk.user, undefined);
  const resp = load('authorization { users: [ {user: r, permissions: { allow_responses: { max: 5, expires: "1m" } } } ] }').options;
  assert.deepEqual(resp.authorization!.users![0].permissions, { allowResponses: { max: 5, expiresMs: 60_000 }, publish: { allow: [] } });
});

test('authorization errors', () => {
  assert.equal(loadError('authorization { user: a, password: b, token: c }').message, 't.conf:1:0: Cannot have a user/pass and token');
  assert.equal(loadError('authorization { user: a, users: [] }').message, 't.conf:1:0: Can not have a single user/pass and a users array');
  assert.equal(loadError('authorization { users: [ {password: c} ] }').message, 't.conf:1:26: User entry requires a user');
  assert.equal(loadError('authorization { users: [ {nkey: UBAD} ] }').message, 't.conf:1:26: Not a valid public nkey for a user');
  assert.match(loadError('authorization { users: [ {user: a}, {user: a} ] }').message, /Duplicate user "a" detected/);
  assert.equal(loadError('authorization { users: [ {user: a, permissions: { publish: { allow: "a", foo: 1 } } } ] }').message,
    "t.conf:1:73: Unknown field name \"foo\" parsing subject permissions, only 'allow' or 'deny' are permitted");
  assert.match(loadError('authorization { permissions: { publish: "a b" } }').message, /subject "a b" is not a valid subject/);
  assert.match(loadError('authorization { permissions: { subscribe: "a b c" } }').message, /subject "a b c" is not a valid subject/);
  assert.match(loadError('authorization { permissions: { bogus: 1 } }').message, /Unknown field "bogus" parsing permissions/);
  assert.match(loadError('authorization { users: [ {user: a, allowed_connection_types: ["BOGUS"]} ] }').message, /invalid connection types \["BOGUS"\]/);
  const warn = load('authorization { timeout: 120 }').warnings;
  assert.equal(warn.length, 1);
  assert.match(warn[0], /invalid use of field "timeout": timeout of 120 \(120\.000000 seconds\) is high/);
});

test('accounts: users, jetstream limits, exports/imports, mappings, limits', () => {
  const o = loadConfigFile(join(configFixturesDir(), 'valid', 'accounts-imports.conf')).options;
  const svc = o.accounts.find((a) => a.name === 'SVC')!;
  const app = o.accounts.find((a) => a.name === 'APP')!;
  assert.deepEqual(svc.exports, [{ service: 'req.>', responseType: 'singleton' }, { stream: 'pub.>', accounts: ['APP'] }]);
  assert.deepEqual(app.imports, [
    { service: { account: 'SVC', subject: 'req.x' }, to: 'local.req' },
    { stream: { account: 'SVC', subject: 'pub.>' }, prefix: 'from_svc' },
  ]);
  assert.deepEqual(app.users[0].allowedConnectionTypes, ['STANDARD', 'WEBSOCKET']);
  assert.deepEqual(app.users[0].permissions, { publish: { allow: ['>'] }, subscribe: { deny: ['secret.>'] } });
  const v = loadConfigFile(join(configFixturesDir(), 'valid', 'variables.conf')).options;
  assert.equal(v.serverName, 'var_server');
  assert.equal(v.port, 4333);
  assert.deepEqual(v.accounts.map((a) => a.name), ['A']);
  assert.equal(v.accounts[0].jetstream?.maxMemory, 5 * 1024 * 1024);
  const lim = load('accounts { A { limits { max_connections: 5, max_payload: 1KB }, mappings { a: b }, jetstream { max_streams: 3 } } }').options.accounts[0];
  assert.deepEqual(lim.limits, { maxConnections: 5, maxPayload: 1024 });
  assert.deepEqual(lim.mappings, { a: 'b' });
  assert.equal(lim.jetstream?.maxStreams, 3);
  assert.equal(lim.jetstream?.maxMemory, -1);
  assert.deepEqual(load('accounts: [A, B]').options.accounts.map((a) => a.name), ['A', 'B']);
});

test('account errors', () => {
  assert.equal(loadError('accounts { $G { } }').message, 't.conf:1:11: "$G" is a Reserved Account');
  assert.equal(loadError('accounts: [A, B, A]').message, 't.conf:1:17: Duplicate Account Entry: A');
  assert.equal(loadError('accounts { A { imports: [ {stream: {account: C, subject: x}} ] } }').message, 't.conf:1:0: "C" account not defined for stream import');
  assert.match(loadError('accounts {\n A { users: [ {user: a} ] }\n B { users: [ {user: a} ] }\n}').message, /^t\.conf:3:\d+: Duplicate user "a" detected$/);
  assert.match(loadError('accounts { A { jetstream { max_mem: "x" } } }').message, /Expected a parseable size for "max_mem", got x/);
  assert.match(loadError('accounts { A { exports: [ {stream: a, service: b} ] } }').message, /Detected service "b" but already saw a stream/);
  assert.match(loadError('authorization { user: a, password: b }\naccounts { A { users: [ {user: x} ] } }').message, /Can not have a single user\/pass and accounts/);
  assert.match(loadError('accounts { A: 1 }').message, /Expected map entries for accounts/);
});

test('cluster block', () => {
  const cl = load(`cluster {
    name: C1
    listen: 127.0.0.1:6333
    routes: [ nats://127.0.0.1:6334, nats-route://u:p@127.0.0.1:6335 ]
    authorization { user: ru, password: rp, timeout: 2 }
    no_advertise: true
    advertise: "10.0.0.1:6333"
    connect_retries: 4
    pool_size: 5
    ping_interval: "20s"
    permissions { import: "a.>", export: { allow: "b.>" } }
    compression: off
  }`).options.cluster!;
  assert.equal(cl.name, 'C1');
  assert.equal(cl.host, '127.0.0.1');
  assert.equal(cl.port, 6333);
  assert.deepEqual(cl.routes, ['nats://127.0.0.1:6334', 'nats-route://u:p@127.0.0.1:6335']);
  assert.deepEqual(cl.authorization, { user: 'ru', password: 'rp', timeoutSec: 2 });
  assert.equal(cl.noAdvertise, true);
  assert.equal(cl.advertise, '10.0.0.1:6333');
  assert.equal(cl.connectRetries, 4);
  assert.equal(cl.poolSize, 5);
  assert.equal(cl.pingIntervalMs, 20_000);
  assert.deepEqual(cl.permissions, { import: { allow: ['a.>'] }, export: { allow: ['b.>'] } });
  assert.equal(cl.compression, 'off');
  const dup = load('cluster { routes: [ nats://a:1, nats://a:1 ] }');
  assert.deepEqual(dup.options.cluster?.routes, ['nats://a:1']);
  assert.match(dup.warnings[0], /invalid use of field "nats:\/\/a:1": Duplicate route entry detected/);
  assert.equal(loadError('cluster { authorization { users: [] } }').message, 't.conf:1:10: Cluster authorization does not allow multiple users');
  assert.equal(loadError('cluster { name: "a b" }').message, 't.conf:1:10: cluster name cannot contain spaces');
  assert.match(loadError('cluster: 1').message, /Expected map to define cluster, got int64/);
});

test('tls block checks the certificate files like nats-server', (t) => {
  assert.equal(loadError('tls { cert_file: "/nonexistent/c.pem", key_file: "/nonexistent/k.pem" }').message,
    't.conf:1:0: error parsing X509 certificate/key pair: open /nonexistent/c.pem: no such file or directory');
  assert.equal(loadError('tls { cert_file: "/nonexistent/c.pem" }').message, "t.conf:1:0: missing 'key_file' in TLS configuration");
  assert.equal(loadError('tls { verify: 1 }').message, "t.conf:1:6: error parsing tls config, expected 'verify' to be a boolean");
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'c.pem'), 'not a certificate');
  writeFileSync(join(dir, 'k.pem'), 'not a key');
  assert.match(loadError(`tls { cert_file: "${dir}/c.pem", key_file: "${dir}/k.pem" }`).message,
    /^t\.conf:1:0: error parsing X509 certificate\/key pair: /);
  const noFiles = load('tls { timeout: 5, handshake_first: true, verify: true }').options;
  assert.deepEqual(noFiles.tls, { timeoutSec: 5, handshakeFirst: true, verify: true });
  // with TLS, the default auth timeout is the TLS timeout plus one second
  assert.equal(noFiles.authTimeoutMs, 6000);
});

test('tls block accepts a real certificate/key pair and refuses a key of another certificate', { skip: opensslSkip() }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(requireOpenssl(), [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const ok = load(`tls { cert_file: "${dir}/cert.pem", key_file: "${dir}/key.pem", ca_file: "${dir}/cert.pem", min_version: "1.3" }`).options;
  assert.deepEqual(ok.tls, { certFile: `${dir}/cert.pem`, keyFile: `${dir}/key.pem`, caFile: `${dir}/cert.pem`, minVersion: '1.3' });
  // a key that does not belong to the certificate
  execFileSync(requireOpenssl(), ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'other.pem')], { stdio: 'ignore' });
  assert.match(loadError(`tls { cert_file: "${dir}/cert.pem", key_file: "${dir}/other.pem" }`).message,
    /^t\.conf:1:0: error parsing X509 certificate\/key pair: /);
});

test('other top-level settings', () => {
  const o = load(`
    server_name: srv1
    client_advertise: "example.com:4222"
    debug: true
    trace_verbose: true
    logtime: false
    max_connections: 0
    max_sub_tokens: 8
    no_header_support: true
    no_system_account: true
    allow_non_tls: true
    http_base_path: /nats
    ports_file_dir: /tmp/ports
    server_metadata { region: east }
    server_tags: "only-one"
    feature_flags { js_ack_fc_v2: true }
    max_closed_clients: 5
    write_timeout: close
  `).options;
  assert.equal(o.serverName, 'srv1');
  assert.equal(o.clientAdvertise, 'example.com:4222');
  assert.equal(o.debug, true);
  assert.equal(o.trace, true);
  assert.equal(o.traceVerbose, true);
  assert.equal(o.logtime, false);
  assert.equal(o.maxConnections, -1, 'max_connections 0 means none allowed in nats-server');
  assert.equal(o.maxSubTokens, 8);
  assert.equal(o.noHeaderSupport, true);
  assert.equal(o.noSystemAccount, true);
  assert.equal(o.allowNonTls, true);
  assert.equal(o.httpBasePath, '/nats');
  assert.equal(o.portsFileDir, '/tmp/ports');
  assert.deepEqual(o.serverMetadata, { region: 'east' });
  assert.deepEqual(o.serverTags, ['only-one']);
  assert.deepEqual(o.featureFlags, { js_ack_fc_v2: true });
  assert.equal(o.maxClosedClients, 5);
  assert.equal(o.writeTimeoutPolicy, 'close');
  assert.equal(loadError('server_name: "a b"').message, 't.conf:1:0: server name cannot contain spaces');
  assert.equal(loadError('max_sub_tokens: 0').message, 't.conf:1:0: max_sub_tokens value can not be negative');
  assert.equal(loadError('write_timeout: never').message, "t.conf:1:0: write_timeout must be 'default', 'close' or 'retry'");
  assert.match(loadError('mappings { "a b": c }').message, /Subject "a b" is not a valid subject/);
  assert.match(loadError('mappings { a: [ {dest: b} ] }').message, /Missing weight for mapping destination "b"/);
  assert.match(loadError('mappings { a: [ {dest: b, weight: 70}, {dest: c, weight: 40} ] }').message, /total weight needs to be <= 100/);
});

test('an empty file loads the defaults with nats-server\'s warning', () => {
  const r = load('# nothing here\n');
  assert.deepEqual(r.options, { ...defaultOptions(), configFile: 't.conf' });
  assert.deepEqual(r.warnings, ['t.conf: config has no values or is empty']);
});

test('validateOptions: the checks nats-server makes at start', () => {
  const o = defaultOptions();
  assert.equal(validateOptions(o), undefined);
  assert.equal(validateOptions({ ...o, maxPayloadBytes: 10, maxPendingBytes: 5 }), 'max_payload (10) cannot be higher than max_pending (5)');
  assert.equal(validateOptions({ ...o, lameDuckGracePeriodMs: 200_000 }),
    'lame duck grace period (3m20s) should be strictly lower than lame duck duration (2m0s)');
  assert.equal(validateOptions({ ...o, noAuthUser: 'x' }), 'no_auth_user: "x" present, but users are not defined');
  assert.equal(validateOptions({ ...o, httpsPort: 8443 }), 'TLS cert and key required for HTTPS');
});
