// nats-server's command line (main.go usage, opts.go ConfigureOptions), parsed
// with Go `flag` package rules: -x and --x are the same flag; values as
// "-p 4222" or "-p=4222"; boolean flags take no value unless written
// "-js=false"; parsing stops at the first argument that is not a flag, and such
// a remaining argument may only be "version" or "help".
//
// resolveOptions() is the one call the CLI needs: it parses the flags, loads the
// config file given with -c, and lets every flag given explicitly override the
// file, which is how nats-server merges them.

import { readFileSync } from 'node:fs';
import { ConfigError } from './parser.js';
import { loadConfigFile, validateOptions } from './load.js';
import { tlsUnsupportedError } from './tls-unsupported.js';
import {
  DEFAULT_PORT, defaultOptions, type AuthorizationConfig, type ClusterOptions, type Options,
} from './options.js';
import { defaultClusterOptions, tlsFilesError } from './load-blocks.js';

/** A command-line error, with nats-server's message (the CLI prints `nats-server: <message>`). */
export class FlagError extends Error {
  constructor(message: string, readonly showUsage = false) {
    super(message);
    this.name = 'FlagError';
  }
}

type FlagKind = 'bool' | 'int' | 'string';

interface FlagSpec {
  kind: FlagKind;
  /** canonical name used in the parsed result */
  id: string;
}

/** Every flag nats-server defines, by name (aliases map to the same id). */
const FLAGS: Record<string, FlagSpec> = (() => {
  const table: [FlagKind, string, string[]][] = [
    ['bool', 'help', ['h', 'help']],
    ['int', 'port', ['port', 'p']],
    ['string', 'server_name', ['n', 'name', 'server_name']],
    ['string', 'host', ['addr', 'a', 'net']],
    ['string', 'client_advertise', ['client_advertise']],
    ['bool', 'debug', ['D', 'debug']],
    ['bool', 'trace', ['V', 'trace']],
    ['bool', 'VV', ['VV']],
    ['bool', 'DV', ['DV']],
    ['bool', 'DVV', ['DVV']],
    ['bool', 'logtime', ['T', 'logtime']],
    ['bool', 'logtime_utc', ['logtime_utc']],
    ['string', 'user', ['user']],
    ['string', 'pass', ['pass']],
    ['string', 'auth', ['auth']],
    ['int', 'http_port', ['m', 'http_port']],
    ['int', 'https_port', ['ms', 'https_port']],
    ['string', 'config', ['c', 'config']],
    ['bool', 'check_config', ['t']],
    ['string', 'signal', ['sl', 'signal']],
    ['string', 'pid', ['P', 'pid']],
    ['string', 'ports_file_dir', ['ports_file_dir']],
    ['string', 'log', ['l', 'log']],
    ['int', 'log_size_limit', ['log_size_limit']],
    ['bool', 'syslog', ['s', 'syslog']],
    ['string', 'remote_syslog', ['r', 'remote_syslog']],
    ['bool', 'version', ['version', 'v']],
    ['int', 'profile', ['profile']],
    ['string', 'routes', ['routes']],
    ['string', 'cluster', ['cluster', 'cluster_listen']],
    ['string', 'cluster_advertise', ['cluster_advertise']],
    ['bool', 'no_advertise', ['no_advertise']],
    ['int', 'connect_retries', ['connect_retries']],
    ['string', 'cluster_name', ['cluster_name']],
    ['bool', 'help_tls', ['help_tls']],
    ['bool', 'tls', ['tls']],
    ['bool', 'tlsverify', ['tlsverify']],
    ['string', 'tlscert', ['tlscert']],
    ['string', 'tlskey', ['tlskey']],
    ['string', 'tlscacert', ['tlscacert']],
    ['int', 'max_traced_msg_len', ['max_traced_msg_len']],
    ['bool', 'jetstream', ['js', 'jetstream']],
    ['string', 'store_dir', ['sd', 'store_dir']],
  ];
  const out: Record<string, FlagSpec> = {};
  for (const [kind, id, names] of table) for (const n of names) out[n] = { kind, id };
  return out;
})();

