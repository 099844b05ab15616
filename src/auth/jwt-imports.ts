// Exports and imports declared in account JWTs (operator mode), turned into the account
// configurations that src/core/imports.ts applies. nats-server's rules
// (updateAccountClaimsWithRefresh, checkAuth, checkActivation):
// - an import is added when the importer's claims are applied and the exporter authorizes it
//   then (public export, account token position, or a valid activation token for `token_req`);
//   one that is not authorized is left out and the importer is "incomplete";
// - when an exporter's claims change, the imports already added from it are checked again and
//   marked invalid (not applied, still listed) when no longer authorized; an incomplete importer
//   is re-applied in full.
// Activation tokens are JWTs signed by the exporter (or one of its signing keys, with
// issuer_account), whose subject is the importer and whose `subject` covers the import.
import type { AccountConfig, ExportEntry, ImportEntry } from '../config/options.js';
import { decodeJwt } from '../config/jwt-lib.js';
import { isSubsetMatch } from '../core/imports-subject.js';
import { isValidSubject } from '../core/subject.js';
import { isRevoked, type JwtAccount, type JwtAccountResolver } from './jwt-accounts.js';

interface ExportClaim {
  subject?: unknown; type?: unknown; token_req?: unknown; revocations?: unknown;
  response_type?: unknown; response_threshold?: unknown; account_token_position?: unknown;
  service_latency?: { sampling?: unknown; results?: unknown } | null;
}
interface ImportClaim {
  subject?: unknown; account?: unknown; token?: unknown; to?: unknown; local_subject?: unknown;
  type?: unknown; share?: unknown;
}
interface ActivationBody { type?: string; subject?: string; kind?: string; issuer_account?: string }

const str = (x: unknown): string => (typeof x === 'string' ? x : '');

function exportOf(e: ExportClaim): ExportEntry | undefined {
  const subject = str(e.subject);
  if (subject === '' || (e.type !== 'service' && e.type !== 'stream')) return undefined;
  const x: ExportEntry = e.type === 'service' ? { service: subject } : { stream: subject };
  if (e.token_req === true) x.tokenReq = true;
  if (e.revocations !== null && typeof e.revocations === 'object') x.revocations = e.revocations as Record<string, number>;
  if (typeof e.account_token_position === 'number' && e.account_token_position > 0) x.accountTokenPosition = e.account_token_position;
  if (e.type === 'service') {
    if (e.response_type === 'Stream') x.responseType = 'stream';
    else if (e.response_type === 'Chunked') x.responseType = 'chunked';
    // the claim's threshold is a Go duration (nanoseconds)
    if (typeof e.response_threshold === 'number' && e.response_threshold > 0) x.responseThresholdMs = e.response_threshold / 1e6;
    const l = e.service_latency;
    if (l && typeof l === 'object' && str(l.results) !== '') {
      x.latency = { subject: str(l.results), sampling: l.sampling === 'headers' ? 'headers' : Number(l.sampling) || 0 };
    }
  }
  return x;
}

/** The import as the imports runtime takes it, and its token. */
function importOf(i: ImportClaim): { entry: ImportEntry; token: string } | undefined {
  const subject = str(i.subject);
  const account = str(i.account);
  if (subject === '' || account === '') return undefined;
  const local = str(i.local_subject);
  const to = str(i.to);
  const token = str(i.token);
  if (i.type === 'stream') {
    // without local_subject, the (deprecated) `to` is the prefix
    const entry: ImportEntry = { stream: { account, subject } };
    if (local !== '') entry.to = local;
    else if (to !== '') entry.prefix = to;
    return { entry, token };
  }
  if (i.type === 'service') {
    // local_subject is the subject in the importer; without it the import's subject is, and
    // the (deprecated) `to` names the exporter's subject
    const entry: ImportEntry = local !== ''
      ? { service: { account, subject }, to: local }
      : { service: { account, subject: to || subject }, to: subject };
    if (i.share === true) entry.share = true;
    return { entry, token };
  }
  return undefined;
}

