// The `tsnats` command: nats-server compatible flags, config file, signals
// (SIGINT/SIGTERM stop, SIGUSR2 lame duck, SIGHUP reload, SIGUSR1 reopen log)
// and logging. Runs when imported: src/cli.ts loads it from the single-file
// build (scripts/bundle.mjs) or as an ES module.
import { FlagError, resolveOptions, signalForCommand, usageText, type ResolvedCommandLine } from './config/flags.js';
import { ConfigError } from './config/load.js';
import type { Options } from './config/options.js';
import { Server, SERVER_VERSION, StartupError } from './server/server.js';
import { addDefaultSubsystems } from './index.js';

function fail(msg: string, showUsage = false): never {
  process.stderr.write(`nats-server: ${msg}\n`);
  if (showUsage) process.stderr.write(usageText());
  process.exit(1);
}

function describeConfigError(e: ConfigError): string {
  return (e.errors?.length ? e.errors : [e]).map((x) => x.message).join('\n');
}

function resolve(argv: string[]): ResolvedCommandLine {
  try {
    return resolveOptions(argv);
  } catch (e) {
    if (e instanceof FlagError) {
      if (e.showUsage) {
        process.stderr.write(`${e.message}\n${usageText()}`);
        process.exit(2);
      }
      fail(e.message);
    }
    if (e instanceof ConfigError) fail(describeConfigError(e));
    throw e;
  }
}

function sendSignal(command: string, pidSpec: string | undefined): void {
  const sig = signalForCommand(command);
  let pids: number[];
  if (pidSpec !== undefined) {
    pids = [Number(pidSpec.replace(/\*$/, ''))];
  } else {
    fail('no pid given: use -sl <signal>=<pid or pid file>');
  }
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      fail(`signal ${command} to ${pid} failed: ${(e as Error).message}`);
    }
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const r = resolve(argv);
  switch (r.action) {
    case 'version':
      process.stdout.write(`nats-server: v${SERVER_VERSION}\n`);
      process.exit(0);
      break;
    case 'help':
    case 'help_tls':
      process.stdout.write(usageText());
      process.exit(0);
      break;
    case 'check':
      if (r.warnings.length > 0) fail(r.warnings.join('\n'));
      process.stdout.write(`nats-server: configuration file ${r.configFile} is valid\n`);
      process.exit(0);
      break;
    case 'signal':
      sendSignal(r.signal!.command, r.signal!.pid);
      process.exit(0);
      break;
    case 'run':
      break;
  }

  const options: Options = { ...r.options, configFile: r.configFile ?? r.options.configFile };
  const server = new Server(options, { configAuth: true });
  for (const w of r.warnings) server.log.warn(w);
  for (const n of r.notices) server.log.info(n);
  await addDefaultSubsystems(server);

  // Signal handlers go in before start so a signal during start-up is not
  // fatal; what they ask for runs once start-up has finished.
  let started = false;
  const deferred: (() => void)[] = [];
  const whenStarted = (fn: () => void): void => {
    if (started) fn();
    else deferred.push(fn);
  };
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    whenStarted(() => void server.shutdown().then(() => process.exit(0)));
  };
  process.on('SIGINT', () => {
    server.log.info('Trapped "interrupt" signal');
    stop();
  });
  process.on('SIGTERM', () => {
    server.log.info('Trapped "terminated" signal');
    stop();
  });
  process.on('SIGUSR2', () => {
    whenStarted(() => void server.enterLameDuckMode().then(() => process.exit(0)));
  });
  process.on('SIGUSR1', () => {
    // Log lines are appended per write: reopening is implicit.
    server.log.info('Trapped "user defined signal 1" signal: log file reopened');
  });
  process.on('SIGHUP', () => {
    server.log.info('Trapped "hangup" signal');
    whenStarted(() => {
      try {
        const next = resolveOptions(argv);
        server.reload(next.options);
      } catch (e) {
        const msg = e instanceof ConfigError ? describeConfigError(e) : (e as Error).message;
        server.log.error(`Failed to reload server configuration: ${msg}`);
      }
    });
  });

  try {
    await server.start();
  } catch (e) {
    server.log.fatal(e instanceof StartupError ? e.message : `Error listening on port: ${(e as Error).message}`);
    process.exit(1);
  }
  started = true;
  for (const fn of deferred.splice(0)) fn();
}

void main();