/** Go strconv.ParseBool */
function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** Go strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary, underscores. */
function parseGoInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]+|[0-9_]+)$/.exec(s);
  if (!m) return undefined;
  let body = m[2].replace(/_/g, '');
  let base = 10;
  if (/^0[xX]/.test(body)) { base = 16; body = body.slice(2); }
  else if (/^0[bB]/.test(body)) { base = 2; body = body.slice(2); }
  else if (/^0[oO]/.test(body)) { base = 8; body = body.slice(2); }
  else if (body.length > 1 && body[0] === '0') { base = 8; body = body.slice(1); }
  const n = parseInt(body, base);
  if (!Number.isSafeInteger(n)) return undefined;
  return m[1] === '-' ? -n : n;
}

export interface ParsedFlags {
  /** flags given explicitly, by canonical id, with their value in order of appearance (last wins) */
  values: Map<string, string | number | boolean>;
  /** arguments after the flags (nats-server accepts only "version" or "help") */
  rest: string[];
}

/** Parse argv (without node and script) with Go flag rules. Throws FlagError. */
export function parseFlags(argv: string[]): ParsedFlags {
  const values = new Map<string, string | number | boolean>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.length < 2 || arg[0] !== '-') break;
    let name = arg.slice(1);
    if (name.startsWith('-')) {
      name = name.slice(1);
      if (name === '') {
        i++; // "--" ends the flags
        break;
      }
    }
    if (name === '' || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${arg}`, true);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const spec = FLAGS[name];
    if (!spec) throw new FlagError(`flag provided but not defined: -${name}`, true);
    if (spec.kind === 'bool') {
      if (value === undefined) {
        values.set(spec.id, true);
      } else {
        const b = parseGoBool(value);
        if (b === undefined) throw new FlagError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`, true);
        values.set(spec.id, b);
      }
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: -${name}`, true);
      value = argv[++i];
    }
    if (spec.kind === 'int') {
      const n = parseGoInt(value);
      if (n === undefined) throw new FlagError(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`, true);
      values.set(spec.id, n);
    } else {
      values.set(spec.id, value);
    }
  }
  return { values, rest: argv.slice(i) };
}

export type CommandAction = 'run' | 'help' | 'version' | 'help_tls' | 'check' | 'signal';

export interface SignalRequest {
  /** ldm, stop, quit, term, reopen or reload */
  command: string;
  /** pid (or pid file contents), possibly ending in '*'; undefined = find the process */
  pid?: string;
}

export interface ResolvedCommandLine {
  action: CommandAction;
  /** defaults, then the config file, then the flags given explicitly */
  options: Options;
  configFile?: string;
  signal?: SignalRequest;
  /** nats-server config warnings; print them; with -t nats-server fails on them */
  warnings: string[];
  /** accepted-but-unsupported features, for the log */
  notices: string[];
}

const SIGNAL_COMMANDS: Record<string, NodeJS.Signals> = {
  stop: 'SIGKILL',
  quit: 'SIGINT',
  reopen: 'SIGUSR1',
  reload: 'SIGHUP',
  ldm: 'SIGUSR2',
  term: 'SIGTERM',
};

/** The OS signal nats-server sends for a -sl command. Throws FlagError for an unknown command. */
export function signalForCommand(command: string): NodeJS.Signals {
  const s = SIGNAL_COMMANDS[command];
  if (!s) throw new FlagError(`unknown signal ${JSON.stringify(command)}`);
  return s;
}

function parseSignal(spec: string): SignalRequest {
  const parts = spec.split('=');
  if (parts.length > 2) throw new FlagError(`invalid signal parameters: [${parts.slice(2).join(' ')}]`);
  let pid: string | undefined;
  if (parts.length === 2) {
    // "-sl reload=/var/run/nats.pid": a readable file holds the pid
    try {
      pid = readFileSync(parts[1], 'utf8').trim();
    } catch {
      pid = parts[1];
    }
  }
  signalForCommand(parts[0]);
  if (pid !== undefined && pid !== '' && !/^[0-9]+\*?$/.test(pid)) {
    throw new FlagError(`invalid pid: ${pid.replace(/\*$/, '')}`);
  }
  return { command: parts[0], pid: pid === '' ? undefined : pid };
}

