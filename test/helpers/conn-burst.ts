// Many client connections opened at once from another process (so the opening costs the
// opener's event loop, not the server's): used by the fuzz test's accept storm and by the
// close-storm test. Each connection waits for INFO; with `subs`, it also sends CONNECT, that
// many subscriptions (every third a queue subscription) and a PING, and counts as ready at
// the PONG. The child prints "<n> READY" once all are, and holds them until stdin ends or
// it is killed (which closes them all at once).
import { spawn, type ChildProcess } from 'node:child_process';

const OPENER = `
import net from 'node:net';
const [port, n, subs] = process.argv.slice(-3).map(Number);
let ready = 0;
const hello = (i) => {
  if (subs === 0) return '';
  let s = 'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"name":"burst"}\\r\\n';
  for (let k = 0; k < subs; k++) {
    s += k % 3 === 2 ? 'SUB burst.q.' + (k % 10) + ' g' + (i % 7) + ' ' + (k + 1) + '\\r\\n'
      : 'SUB burst.' + i + '.' + k + ' ' + (k + 1) + '\\r\\n';
  }
  return s + 'PING\\r\\n';
};
for (let i = 0; i < n; i++) {
  const s = net.connect({ port, host: '127.0.0.1' });
  const want = subs === 0 ? '\\r\\n' : 'PONG\\r\\n';
  let text = '';
  let done = false;
  s.on('data', (d) => {
    if (done) return;
    if (text === '' && subs > 0) s.write(hello(i));
    text += d.toString('latin1');
    if (text.startsWith('INFO ') && text.includes(want)) { done = true; if (++ready === n) console.log(ready + ' READY'); }
  });
  s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
  s.on('close', () => { if (!done) { console.log('closed before ready: ' + text.slice(0, 200)); process.exit(1); } });
}
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export interface ConnBurst {
  child: ChildProcess;
  /** the opener's first line: "<n> READY" when every connection is ready */
  ready: Promise<string>;
  /** all connections end (stdin closes, the opener exits); resolves once it has exited */
  end(): Promise<void>;
  /** SIGKILL: the kernel closes every connection at once; resolves once it has exited */
  kill(): Promise<void>;
}

export function openConnBurst(port: number, n: number, subs = 0): ConnBurst {
  const child = spawn(process.execPath, ['--input-type=module', '-e', OPENER, String(port), String(n), String(subs)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const ready = new Promise<string>((resolve) => {
    child.stdout!.on('data', (d) => { out += String(d); if (out.includes('\n')) resolve(out.trim()); });
    void exited.then(() => resolve(out.trim()));
  });
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    ready,
    async end() { child.stdin!.end(); await exited; },
    async kill() { if (!gone()) child.kill('SIGKILL'); await exited; },
  };
}
