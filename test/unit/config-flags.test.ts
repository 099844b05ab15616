// Command-line flags: Go flag syntax, actions, and precedence over the config file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags, resolveOptions, FlagError, signalForCommand, usageText } from '../../src/config/flags.js';
import { ConfigError } from '../../src/config/parser.js';

function tempConf(t: { after: (fn: () => void) => void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'server.conf');
  writeFileSync(f, text);
  return f;
}

test('Go flag syntax: -x and --x, "-p 1" and "-p=1", bools with =false', () => {
  for (const argv of [['-p', '4333'], ['--p', '4333'], ['-p=4333'], ['--port=4333'], ['-port', '4333']]) {
    assert.equal(resolveOptions(argv).options.port, 4333, argv.join(' '));
  }
  assert.equal(resolveOptions(['-js']).options.jetstream.enabled, true);
  assert.equal(resolveOptions(['--jetstream=true']).options.jetstream.enabled, true);
  assert.equal(resolveOptions(['-js=false']).options.jetstream.enabled, false);
  assert.equal(resolveOptions(['-js=0']).options.jetstream.enabled, false);
  assert.equal(resolveOptions(['-p', '0x10']).options.port, 16, 'Go ints accept base prefixes');
  const { values, rest } = parseFlags(['-D', '--', '-p', '1']);
  assert.equal(values.get('debug'), true);
  assert.deepEqual(rest, ['-p', '1']);
});

test('flag values map onto Options', () => {
  const o = resolveOptions([
    '-a', '127.0.0.1', '-p', '-1', '-n', 'srv', '-m', '8222', '-P', '/tmp/pid', '-l', '/tmp/log',
    '-T=false', '-s', '-r', 'udp://localhost:514', '--client_advertise', 'adv:4222', '--ports_file_dir', '/tmp/pf',
    '-sd', '/tmp/js', '--max_traced_msg_len', '64', '--log_size_limit', '1000', '--profile', '6060',
  ]).options;
  assert.equal(o.host, '127.0.0.1');
  assert.equal(o.port, 0, '-1 means a random port (0 in Options)');
  assert.equal(o.serverName, 'srv');
  assert.equal(o.httpPort, 8222);
  assert.equal(o.pidFile, '/tmp/pid');
  assert.equal(o.logFile, '/tmp/log');
  assert.equal(o.logtime, false);
  assert.equal(o.syslog, true);
  assert.equal(o.remoteSyslog, 'udp://localhost:514');
  assert.equal(o.clientAdvertise, 'adv:4222');
  assert.equal(o.portsFileDir, '/tmp/pf');
  assert.equal(o.jetstream.storeDir, '/tmp/js');
  assert.equal(o.maxTracedMsgLen, 64);
  assert.equal(o.logSizeLimitBytes, 1000);
  assert.equal(o.profPort, 6060);
  assert.equal(resolveOptions(['-m', '-1']).options.httpPort, 0);
  // the TLS files are loaded while reading the flags, as nats-server does
  assert.throws(() => resolveOptions(['-ms', '8443', '--tls', '--tlscert', '/c.pem', '--tlskey', '/k.pem']),
    /open \/c\.pem: no such file or directory$/);
  assert.throws(() => resolveOptions(['-ms', '8443']), /TLS cert and key required for HTTPS/);
  assert.equal(resolveOptions(['-m', '0']).options.httpPort, undefined);
});

test('debug and trace combinations', () => {
  const f = (argv: string[]) => {
    const o = resolveOptions(argv).options;
    return [o.debug, o.trace, o.traceVerbose];
  };
  assert.deepEqual(f(['-D']), [true, false, false]);
  assert.deepEqual(f(['-V']), [false, true, false]);
  assert.deepEqual(f(['-VV']), [false, true, true]);
  assert.deepEqual(f(['-DV']), [true, true, false]);
  assert.deepEqual(f(['-DVV']), [true, true, true]);
});