/** The --cluster / --cluster_listen URL: nats://[user:pass@]host:port, port -1 = random. */
function clusterFromUrl(url: string, base: ClusterOptions | undefined): ClusterOptions | undefined {
  if (url === '') {
    // an explicitly empty --cluster turns the cluster listener off
    return base ? { ...base, port: undefined } : undefined;
  }
  let parsed: URL;
  // "-1" is not a valid URL port: nats-server swaps it for 0, which means random
  const wantsRandom = url.endsWith(':-1');
  try {
    parsed = new URL(wantsRandom ? url.slice(0, -3) + ':0' : url);
  } catch {
    throw new FlagError(`parse ${JSON.stringify(url)}: invalid URL`);
  }
  if (parsed.port === '' && !/:0$/.test(wantsRandom ? url.slice(0, -3) + ':0' : url)) {
    throw new FlagError(`address ${parsed.host}: missing port in address`);
  }
  const port = parsed.port === '' ? 0 : Number(parsed.port);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const cl: ClusterOptions = { ...(base ?? defaultClusterOptions()), host: host === '' ? '0.0.0.0' : host, port };
  if (parsed.username !== '') {
    if (parsed.password === '') throw new FlagError('expected cluster password to be set');
    cl.authorization = {
      ...cl.authorization,
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
    };
  } else if (cl.authorization) {
    // nats-server clears file credentials when the flag URL has none
    cl.authorization = { ...cl.authorization, user: undefined, password: undefined };
  }
  return cl;
}

function portFromFlag(p: number): number {
  if (p === -1) return 0;
  if (p === 0) return DEFAULT_PORT;
  return p;
}

function optionalPortFromFlag(p: number): number | undefined {
  if (p === -1) return 0;
  if (p === 0) return undefined;
  return p;
}

/** Overlay explicitly given flags on options (file or defaults). */
export function applyFlags(base: Options, values: Map<string, string | number | boolean>): Options {
  const o: Options = { ...base, jetstream: { ...base.jetstream } };
  const s = (id: string): string => values.get(id) as string;
  const n = (id: string): number => values.get(id) as number;
  const b = (id: string): boolean => values.get(id) as boolean;
  let auth: AuthorizationConfig | undefined;
  const authz = (): AuthorizationConfig => (auth ??= { ...(o.authorization ?? {}) });
  for (const id of values.keys()) {
    switch (id) {
      case 'port': o.port = portFromFlag(n(id)); break;
      case 'server_name': o.serverName = s(id); break;
      case 'host': o.host = s(id); break;
      case 'client_advertise': o.clientAdvertise = s(id); break;
      case 'debug': o.debug = b(id); break;
      case 'trace': o.trace = b(id); break;
      case 'VV': o.trace = b(id); o.traceVerbose = b(id); break;
      case 'DV': o.debug = b(id); o.trace = b(id); break;
      case 'DVV': o.debug = b(id); o.trace = b(id); o.traceVerbose = b(id); break;
      case 'logtime': o.logtime = b(id); break;
      case 'logtime_utc': o.logtimeUtc = b(id); break;
      case 'user': authz().user = s(id); break;
      case 'pass': authz().password = s(id); break;
      case 'auth': authz().token = s(id); break;
      case 'http_port': o.httpPort = optionalPortFromFlag(n(id)); break;
      case 'https_port': o.httpsPort = optionalPortFromFlag(n(id)); break;
      case 'pid': o.pidFile = s(id); break;
      case 'ports_file_dir': o.portsFileDir = s(id); break;
      case 'log': o.logFile = s(id); break;
      case 'log_size_limit': o.logSizeLimitBytes = n(id); break;
      case 'syslog': o.syslog = b(id); break;
      case 'remote_syslog': o.remoteSyslog = s(id); break;
      case 'profile': o.profPort = n(id); break;
      case 'max_traced_msg_len': o.maxTracedMsgLen = n(id); break;
      case 'jetstream': o.jetstream.enabled = b(id); break;
      case 'store_dir': o.jetstream.storeDir = s(id); break;
      case 'cluster': o.cluster = clusterFromUrl(s(id), o.cluster); break;
      case 'cluster_advertise': o.cluster = { ...(o.cluster ?? defaultClusterOptions()), advertise: s(id) }; break;
      case 'no_advertise': o.cluster = { ...(o.cluster ?? defaultClusterOptions()), noAdvertise: b(id) }; break;
      case 'connect_retries': o.cluster = { ...(o.cluster ?? defaultClusterOptions()), connectRetries: n(id) }; break;
      case 'cluster_name': o.cluster = { ...(o.cluster ?? defaultClusterOptions()), name: s(id) }; break;
      case 'routes': {
        const routes = s(id) === '' ? [] : s(id).split(',').map((r) => r.trim());
        o.cluster = { ...(o.cluster ?? defaultClusterOptions()), routes };
        break;
      }
      default:
        break;
    }
  }
  if (auth) o.authorization = auth;
  applyTlsFlags(o, values);
  if (values.has('routes') && s('routes') !== '' && o.cluster?.port === undefined) {
    throw new FlagError('solicited routes require cluster capabilities, e.g. --cluster');
  }
  return o;
}

