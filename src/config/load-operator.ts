// Operator (JWT) mode keys of a configuration file: `operator`, `resolver`,
// `resolver_preload` (nats-server opts.go). Operator and preloaded account JWTs
// are decoded here, with their signatures checked, so a bad JWT is a config
// error as in nats-server. @nats-io/jwt is only loaded when one of these keys
// is present (src/auth/jwt-lib.ts).
import { readFileSync, statSync } from 'node:fs';
import type { ConfNode } from './parser.js';
import { goType, type Collector } from './load-util.js';
import type { OperatorModeOptions, Options, TrustedOperator } from './options.js';
import { decodeJwt, parseDecoratedJwt } from './jwt-lib.js';
import { parseGoDurationMs } from './duration.js';

/** What the operator keys of one file set (combined in finishOperatorMode). */
export interface OperatorKeys {
  operators?: TrustedOperator[];
  resolver?: 'memory' | 'full';
  dir?: string;
  fetchTimeoutMs?: number;
  syncIntervalMs?: number;
  preload?: Record<string, string>;
}

interface OperatorClaimsBody {
  signing_keys?: (string | { key: string })[];
  system_account?: string;
  strict_signing_key_usage?: boolean;
  type?: string;
}

function readOperator(value: string): TrustedOperator {
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (e) {
    // nats-server: a value that is not a readable file may be the JWT itself
    if (!value.startsWith('eyJ')) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `open ${value}: no such file or directory` : `open ${value}: ${(e as Error).message}`);
    }
    text = value;
  }
  const jwt = parseDecoratedJwt(text);
  const claims = decodeJwt<OperatorClaimsBody>(jwt);
  if (claims.nats?.type !== 'operator') throw new Error('not operator claim');
  if (claims.iss !== claims.sub) throw new Error('operator JWT is not self-signed');
  const keys = (claims.nats.signing_keys ?? []).map((k) => (typeof k === 'string' ? k : k.key));
  return {
    jwt, subject: claims.sub, signingKeys: keys,
    strictSigningKeyUsage: claims.nats.strict_signing_key_usage === true,
    systemAccount: claims.nats.system_account || undefined,
  };
}

export function parseOperatorKey(v: ConfNode, st: OperatorKeys, c: Collector): void {
  const files: string[] = [];
  if (v.kind === 'string') files.push(v.value);
  else if (v.kind === 'array' && v.value.every((e) => e.kind === 'string')) files.push(...v.value.map((e) => e.value as string));
  else return c.error(v, `error parsing operators: unsupported type ${v.kind === 'array' ? '[]interface {}' : goType(v)}`);
  st.operators = [];
  for (const f of files) {
    try {
      st.operators.push(readOperator(f));
    } catch (e) {
      c.error(v, `error parsing operator JWT: ${(e as Error).message}`);
    }
  }
}

export function parseResolverKey(v: ConfNode, st: OperatorKeys, c: Collector): void {
  st.resolver = undefined;
  if (v.kind === 'string') {
    if (/(MEM|MEMORY)\s*/i.test(v.value)) {
      st.resolver = 'memory';
      return;
    }
    if (/URL/i.test(v.value)) {
      return c.error(v, 'URL account resolver is not supported by tsnats; use resolver: MEMORY with resolver_preload');
    }
  } else if (v.kind === 'map') {
    const get = (k: string): string | undefined => {
      const n = v.value.get(k);
      return n?.kind === 'string' ? n.value : undefined;
    };
    const dir = get('dir') ?? '';
    const type = (get('type') ?? '').toUpperCase();
    if (dir === '') return c.error(v, 'dir has no value and needs to point to a directory');
    try {
      if (!statSync(dir).isDirectory()) return c.error(v, 'dir needs to point to an accessible directory');
    } catch {
      // created when the server starts, as nats-server does
    }
    // interval (the PACK sync) and timeout (a lookup in the cluster), as Go durations
    const durations: [string, 'syncIntervalMs' | 'fetchTimeoutMs'][] = [['interval', 'syncIntervalMs'], ['timeout', 'fetchTimeoutMs']];
    for (const [key, field] of durations) {
      const d = get(key);
      if (d === undefined) continue;
      try {
        st[field] = parseGoDurationMs(d);
      } catch (e) {
        return c.error(v, (e as Error).message);
      }
    }
    if (st.fetchTimeoutMs !== undefined && st.fetchTimeoutMs <= 0) {
      return c.error(v, `Fetch timeout ${get('timeout')} is too smal`);
    }
    if (type === 'FULL') {
      st.resolver = 'full';
      st.dir = dir;
      return;
    }
    if (type === 'CACHE') return c.error(v, 'resolver type CACHE is not supported by tsnats yet; use type: full or MEMORY');
  } else {
    return c.error(v, `error parsing operator resolver, wrong type ${goType(v)}`);
  }
  c.error(v, 'error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])');
}

export function parsePreloadKey(v: ConfNode, st: OperatorKeys, c: Collector): void {
  if (v.kind !== 'map') return c.error(v, 'preload should be a map of account_public_key:account_jwt');
  st.preload = {};
  for (const [key, val] of v.value) {
    if (val.kind !== 'string') {
      c.error(val, 'preload map value should be a string JWT');
      continue;
    }
    try {
      const claims = decodeJwt<{ type?: string }>(val.value);
      if (claims.nats?.type !== 'account') throw new Error('not account claim');
    } catch {
      c.error(val, 'invalid account JWT');
      continue;
    }
    st.preload[key] = val.value;
  }
}

/** Operator mode options once the whole file was read; the system account defaults to the operator's. */
export function finishOperatorMode(o: Options, st: OperatorKeys, systemAccountSet: boolean): void {
  if (st.operators === undefined || st.operators.length === 0) return;
  const mode: OperatorModeOptions = {
    operators: st.operators,
    resolver: st.resolver ?? 'none',
    preload: st.preload ?? {},
  };
  if (st.dir !== undefined) mode.dir = st.dir;
  if (st.fetchTimeoutMs !== undefined) mode.fetchTimeoutMs = st.fetchTimeoutMs;
  if (st.syncIntervalMs !== undefined) mode.syncIntervalMs = st.syncIntervalMs;
  o.operatorMode = mode;
  if (!systemAccountSet && st.operators.length === 1 && st.operators[0].systemAccount) {
    o.systemAccount = st.operators[0].systemAccount;
  }
}

/** nats-server validateTrustedOperators (checked when the server starts). */
export function validateOperatorMode(o: Options): string | undefined {
  const m = o.operatorMode;
  if (m === undefined) return undefined;
  if (m.resolver === 'none') return 'operators require an account resolver to be configured';
  if (o.accounts.length > 0) return 'operators do not allow Accounts to be configured directly';
  if ((o.authorization?.users?.length ?? 0) > 0) return 'operators do not allow users to be configured directly';
  const sysInOps = m.operators.filter((op) => op.systemAccount !== undefined);
  if (sysInOps.length > 0 && !sysInOps.some((op) => op.systemAccount === o.systemAccount)) {
    return 'system_account in config and operator JWT must be identical';
  }
  return undefined;
}
