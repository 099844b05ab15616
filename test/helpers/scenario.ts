// Raw protocol scenarios: a list of byte sends over one or more raw
// connections, with PING/PONG barriers, producing a transcript per connection.
// Used to run the same scenario against tsnats and nats-server and compare.
import { RawClient } from './raw-client.js';

export type Step =
  /** send bytes on connection `c` (default 0) */
  | { c?: number; send: string | Buffer }
  /** PING/PONG barrier on connection `c`: everything the server sent before the PONG is recorded */
  | { c?: number; sync: true }
  /** wait for the server to close connection `c` */
  | { c?: number; expectClose: true }
  /** give the server time (only where nothing can be awaited, e.g. proving a non-event) */
  | { sleepMs: number };

export interface Scenario {
  name: string;
  /** number of connections (default 1) */
  clients?: number;
  steps: Step[];
  /**
   * tsnats deliberately follows the newest nats-server here, not 2.9.10: its transcripts must
   * equal `expect(2.9.10's transcripts)`, changed only in the documented way.
   */
  newerThan2910?: { why: string; expect: (texts: string[]) => string[] };
  /** keep the server's keepalive PINGs in the transcript (default: dropped, their timing is not part of a scenario) */
  keepServerPings?: boolean;
}

export interface Transcript {
  /** per connection: INFO normalized, then everything received */
  texts: string[];
  closed: boolean[];
  infos: Record<string, unknown>[];
}

const INFO_RE = /^INFO (\{.*?\}) \r\n/;

export async function runScenario(port: number, sc: Scenario): Promise<Transcript> {
  const n = sc.clients ?? 1;
  const conns: RawClient[] = [];
  const infos: Record<string, unknown>[] = [];
  const texts: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const c = await RawClient.connect(port);
      const t = await c.waitFor(/^INFO \{.*\} \r\n/);
      const m = INFO_RE.exec(t)!;
      infos.push(JSON.parse(m[1]));
      c.clear();
      const rest = Buffer.from(t, 'latin1').subarray(m[0].length);
      if (rest.length > 0) texts.push(rest.toString('latin1'));
      else texts.push('');
      conns.push(c);
    }
    for (const st of sc.steps) {
      if ('sleepMs' in st) {
        await new Promise((r) => setTimeout(r, st.sleepMs));
        continue;
      }
      const c = conns[st.c ?? 0];
      const idx = st.c ?? 0;
      if ('send' in st) {
        c.send(st.send);
      } else if ('sync' in st) {
        texts[idx] += await c.flushPing();
        texts[idx] += '<PONG>';
      } else if ('expectClose' in st) {
        try {
          await c.waitClosed(3000);
        } catch {
          // recorded as not closed below
        }
        texts[idx] += c.text;
        c.clear();
      }
    }
    // Let anything in flight arrive: one last barrier on open connections.
    for (let i = 0; i < n; i++) {
      if (!conns[i].isClosed) {
        try {
          texts[i] += await conns[i].flushPing(2000);
        } catch {
          texts[i] += conns[i].text;
        }
      }
    }
    const out = sc.keepServerPings ? texts : texts.map(dropServerPings);
    return { texts: out, closed: conns.map((c) => c.isClosed), infos };
  } finally {
    for (const c of conns) c.close();
  }
}

/** Remove keepalive "PING\r\n" frames (at frame boundaries) from a transcript. */
function dropServerPings(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('PING\r\n', i)) {
      i += 6;
      continue;
    }
    if (text.startsWith('<PONG>', i)) {
      out += '<PONG>';
      i += 6;
      continue;
    }
    // copy one frame: a control line, plus the payload of MSG/HMSG
    const eol = text.indexOf('\r\n', i);
    if (eol < 0) {
      out += text.slice(i);
      break;
    }
    const line = text.slice(i, eol + 2);
    out += line;
    i = eol + 2;
    const m = /^(H?MSG) .* (\d+)\r\n$/.exec(line);
    if (m) {
      const n = Number(m[2]) + 2;
      out += text.slice(i, i + n);
      i += n;
    }
  }
  return out;
}

const C = (o: Record<string, unknown> = {}) => `CONNECT ${JSON.stringify({
  verbose: false, pedantic: false, tls_required: false, lang: 'raw', version: '0.0.1',
  protocol: 1, echo: true, headers: true, no_responders: true, ...o,
})}\r\n`;