/** --tls/--tlscert/--tlskey/--tlsverify/--tlscacert replace the file's tls block; --tls=false removes it. */
function applyTlsFlags(o: Options, values: Map<string, string | number | boolean>): void {
  const tlsIds = ['tls', 'tlsverify', 'tlscert', 'tlskey', 'tlscacert'];
  if (!tlsIds.some((id) => values.has(id))) return;
  if (values.get('tls') === false) {
    o.tls = undefined;
    return;
  }
  const cert = values.get('tlscert') as string | undefined;
  const key = values.get('tlskey') as string | undefined;
  if (!cert) throw new FlagError('TLS Server certificate must be present and valid');
  if (!key) throw new FlagError('TLS Server private key must be present and valid');
  o.tls = {
    certFile: cert,
    keyFile: key,
    caFile: values.get('tlscacert') as string | undefined,
    verify: values.get('tlsverify') === true,
  };
  // nats-server loads the files while reading the flags (GenTLSConfig).
  const bad = tlsFilesError(o.tls);
  if (bad !== undefined) throw new FlagError(bad);
}

/**
 * Everything the CLI needs from argv: what to do, and the merged Options.
 * Throws FlagError for bad flags (and, when the server is to run, options
 * nats-server refuses at start, e.g. max_payload above max_pending) and
 * ConfigError for a bad config file.
 */
export function resolveOptions(argv: string[]): ResolvedCommandLine {
  const { values, rest } = parseFlags(argv);
  const result = (action: CommandAction, options: Options = defaultOptions()): ResolvedCommandLine =>
    ({ action, options, warnings: [], notices: [] });
  if (values.get('version') === true) return result('version');
  if (values.get('help') === true) return result('help');
  if (values.get('help_tls') === true) return result('help_tls');
  if (rest.length > 0) {
    const cmd = rest[0].toLowerCase();
    if (cmd === 'version') return result('version');
    if (cmd === 'help') return result('help');
    throw new FlagError(`unrecognized command: ${JSON.stringify(rest[0])}`);
  }
  if (values.has('signal')) {
    return { ...result('signal'), signal: parseSignal(values.get('signal') as string) };
  }
  const configFile = values.get('config') as string | undefined;
  const check = values.get('check_config') === true;
  let base = defaultOptions();
  let warnings: string[] = [];
  let notices: string[] = [];
  if (configFile !== undefined && configFile !== '') {
    const loaded = loadConfigFile(configFile);
    base = loaded.options;
    warnings = loaded.warnings;
    notices = loaded.notices;
  } else if (check) {
    throw new FlagError('must specify [-c, --config] option to check configuration file syntax');
  }
  const options = applyFlags(base, values);
  if (!check) {
    // The checks nats-server makes when the server is created (not with -t).
    const invalid = validateOptions(options);
    if (invalid !== undefined) throw new FlagError(invalid);
  }
  // Refused with -t too: TLS settings tsnats cannot honour.
  const noTls = tlsUnsupportedError(options);
  if (noTls !== undefined) throw new FlagError(noTls);
  return { action: check ? 'check' : 'run', options, configFile: configFile || undefined, warnings, notices };
}

/** nats-server's usage text, with the program name given. */
export function usageText(exe = 'nats-server'): string {
  return `
Usage: ${exe} [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to ${exe} process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/${exe}.pid)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
`;
}

export { ConfigError };
