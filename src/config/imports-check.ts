// nats-server configureAccounts' checks of exports and imports, in its order (service export
// latency, stream imports, service imports): an import must be covered by an export of the
// other account that approves the importer, a stream prefix must be literal, no import may
// be given twice, and no chain of imports may lead back to where it started. Each problem is
// reported with nats-server's text; every problem is reported, not just the first.
import type { AccountConfig, ExportEntry, ImportEntry } from './options.js';
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
type Source = { account: string; subject: string };

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

  // nats-server checkStreamImportsForCycles / checkServiceImportsForCycles: follow the imports of
  // `acc` that overlap `subject`; reaching an account already visited is a cycle
  const formsCycle = (kind: 'stream' | 'service', acc: string, subject: string, visited: Set<string>): boolean => {
    if (visited.size >= MAX_CYCLE_SEARCH_DEPTH) throw new CycleDepthError();
    if (kind === 'stream' && !byName.get(acc)?.exports.some((e) => e.stream !== undefined && isSubsetMatch(subject, e.stream))) {
      return false;
    }
    for (const si of edges(kind === 'stream' ? streams : services, acc)) {
      if (!subjectsCollide(subject, si.to)) continue;
      if (visited.has(si.acc)) return true;
      visited.add(acc);
      const narrower = kind === 'stream' ? si.to : si.from;
      if (formsCycle(kind, si.acc, isSubsetMatch(narrower, subject) ? narrower : subject, visited)) return true;
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

  /** The import as an edge of the import graph, or why nats-server refuses it. */
  const streamEdge = (importer: string, exporter: string, imp: ImportEntry, src: Source): Edge | string => {
    if (!authorized(byName.get(exporter)!, importer, src.subject, 'stream')) return 'stream import not authorized';
    if (imp.prefix !== undefined && imp.prefix !== '' && !subjectIsLiteral(imp.prefix)) {
      return 'stream import prefix can not contain wildcard tokens';
    }
    const to = imp.prefix ? `${imp.prefix.replace(/\.$/, '')}.${src.subject}` : imp.to || src.subject;
    const cyc = cycleError(() => formsCycle('stream', exporter, to, new Set([importer])));
    if (cyc !== undefined) return cyc;
    if (edges(streams, importer).some((e) => e.acc === exporter && e.from === src.subject)) return 'stream import already exists';
    return { from: src.subject, to, acc: exporter };
  };
  const serviceEdge = (importer: string, exporter: string, imp: ImportEntry, src: Source): Edge | string => {
    const from = imp.to || src.subject;
    if (!isValidSubject(from) || !isValidSubject(src.subject)) return 'invalid subject';
    if (!authorized(byName.get(exporter)!, importer, src.subject, 'service')) return 'service import not authorized';
    return cycleError(() => formsCycle('service', exporter, from, new Set([importer]))) ?? { from, to: src.subject, acc: exporter };
  };

  // all stream imports first, then the service imports, each added once checked
  for (const kind of ['stream', 'service'] as const) {
    const graph = kind === 'stream' ? streams : services;
    for (const a of accounts) {
      for (const imp of a.imports) {
        const src = kind === 'stream' ? imp.stream : imp.service;
        if (src === undefined || !byName.has(src.account)) continue;
        const r = (kind === 'stream' ? streamEdge : serviceEdge)(a.name, src.account, imp, src);
        if (typeof r === 'string') error(`Error adding ${kind} import "${src.subject}": ${r}`);
        else graph.set(a.name, [...edges(graph, a.name), r]);
      }
    }
  }
}