/**
 * The first problem of an account's import activation tokens that makes the whole account JWT
 * invalid (jwt Import.Validate's errors; expiry is checked when the import is applied), or ''.
 */
export function importTokenIssue(accountPub: string, imports: unknown[]): string {
  for (const raw of imports) {
    const i = (raw ?? {}) as ImportClaim;
    const token = str(i.token);
    if (token === '') continue;
    const subject = str(i.subject);
    let act: ReturnType<typeof decodeJwt<ActivationBody>>;
    try {
      act = decodeJwt<ActivationBody>(token);
    } catch {
      return `import "${subject}" contains an invalid activation token`;
    }
    const a = act.nats ?? {};
    if (act.iss !== i.account && a.issuer_account !== i.account) return `activation token doesn't match account for import "${subject}"`;
    if (act.sub !== accountPub) return `activation token doesn't match account it is being included in, "${subject}"`;
    if (a.kind !== i.type) return `mismatch between token import type ${str(a.kind)} and type of import ${str(i.type)}`;
    const covered = i.type === 'service' && str(i.to) !== '' ? str(i.to) : subject;
    if (typeof a.subject !== 'string' || !isSubsetMatch(covered, a.subject)) {
      return `activation token import subject "${str(a.subject)}" doesn't match import "${subject}"`;
    }
  }
  return '';
}

/** nats-server checkActivation (with the checks of jwt's Import.Validate). */
function activationValid(exporter: JwtAccount, ex: ExportEntry, importer: string, kind: string, subject: string, token: string): boolean {
  if (token === '') return false;
  let act: ReturnType<typeof decodeJwt<ActivationBody>>;
  try {
    act = decodeJwt<ActivationBody>(token);
  } catch {
    return false;
  }
  const a = act.nats ?? {};
  if (a.type !== 'activation' || a.kind !== kind || act.sub !== importer) return false;
  if (a.issuer_account ? a.issuer_account !== exporter.subject : act.iss !== exporter.subject) return false;
  if (act.iss !== exporter.subject && !exporter.signingKeys.has(act.iss)) return false;
  if (typeof a.subject !== 'string' || !isSubsetMatch(subject, a.subject)) return false;
  const now = Date.now() / 1000;
  if ((act.exp && act.exp <= now) || (act.nbf && act.nbf > now)) return false;
  return !isRevoked(ex.revocations, act.sub, act.iat);
}

/** Does `exporter` authorize `importer` to import `subject` (nats-server checkStreamExportApproved /
 *  checkServiceImportAuthorized)? An exact export is taken first, then any that covers the subject. */
function authorized(exporter: JwtAccount, exports: ExportEntry[], importer: string, kind: 'stream' | 'service', subject: string, token: string): boolean {
  if (!isValidSubject(subject)) return false;
  const ofKind = exports.filter((e) => (kind === 'stream' ? e.stream : e.service) !== undefined);
  const exact = ofKind.find((e) => (e.stream ?? e.service) === subject);
  const candidates = exact !== undefined ? [exact] : ofKind.filter((e) => isSubsetMatch(subject, (e.stream ?? e.service)!));
  return candidates.some((e) => {
    if (e.accountTokenPosition) {
      const tk = subject.split('.');
      return e.accountTokenPosition <= tk.length && tk[e.accountTokenPosition - 1] === importer;
    }
    if (e.tokenReq) return activationValid(exporter, e, importer, kind, subject, token);
    return true;
  });
}

interface Applied {
  /** the indexes of the claim's imports that were added */
  added: Set<number>;
  /** some import was not added (nats-server `incomplete`) */
  incomplete: boolean;
}

/** The JWT accounts' exports and imports, kept in step with account updates. */
export class JwtImports {
  private readonly applied = new Map<string, Applied>();

  constructor(private readonly accounts: () => JwtAccount[], private readonly lookup: (pub: string) => JwtAccount | undefined) {}