test('auth, tls and cluster flags', () => {
  const auth = resolveOptions(['--user', 'u', '--pass', 'p']).options.authorization;
  assert.deepEqual(auth, { user: 'u', password: 'p' });
  assert.equal(resolveOptions(['--auth', 'tok']).options.authorization?.token, 'tok');
  // TLS flags load their files at once (tls-client tests run them with real certificates)
  for (const argv of [['--tls', '--tlscert', '/c.pem', '--tlskey', '/k.pem', '--tlsverify', '--tlscacert', '/ca.pem'],
    ['--tlsverify', '--tlscert', '/c.pem', '--tlskey', '/k.pem']]) {
    assert.throws(() => resolveOptions(argv), (e: unknown) =>
      e instanceof FlagError && e.message === 'error parsing X509 certificate/key pair: open /c.pem: no such file or directory');
  }
  assert.equal(resolveOptions(['--tls=false']).options.tls, undefined);
  assert.throws(() => resolveOptions(['--tls']), /TLS Server certificate must be present and valid/);
  assert.throws(() => resolveOptions(['--tlscert', '/c.pem']), /TLS Server private key must be present and valid/);
  const cl = resolveOptions([
    '--cluster', 'nats://ru:rp@127.0.0.1:-1', '--cluster_name', 'C', '--routes', 'nats://127.0.0.1:1, nats://127.0.0.1:2',
    '--no_advertise', '--cluster_advertise', 'x:1', '--connect_retries', '3',
  ]).options.cluster!;
  assert.equal(cl.host, '127.0.0.1');
  assert.equal(cl.port, 0);
  assert.equal(cl.name, 'C');
  assert.deepEqual(cl.routes, ['nats://127.0.0.1:1', 'nats://127.0.0.1:2']);
  assert.deepEqual(cl.authorization, { user: 'ru', password: 'rp' });
  assert.equal(cl.noAdvertise, true);
  assert.equal(cl.advertise, 'x:1');
  assert.equal(cl.connectRetries, 3);
  assert.equal(resolveOptions(['--cluster_listen', 'nats://0.0.0.0:6333']).options.cluster?.port, 6333);
  assert.throws(() => resolveOptions(['--routes', 'nats://a:1']), /solicited routes require cluster capabilities, e\.g\. --cluster/);
  assert.throws(() => resolveOptions(['--cluster', 'nats://u@127.0.0.1:6222']), /expected cluster password to be set/);
});

test('actions: help, version, -t, signals', () => {
  assert.equal(resolveOptions(['-h']).action, 'help');
  assert.equal(resolveOptions(['--help']).action, 'help');
  assert.equal(resolveOptions(['-v']).action, 'version');
  assert.equal(resolveOptions(['--version']).action, 'version');
  assert.equal(resolveOptions(['version']).action, 'version');
  assert.equal(resolveOptions(['help']).action, 'help');
  assert.equal(resolveOptions(['--help_tls']).action, 'help_tls');
  assert.equal(resolveOptions([]).action, 'run');
  const sig = resolveOptions(['-sl', 'reload=1234']);
  assert.equal(sig.action, 'signal');
  assert.deepEqual(sig.signal, { command: 'reload', pid: '1234' });
  assert.deepEqual(resolveOptions(['--signal', 'ldm']).signal, { command: 'ldm', pid: undefined });
  assert.equal(signalForCommand('ldm'), 'SIGUSR2');
  assert.equal(signalForCommand('reload'), 'SIGHUP');
  assert.equal(signalForCommand('stop'), 'SIGKILL');
  assert.equal(signalForCommand('quit'), 'SIGINT');
  assert.equal(signalForCommand('term'), 'SIGTERM');
  assert.equal(signalForCommand('reopen'), 'SIGUSR1');
  assert.throws(() => resolveOptions(['-sl', 'bogus']), /unknown signal "bogus"/);
  assert.throws(() => resolveOptions(['-sl', 'stop=abc']), /invalid pid: abc/);
  assert.match(usageText('tsnats'), /Usage: tsnats \[options\]/);
  assert.match(usageText(), /-js, --jetstream {17}Enable JetStream functionality/);
});

test('a -sl pid may be a pid file', (t) => {
  const f = tempConf(t, '4321\n');
  assert.deepEqual(resolveOptions(['-sl', `quit=${f}`]).signal, { command: 'quit', pid: '4321' });
});

