// nats-server configureAccounts' checks of exports and imports, in its order (service export
// latency, stream imports, service imports): an import must be covered by an export of the
// other account that approves the importer, a stream prefix must be literal, no import may
// be given twice, and no chain of imports may lead back to where it started. Each problem is
// reported with nats-server's text; every problem is reported, not just the first.
import type { AccountConfig, ExportEntry } from './options.js';
import { isSubsetMatch, subjectsCollide } from '../core/imports-subject.js';
import { isValidSubject, subjectIsLiteral } from '../core/subject.js';

/** nats-server MaxAccountCycleSearchDepth */
const MAX_CYCLE_SEARCH_DEPTH = 1024;

class CycleDepthError extends Error {}

/** nats-server checkAuth (config mode: approved accounts or the account token position). */
function approves(e: ExportEntry, importer: string, subject: string): boolean {
  if (e.accountTokenPosition) {
    const tokens = subject.split('.');
    return e.accountTokenPosition <= tokens.length && tokens[e.accountTokenPosition - 1] === importer;
  }
  return e.accounts === undefined || e.accounts.length === 0 || e.accounts.includes(importer);
}

/** Does `exporter` export `subject` (as a stream or a service) to `importer`? */
function authorized(exporter: AccountConfig, importer: string, subject: string, kind: 'stream' | 'service'): boolean {
  if (!isValidSubject(subject)) return false;
  for (const e of exporter.exports) {
    const s = kind === 'stream' ? e.stream : e.service;
    if (s !== undefined && isSubsetMatch(subject, s) && approves(e, importer, subject)) return true;
  }
  return false;
}

interface Edge { from: string; to: string; acc: string }

/** Check the exports and imports of `accounts`; `error` gets each problem's text. */
export function checkImports(accounts: readonly AccountConfig[], error: (text: string) => void): void {
  const byName = new Map(accounts.map((a) => [a.name, a]));
  for (const a of accounts) {
    for (const e of a.exports) {
      if (e.service !== undefined && e.latency !== undefined && (e.responseType ?? 'singleton') !== 'singleton') {
        error(`Error adding service latency sampling for "${e.service}" on subject "${e.latency.subject}": bad service response type`);
      }
    }
  }

  // the imports accepted so far, per importing account: nats-server adds them one by one
  const streams = new Map<string, Edge[]>();
  const services = new Map<string, Edge[]>();
  const edges = (m: Map<string, Edge[]>, acc: string): Edge[] => m.get(acc) ?? [];

  const streamCycle = (acc: string, to: string, visited: Set<string>): boolean => {
    if (visited.size >= MAX_CYCLE_SEARCH_DEPTH) throw new CycleDepthError();
    const cfg = byName.get(acc);
    if (!cfg?.exports.some((e) => e.stream !== undefined && isSubsetMatch(to, e.stream))) return false;
    for (const si of edges(streams, acc)) {
      if (!subjectsCollide(to, si.to)) continue;
      if (visited.has(si.acc)) return true;
      visited.add(acc);
      if (streamCycle(si.acc, isSubsetMatch(si.to, to) ? si.to : to, visited)) return true;
    }
    return false;
  };
  const serviceCycle = (acc: string, from: string, visited: Set<string>): boolean => {
    if (visited.size >= MAX_CYCLE_SEARCH_DEPTH) throw new CycleDepthError();
    for (const si of edges(services, acc)) {
      if (!subjectsCollide(from, si.to)) continue;
      if (visited.has(si.acc)) return true;
      visited.add(acc);
      if (serviceCycle(si.acc, isSubsetMatch(si.from, from) ? si.from : from, visited)) return true;
    }
    return false;
  };
  const cycleError = (check: () => boolean): string | undefined => {
    try {
      return check() ? 'import forms a cycle' : undefined;
    } catch (e) {
      if (e instanceof CycleDepthError) return 'search cycle depth exhausted';
      throw e;
    }
  };

  for (const a of accounts) {
    for (const imp of a.imports) {
      const src = imp.stream;
      const exporter = src && byName.get(src.account);
      if (src === undefined || exporter === undefined) continue;
      const fail = (why: string): void => error(`Error adding stream import "${src.subject}": ${why}`);
      if (!authorized(exporter, a.name, src.subject, 'stream')) {
        fail('stream import not authorized');
        continue;
      }
      if (imp.prefix !== undefined && imp.prefix !== '' && !subjectIsLiteral(imp.prefix)) {
        fail('stream import prefix can not contain wildcard tokens');
        continue;
      }
      const to = imp.prefix ? `${imp.prefix.replace(/\.$/, '')}.${src.subject}` : imp.to || src.subject;
      const cyc = cycleError(() => streamCycle(exporter.name, to, new Set([a.name])));
      if (cyc !== undefined) {
        fail(cyc);
        continue;
      }
      const mine = edges(streams, a.name);
      if (mine.some((e) => e.acc === exporter.name && e.from === src.subject)) {
        fail('stream import already exists');
        continue;
      }
      streams.set(a.name, [...mine, { from: src.subject, to, acc: exporter.name }]);
    }
  }

  for (const a of accounts) {
    for (const imp of a.imports) {
      const src = imp.service;
      const exporter = src && byName.get(src.account);
      if (src === undefined || exporter === undefined) continue;
      const fail = (why: string): void => error(`Error adding service import "${src.subject}": ${why}`);
      const from = imp.to || src.subject;
      if (!isValidSubject(from) || !isValidSubject(src.subject)) {
        fail('invalid subject');
        continue;
      }
      if (!authorized(exporter, a.name, src.subject, 'service')) {
        fail('service import not authorized');
        continue;
      }
      const cyc = cycleError(() => serviceCycle(exporter.name, from, new Set([a.name])));
      if (cyc !== undefined) {
        fail(cyc);
        continue;
      }
      services.set(a.name, [...edges(services, a.name), { from, to: src.subject, acc: exporter.name }]);
    }
  }
}
