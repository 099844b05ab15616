// Headless Chromium for the browser tests (the live page, the websocket page), found as
// nats-server and openssl are (test/helpers/nats-server.ts): $CHROMIUM_BIN if set, else
// `chromium` on PATH (the Debian package .ci/run installs). Missing locally: the test skips with
// the reason; missing under CI=true: the test runs and fails at requireChromium().
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookup, required, skipReason } from './nats-server.js';

export function chromiumSkip(): string | false {
  return skipReason(lookup('chromium', 'CHROMIUM_BIN'));
}

export function requireChromium(): string {
  return required(lookup('chromium', 'CHROMIUM_BIN'), 'this test renders a page in headless Chromium');
}

/**
 * Load `url` in a fresh headless Chromium (own profile dir, removed afterwards) and return the
 * DOM once `budgetMs` of virtual time has passed: timers run on virtual time, and pending network
 * requests hold it, so a page that polls shows the state after a few polls. The process is killed
 * after `timeoutMs` of real time.
 */
export async function dumpDom(url: string, budgetMs = 3000, timeoutMs = 60_000): Promise<string> {
  const bin = requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'tsnats-chromium-'));
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(bin, [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
        '--disable-extensions', '--disable-background-networking', '--disable-dev-shm-usage',
        `--user-data-dir=${profile}`, `--virtual-time-budget=${budgetMs}`, '--dump-dom', url,
      ], { timeout: timeoutMs, maxBuffer: 16 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`chromium failed on ${url}: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      });
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}