  /** Re-evaluate after `changed` was updated (undefined: everything, at start-up). */
  refresh(changed?: string): void {
    for (const acc of this.accounts()) {
      const cur = this.applied.get(acc.subject);
      const importsFromChanged = acc.imports.some((i) => str((i as ImportClaim).account) === changed);
      if (cur === undefined || changed === undefined || acc.subject === changed || (cur.incomplete && importsFromChanged)) {
        this.applied.set(acc.subject, this.apply(acc));
      }
    }
  }

  /** The claims' imports that are authorized now (indexes), and whether any is not. */
  private apply(acc: JwtAccount): Applied {
    const added = new Set<number>();
    acc.imports.forEach((raw, n) => {
      if (this.valid(acc, raw as ImportClaim)) added.add(n);
    });
    return { added, incomplete: added.size !== acc.imports.length };
  }

  private valid(acc: JwtAccount, raw: ImportClaim): boolean {
    const imp = importOf(raw);
    if (imp === undefined) return false;
    const src = imp.entry.stream ?? imp.entry.service!;
    const exporter = this.lookup(src.account);
    if (exporter === undefined || exporter.subject === acc.subject) return false;
    const kind = imp.entry.stream ? 'stream' : 'service';
    return authorized(exporter, exportsOf(exporter), acc.subject, kind, src.subject, imp.token);
  }

  /** The account configurations for the imports runtime and /accountz. */
  configs(): AccountConfig[] {
    return this.accounts().map((acc) => {
      const added = this.applied.get(acc.subject)?.added ?? new Set<number>();
      const imports: ImportEntry[] = [];
      acc.imports.forEach((raw, n) => {
        if (!added.has(n)) return;
        const imp = importOf(raw as ImportClaim)!;
        imports.push(this.valid(acc, raw as ImportClaim) ? imp.entry : { ...imp.entry, invalid: true });
      });
      return { name: acc.subject, users: [], exports: exportsOf(acc), imports, mappings: {} };
    });
  }

  /** nats-server's `complete` of /accountz. */
  complete(pub: string): boolean {
    return this.applied.get(pub)?.incomplete !== true;
  }

  /** When the first activation token in use expires (ms since the epoch), or 0. */
  nextExpiry(): number {
    let next = 0;
    for (const acc of this.accounts()) {
      const added = this.applied.get(acc.subject)?.added;
      acc.imports.forEach((raw, n) => {
        const token = str((raw as ImportClaim).token);
        if (!added?.has(n) || token === '') return;
        try {
          const exp = (decodeJwt<unknown>(token).exp ?? 0) * 1000;
          if (exp > Date.now() && (next === 0 || exp < next)) next = exp;
        } catch {
          // a token that does not decode made the import invalid already
        }
      });
    }
    return next;
  }
}

function exportsOf(acc: JwtAccount): ExportEntry[] {
  return acc.exports.map((e) => exportOf(e as ExportClaim)).filter((e): e is ExportEntry => e !== undefined);
}

/** What applying the JWT imports needs from the server. */
export interface JwtImportsHost {
  readonly options: { readonly accounts: readonly AccountConfig[] };
  readonly imports: { configure(accounts: readonly AccountConfig[]): void };
  registerAccount(name: string): unknown;
}

/**
 * Apply the account JWTs' exports and imports now, again whenever an account JWT is updated,
 * and when an activation token in use expires. Returns the function that stops watching.
 */
export function watchJwtImports(resolver: JwtAccountResolver, host: JwtImportsHost): JwtImports & { stop(): void } {
  const ji = new JwtImports(() => resolver.all(), (pub) => resolver.lookup(pub));
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const apply = (changed?: string): void => {
    if (stopped) return;
    ji.refresh(changed);
    for (const a of resolver.all()) host.registerAccount(a.subject);
    host.imports.configure([...host.options.accounts, ...ji.configs()]);
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const next = ji.nextExpiry();
    if (next > 0) {
      // the expired activation is found invalid by the re-check (a timer has a 24.8-day limit)
      timer = setTimeout(() => apply(''), Math.min(next - Date.now() + 1, 2 ** 31 - 1));
      timer.unref();
    }
  };
  resolver.onChange((acc) => apply(acc.subject));
  apply();
  return Object.assign(ji, {
    stop(): void {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  });
}
