// nats-server style log lines:
//   [1234] 2026/11/27 00:00:00.000000 [INF] Starting nats-server
// Levels INF, WRN, ERR, DBG (debug), TRC (trace). Output goes to stderr, or is
// appended to a log file. Settings can change at runtime (config reload).
import { appendFileSync } from 'node:fs';

export interface LoggerSettings {
  debug: boolean;
  trace: boolean;
  logtime: boolean;
  logtimeUtc: boolean;
  logFile?: string;
  /** do not print anything (embedding, tests) */
  quiet?: boolean;
}

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  debugEnabled: boolean;
  traceEnabled: boolean;
  private settings: LoggerSettings;
  private readonly pidPrefix = `[${process.pid}] `;
  /** extra sink (tests capture log lines here) */
  sink: LogSink | null = null;

  constructor(settings: LoggerSettings) {
    this.settings = { ...settings };
    this.debugEnabled = settings.debug;
    this.traceEnabled = settings.trace;
  }

  configure(settings: LoggerSettings): void {
    this.settings = { ...settings };
    this.debugEnabled = settings.debug;
    this.traceEnabled = settings.trace;
  }

  info(msg: string): void { this.emit('[INF] ', msg); }
  warn(msg: string): void { this.emit('[WRN] ', msg); }
  error(msg: string): void { this.emit('[ERR] ', msg); }
  fatal(msg: string): void { this.emit('[FTL] ', msg); }
  debug(msg: string): void { if (this.debugEnabled) this.emit('[DBG] ', msg); }
  trace(msg: string): void { if (this.traceEnabled) this.emit('[TRC] ', msg); }

  private emit(level: string, msg: string): void {
    const s = this.settings;
    const line = this.pidPrefix + (s.logtime ? formatTime(new Date(), s.logtimeUtc) + ' ' : '') + level + msg + '\n';
    if (this.sink !== null) this.sink.write(line);
    if (s.quiet) return;
    if (s.logFile) {
      try {
        appendFileSync(s.logFile, line);
        return;
      } catch {
        // fall back to stderr when the file cannot be written
      }
    }
    process.stderr.write(line);
  }
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** "2006/01/02 15:04:05.000000" in local time (or UTC). */
export function formatTime(d: Date, utc: boolean): string {
  const y = utc ? d.getUTCFullYear() : d.getFullYear();
  const mo = (utc ? d.getUTCMonth() : d.getMonth()) + 1;
  const da = utc ? d.getUTCDate() : d.getDate();
  const h = utc ? d.getUTCHours() : d.getHours();
  const mi = utc ? d.getUTCMinutes() : d.getMinutes();
  const s = utc ? d.getUTCSeconds() : d.getSeconds();
  const us = d.getMilliseconds() * 1000;
  return `${y}/${pad(mo, 2)}/${pad(da, 2)} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(us, 6)}`;
}