/** Deterministic client-protocol scenarios (no random queue picks, no timing). */
export const CLIENT_SCENARIOS: Scenario[] = [
  { name: 'ping pong', steps: [{ send: C() }, { sync: true }] },
  { name: 'CONNECT {} is verbose', steps: [{ send: 'CONNECT {}\r\nSUB v.x 1\r\nPUB v.x 2\r\nhi\r\nUNSUB 1\r\n' }, { sync: true }] },
  { name: 'ops before CONNECT get +OK (verbose default)', steps: [{ send: 'SUB a 1\r\nPUB a 1\r\nx\r\n' }, { sync: true }] },
  { name: 'case-insensitive ops and tabs', steps: [{ send: C() }, { send: 'sub\tfoo \t 1\r\npUb foo\t 3\r\nabc\r\nPing\r\n' }, { sync: true }] },
  { name: 'bare newline terminators', steps: [{ send: C() }, { send: 'SUB foo 1\nPUB foo 1\nx\r\n' }, { sync: true }] },
  { name: 'PING with trailing junk', steps: [{ send: C() }, { send: 'PING  junk\r\n' }, { sync: true }] },
  { name: 'msg framing', steps: [{ send: C() }, { send: 'SUB m.> 1\r\nPUB m.a 5\r\nhello\r\nPUB m.b rep.1 5\r\nworld\r\nPUB m.c 0\r\n\r\nHPUB m.h 22 25\r\nNATS/1.0\r\nFoo: bar\r\n\r\nabc\r\nHPUB m.h rep.2 22 25\r\nNATS/1.0\r\nFoo: bar\r\n\r\nabc\r\nHPUB m.h 22 22\r\nNATS/1.0\r\nFoo: bar\r\n\r\n\r\n' }, { sync: true }] },
  { name: 'wildcards', steps: [{ send: C() }, { send: 'SUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nSUB a.b.c 4\r\nPUB a.b 1\r\n1\r\nPUB a.b.c 1\r\n2\r\nPUB a 1\r\n3\r\nPUB a.* 1\r\n4\r\n' }, { sync: true }] },
  { name: 'unknown op closes', steps: [{ send: C() }, { sync: true }, { send: 'FOO bar\r\n' }, { expectClose: true }] },
  { name: 'MSG from client closes', steps: [{ send: C() }, { send: 'MSG foo 1 2\r\nhi\r\n' }, { expectClose: true }] },
  { name: 'bad payload terminator closes', steps: [{ send: C() }, { send: 'SUB foo 1\r\nPUB foo 2\r\nhiX\r\n' }, { expectClose: true }] },
  { name: 'max payload', steps: [{ send: C() }, { sync: true }, { send: 'PUB foo 2000000\r\n' }, { expectClose: true }] },
  { name: 'max control line', steps: [{ send: C() }, { sync: true }, { send: `SUB ${'x'.repeat(5000)} 1\r\n` }, { expectClose: true }] },
  { name: 'PUB without size closes silently', steps: [{ send: C() }, { sync: true }, { send: 'PUB foo\r\n' }, { expectClose: true }] },
  { name: 'PUB with bad size closes silently', steps: [{ send: C() }, { sync: true }, { send: 'PUB foo x1\r\n' }, { expectClose: true }] },
  { name: 'SUB without sid closes silently', steps: [{ send: C() }, { sync: true }, { send: 'SUB foo\r\n' }, { expectClose: true }] },
  { name: 'SUB with 4 args closes silently', steps: [{ send: C() }, { sync: true }, { send: 'SUB a b c d\r\n' }, { expectClose: true }] },
  { name: 'UNSUB without args', steps: [{ send: C() }, { sync: true }, { send: 'UNSUB\r\n' }, { expectClose: true }] },
  { name: 'invalid CONNECT JSON closes silently', steps: [{ send: 'CONNECT {bad\r\n' }, { expectClose: true }] },
  { name: 'HPUB without headers support closes silently', steps: [{ send: C({ headers: false, no_responders: false }) }, { sync: true }, { send: 'HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n' }, { expectClose: true }] },
  { name: 'HPUB header size larger than total closes', steps: [{ send: C() }, { sync: true }, { send: 'HPUB foo 12 10\r\n' }, { expectClose: true }] },
  { name: 'INFO and +OK from client are ignored', steps: [{ send: C() }, { send: 'INFO {}\r\n+OK\r\n' }, { sync: true }] },
  { name: '-ERR from client closes', steps: [{ send: C() }, { sync: true }, { send: "-ERR 'boom'\r\n" }, { expectClose: true }] },
  { name: 'invalid subject keeps connection', steps: [{ send: C() }, { send: 'SUB foo..bar 1\r\nSUB foo.>.x 2\r\nSUB .a 3\r\nSUB a. 4\r\n' }, { sync: true }] },
  { name: 'sid reuse keeps first subscription', steps: [{ send: C() }, { send: 'SUB a 1\r\nSUB b 1\r\nPUB a 1\r\nA\r\nPUB b 1\r\nB\r\n' }, { sync: true }] },
  { name: 'unsub unknown sid is fine', steps: [{ send: C({ verbose: true }) }, { send: 'UNSUB 99\r\n' }, { sync: true }] },
  { name: 'unsub max', steps: [{ send: C() }, { send: 'SUB u 1\r\nUNSUB 1 2\r\nPUB u 1\r\n1\r\nPUB u 1\r\n2\r\nPUB u 1\r\n3\r\n' }, { sync: true }] },
  { name: 'unsub max already reached', steps: [{ send: C() }, { send: 'SUB u 1\r\nPUB u 1\r\n1\r\nPUB u 1\r\n2\r\n' }, { sync: true }, { send: 'UNSUB 1 1\r\nPUB u 1\r\n3\r\n' }, { sync: true }] },
  { name: 'invalid client protocol', steps: [{ send: C({ protocol: 2 }) }, { send: 'PING\r\n' }, { expectClose: true }] },
  { name: 'no_responders requires headers', steps: [{ send: C({ headers: false }) }, { send: 'PING\r\n' }, { expectClose: true }] },
  { name: 'no responders 503', steps: [{ send: C() }, { send: 'SUB _INBOX.nr.* 1\r\nPUB nobody.home _INBOX.nr.1 2\r\nhi\r\n' }, { sync: true }] },
  { name: 'no responders not requested', steps: [{ send: C({ no_responders: false }) }, { send: 'SUB _INBOX.nr.* 1\r\nPUB nobody.home _INBOX.nr.1 2\r\nhi\r\n' }, { sync: true }] },
  { name: 'echo off', steps: [{ send: C({ echo: false }) }, { send: 'SUB e 1\r\nPUB e 1\r\nx\r\n' }, { sync: true }] },
  { name: 'echo on', steps: [{ send: C() }, { send: 'SUB e 1\r\nPUB e 1\r\nx\r\n' }, { sync: true }] },
  { name: 'reserved reply subject', steps: [{ send: C() }, { send: 'SUB foo 1\r\nPUB foo _R_.x 2\r\nhi\r\nPUB foo $JS.ACK.x 2\r\nhi\r\n' }, { sync: true }] },
  {
    name: 'headers stripped for non-header client',
    clients: 2,
    steps: [
      { c: 1, send: C({ headers: false, no_responders: false }) }, { c: 1, send: 'SUB nh.x 1\r\n' }, { c: 1, sync: true },
      { c: 0, send: C() }, { c: 0, send: 'HPUB nh.x 22 25\r\nNATS/1.0\r\nFoo: bar\r\n\r\nabc\r\n' }, { c: 0, sync: true },
      { c: 1, sync: true },
    ],
  },
  {
    name: 'single-member queue group and plain sub',
    clients: 2,
    steps: [
      { c: 1, send: C() }, { c: 1, send: 'SUB q.a grp 7\r\nSUB q.a 8\r\n' }, { c: 1, sync: true },
      { c: 0, send: C() }, { c: 0, send: 'PUB q.a 1\r\nQ\r\n' }, { c: 0, sync: true },
      { c: 1, sync: true },
    ],
  },
  { name: 'pedantic invalid publish subject', steps: [{ send: C({ pedantic: true }) }, { send: 'SUB foo.> 1\r\nPUB foo.* 1\r\nx\r\nPUB foo..bar 1\r\ny\r\n' }, { sync: true }] },
  { name: 'CONNECT without space', steps: [{ send: 'CONNECT{"verbose":false}\r\n' }, { sync: true }] },
  { name: 'payload terminated by bare newline', steps: [{ send: C() }, { send: 'SUB foo 1\r\nPUB foo 1\r\nx\n' }, { expectClose: true }] },
  { name: 'reserved queue name _sys_', steps: [{ send: C() }, { send: 'SUB foo _sys_ 1\r\n' }, { sync: true }] },
  { name: 'extra whitespace in args', steps: [{ send: C() }, { send: 'SUB  foo   1  \r\nPUB   foo    3   \r\nabc\r\n' }, { sync: true }] },
  { name: 'UNSUB with non-numeric max removes at once', steps: [{ send: C() }, { send: 'SUB foo 1\r\nUNSUB 1 x\r\nPUB foo 1\r\nx\r\n' }, { sync: true }] },
  { name: 'verbose HPUB and SUB/UNSUB', steps: [{ send: C({ verbose: true }) }, { send: 'SUB h 1\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1\r\n' }, { sync: true }] },
  { name: 'PUB with 4 args closes', steps: [{ send: C() }, { sync: true }, { send: 'PUB a b c 1\r\nx\r\n' }, { expectClose: true }] },
  { name: 'wrong type in CONNECT closes', steps: [{ send: 'CONNECT {"verbose":"yes"}\r\n' }, { expectClose: true }] },
  { name: 'CONNECT with account field', steps: [{ send: C({ account: 'foo' }) }, { send: 'PING\r\n' }, { expectClose: true }] },
  {
    name: 'second CONNECT clears subscriptions',
    newerThan2910: {
      why: 'newest nats-server drops the subscriptions on a second CONNECT (account may change): the MSG is not delivered',
      expect: (texts) => texts.map((x) => x.replace('MSG a 1 1\r\nx\r\n', '')),
    },
    steps: [{ send: C() }, { send: 'SUB a 1\r\n' }, { sync: true }, { send: C() }, { send: 'PUB a 1\r\nx\r\n' }, { sync: true }] },
  { name: 'huge size number closes', steps: [{ send: C() }, { sync: true }, { send: 'PUB foo 99999999999999999999\r\n' }, { expectClose: true }] },
  { name: 'queue sub with invalid subject', steps: [{ send: C() }, { send: 'SUB foo..x q 1\r\n' }, { sync: true }] },
  { name: 'publish to subject with wildcard delivered literally', steps: [{ send: C() }, { send: 'SUB foo.bar 1\r\nSUB foo.* 2\r\nPUB foo.* 1\r\nx\r\nPUB foo.> 1\r\ny\r\n' }, { sync: true }] },
  { name: 'empty CONNECT line', steps: [{ send: 'CONNECT \r\n' }, { expectClose: true }] },
  { name: 'lowercase connect and hpub', steps: [{ send: 'connect {"verbose":false,"headers":true}\r\n' }, { send: 'sub h 1\r\nhpub h 12 12\r\nNATS/1.0\r\n\r\n\r\n' }, { sync: true }] },
  { name: 'ops split on CR', steps: [{ send: C() }, { send: 'SUB s 1\r' }, { send: '\nPUB s 1\r' }, { send: '\nx\r' }, { send: '\n' }, { sync: true }] },
  { name: 'PONG from client', steps: [{ send: C() }, { send: 'PONG\r\n' }, { sync: true }] },
  { name: 'op split across words', steps: [{ send: C() }, { send: 'SU' }, { send: 'B x 1\r\nPU' }, { send: 'B x 2\r\nh' }, { send: 'i\r\n' }, { sync: true }] },
  {
    name: 'publish to reserved gateway prefix',
    newerThan2910: {
      why: 'newest nats-server refuses client publishes to $GNR. subjects (server/client.go processInboundClientMsg: pubPermissionViolation)',
      expect: (texts) => texts.map((x) => x.replace('MSG $GNR.x 1 1\r\nx\r\n', '-ERR \'Permissions Violation for Publish to "$GNR.x"\'\r\n')),
    },
    steps: [{ send: C() }, { send: 'SUB > 1\r\nPUB $GNR.x 1\r\nx\r\nPUB $GNR. 1\r\ny\r\nPUB foo $JS.ACK. 1\r\nz\r\n' }, { sync: true }] },
  {
    name: 'publish to raft prefix outside the system account',
    newerThan2910: {
      why: 'newest nats-server refuses $NRG. publishes from non-system accounts (server/client.go processInboundClientMsg: pubPermissionViolation)',
      expect: (texts) => texts.map((x) => x.replace('MSG $NRG.x 1 1\r\nx\r\n', '-ERR \'Permissions Violation for Publish to "$NRG.x"\'\r\n')),
    },
    steps: [{ send: C() }, { send: 'SUB > 1\r\nPUB $NRG.x 1\r\nx\r\n' }, { sync: true }] },
  { name: 'split frame: CONNECT then byte-sized chunks', steps: [{ send: C() }, ...'SUB s 1\r\nPUB s 3\r\nabc\r\n'.split('').map((ch) => ({ send: ch })), { sync: true }] },
];
