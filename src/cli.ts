#!/usr/bin/env node
// The `tsnats` command: nats-server compatible flags, signals and logging.
import { defaultOptions, type Options } from './config/options.js';
import { Server, SERVER_VERSION } from './server/server.js';

function usage(): string {
  return `Usage: tsnats [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 random)
    -n, --name <server_name>         Server name (default: auto)
    -P, --pid <file>                 File to store PID
        --ports_file_dir <dir>       Creates a ports file in the specified directory
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -h, --help                       Show this message
    -v, --version                    Show version
`;
}

/** Minimal flag reader used until the config package provides parseFlags. */
function parseBasicFlags(argv: string[]): Options {
  const o = defaultOptions();
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val: string | undefined;
    const eq = a.indexOf('=');
    if (eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = (): string => {
      if (val !== undefined) return val;
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${a}`);
      return v;
    };
    switch (a.replace(/^--?/, '-')) {
      case '-a': case '-addr': case '-net': o.host = next(); break;
      case '-p': case '-port': o.port = Number(next()); if (o.port < 0) o.port = 0; break;
      case '-n': case '-name': case '-server_name': o.serverName = next(); break;
      case '-P': case '-pid': o.pidFile = next(); break;
      case '-ports_file_dir': o.portsFileDir = next(); break;
      case '-D': case '-debug': o.debug = true; break;
      case '-V': case '-trace': o.trace = true; break;
      case '-DV': o.debug = true; o.trace = true; break;
      case '-h': case '-help': process.stdout.write(usage()); process.exit(0); break;
      case '-v': case '-version': process.stdout.write(`nats-server: v${SERVER_VERSION}\n`); process.exit(0); break;
      default: throw new Error(`flag provided but not defined: ${argv[i]}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseBasicFlags(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`nats-server: ${(e as Error).message}\n${usage()}`);
    process.exit(1);
  }
  const server = new Server(options);
  try {
    await server.start();
  } catch (e) {
    server.log.fatal(`Error listening on port: ${(e as Error).message}`);
    process.exit(1);
  }
  const stop = (): void => {
    void server.shutdown().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGUSR2', () => {
    void server.enterLameDuckMode().then(() => process.exit(0));
  });
}

void main();
