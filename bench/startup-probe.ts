// Start-up probe: time from spawn() to the first PONG of a server, and the CPU its main thread had
// used by then (/proc/<pid>/schedstat: on a machine shared with other work the wall time mostly
// measures the scheduler, the CPU time what start-up costs). One process at a time, killed after
// each sample.
//
//   node dist/bench/startup-probe.js [--rounds 9] [--conf js-cluster] -- <command with PORT and CONF>
//
// PORT is replaced by a free-looking port for each sample; CONF (with --conf js-cluster) by a config
// file with JetStream, a cluster listener routing to a port nobody listens on, and monitoring:
// what a server of a JetStream cluster loads at start. Examples (BENCHMARKS.md, start-up):
//   node dist/bench/startup-probe.js -- node dist/src/cli.js -a 127.0.0.1 -p PORT
//   node dist/bench/startup-probe.js -- nats-server -a 127.0.0.1 -p PORT
//   node dist/bench/startup-probe.js --conf js-cluster -- node dist/src/cli.js -c CONF -p PORT
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    let sent = false;
    s.on('data', (d) => {
      buf += d.toString();
      if (!sent && buf.includes('INFO')) {
        sent = true;
        s.write('CONNECT {"verbose":false}\r\nPING\r\n');
      }
      if (buf.includes('PONG')) {
        s.destroy();
        resolve(true);
      }
    });
    s.on('error', () => resolve(false));
  });
}

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(0)} med ${s[s.length >> 1]!.toFixed(0)} max ${s[s.length - 1]!.toFixed(0)}`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new Error('usage: startup-probe [--rounds N] [--conf js-cluster] -- <command>');
  const opts = argv.slice(0, sep);
  const cmd = argv.slice(sep + 1);
  const rounds = Number(opts[opts.indexOf('--rounds') + 1] ?? 9) || 9;
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-probe-'));
  let port = 20000 + Math.floor(Math.random() * 20000);
  const wall: number[] = [];
  const cpu: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      port++;
      const conf = join(dir, `n${i}.conf`);
      if (opts.includes('js-cluster')) {
        writeFileSync(conf, [
          'server_name: probe', 'http: 127.0.0.1:-1', `jetstream { store_dir: "${join(dir, `js${i}`)}" }`,
          'cluster { name: C, listen: 127.0.0.1:-1, routes: [ nats-route://127.0.0.1:1 ] }',
        ].join('\n'));
      }
      const args = cmd.map((a) => a.replace('PORT', String(port)).replace('CONF', conf));
      const t0 = performance.now();
      const p = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
      let exited = false;
      p.once('exit', () => { exited = true; });
      let ok = false;
      while (!exited && !(ok = await pong(port))) await new Promise((r) => setTimeout(r, 1));
      if (!ok) {
        // the port was taken (or the command fails): try another port, give up after a few
        if (++failures > 5) throw new Error(`${args.join(' ')} exited before answering PING`);
        i -= 1;
        port += 7;
        continue;
      }
      wall.push(performance.now() - t0);
      cpu.push(Number(readFileSync(`/proc/${p.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
      p.kill('SIGKILL');
      if (!exited) await new Promise((r) => p.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`spawn -> first PONG: wall ${summary(wall)} ms | main-thread CPU ${summary(cpu)} ms | ${cmd.join(' ')}`);
}

await main();