test('flag errors have nats-server\'s messages', () => {
  const err = (argv: string[]) => {
    try {
      resolveOptions(argv);
    } catch (e) {
      assert.ok(e instanceof FlagError);
      return e.message;
    }
    assert.fail('expected an error');
  };
  assert.equal(err(['-x']), 'flag provided but not defined: -x');
  assert.equal(err(['--bogus=1']), 'flag provided but not defined: -bogus');
  assert.equal(err(['-p']), 'flag needs an argument: -p');
  assert.equal(err(['-p', 'abc']), 'invalid value "abc" for flag -p: parse error');
  assert.equal(err(['-js=maybe']), 'invalid boolean value "maybe" for -js: parse error');
  assert.equal(err(['-js', 'false']), 'unrecognized command: "false"');
  assert.equal(err(['-t']), 'must specify [-c, --config] option to check configuration file syntax');
});

test('explicit flags override the config file; the file overrides defaults', (t) => {
  const f = tempConf(t, `
    listen: 127.0.0.1:5222
    server_name: from_file
    http_port: 9222
    debug: true
    jetstream { store_dir: /from/file, max_mem: 1G }
    authorization { user: fu, password: fp, timeout: 4 }
    cluster { name: FC, listen: 127.0.0.1:7222, routes: [nats://127.0.0.1:7223] }
    ping_interval: 45
  `);
  const fileOnly = resolveOptions(['-c', f]);
  assert.equal(fileOnly.action, 'run');
  assert.equal(fileOnly.configFile, f);
  assert.equal(fileOnly.options.port, 5222);
  assert.equal(fileOnly.options.serverName, 'from_file');
  assert.equal(fileOnly.options.jetstream.enabled, true);
  assert.equal(fileOnly.warnings.length, 1, 'the integer ping_interval warns');
  assert.match(fileOnly.warnings[0], /ping_interval should be converted to a duration/);

  const r = resolveOptions(['--config', f, '-p', '6222', '-n', 'from_flag', '-D=false', '-js=false', '-sd', '/from/flag',
    '--user', 'flaguser', '--routes', 'nats://127.0.0.1:9999', '-m', '9333']);
  const o = r.options;
  assert.equal(o.host, '127.0.0.1', 'not given as a flag: from the file');
  assert.equal(o.port, 6222);
  assert.equal(o.serverName, 'from_flag');
  assert.equal(o.debug, false);
  assert.equal(o.httpPort, 9333);
  assert.equal(o.jetstream.enabled, false);
  assert.equal(o.jetstream.storeDir, '/from/flag');
  assert.equal(o.jetstream.maxMemoryBytes, 1e9, 'file values the flags do not touch remain (unquoted 1G = 10^9)');
  assert.deepEqual([o.authorization?.user, o.authorization?.password, o.authorization?.timeoutSec], ['flaguser', 'fp', 4]);
  assert.equal(o.cluster?.name, 'FC');
  assert.equal(o.cluster?.port, 7222);
  assert.deepEqual(o.cluster?.routes, ['nats://127.0.0.1:9999']);
  assert.equal(o.pingIntervalMs, 45_000);
});

test('options nats-server refuses at start fail a run, but not -t', (t) => {
  const f = tempConf(t, 'max_payload: 2MB\nmax_pending: 1MB\n');
  assert.throws(() => resolveOptions(['-c', f]), (e: FlagError) => {
    assert.ok(e instanceof FlagError);
    assert.equal(e.message, 'max_payload (2097152) cannot be higher than max_pending (1048576)');
    return true;
  });
  assert.equal(resolveOptions(['-c', f, '-t']).action, 'check');
  const nau = tempConf(t, 'no_auth_user: ghost\n');
  assert.throws(() => resolveOptions(['-c', nau]), /no_auth_user: "ghost" present, but users are not defined/);
});

test('-t with a config file reports "check"; bad files throw ConfigError', (t) => {
  const good = tempConf(t, 'port: 4222\n');
  assert.equal(resolveOptions(['-c', good, '-t']).action, 'check');
  const bad = tempConf(t, 'port: 4222\nbogus_key: 1\n');
  assert.throws(() => resolveOptions(['-c', bad]), (e: ConfigError) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.line, 2);
    assert.equal(e.message, `${bad}:2:1: unknown field "bogus_key"`);
    return true;
  });
  assert.throws(() => resolveOptions(['-c', '/nonexistent/tsnats.conf']),
    /error opening config file: open \/nonexistent\/tsnats\.conf: no such file or directory/);
});
