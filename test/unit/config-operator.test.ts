// Operator mode keys of the configuration file (operator, resolver,
// resolver_preload, system_account), with nats-server's error texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigText, validateOptions } from '../../src/config/load.js';
import { accountJwt, createAccount, newOperator, operatorConfig } from '../helpers/jwt-flow.js';

function loadError(text: string): string {
  try {
    loadConfigText(text, 't.conf');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  assert.fail('expected a config error');
}

test('inline operator, memory resolver, preload; the system account comes from the operator JWT', async () => {
  const op = await newOperator();
  const a = createAccount();
  const { options: o } = loadConfigText(operatorConfig(op, { [a.getPublicKey()]: await accountJwt(op, 'A', a) }), 't.conf');
  assert.equal(o.operatorMode?.resolver, 'memory');
  assert.equal(o.operatorMode?.operators[0].subject, op.operator.getPublicKey());
  assert.deepEqual(o.operatorMode?.operators[0].signingKeys, [op.operatorSigner.getPublicKey()]);
  assert.deepEqual(Object.keys(o.operatorMode!.preload).sort(), [a.getPublicKey(), op.sys.getPublicKey()].sort());
  assert.equal(o.systemAccount, op.sys.getPublicKey());
  assert.deepEqual(o.unsupported, []);
  assert.equal(validateOptions(o), undefined);
});

test('operator from a decorated .jwt file (as nsc writes it)', async (t) => {
  const op = await newOperator();
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-op-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'op.jwt');
  writeFileSync(file, `-----BEGIN NATS OPERATOR JWT-----\n${op.operatorJwt}\n------END NATS OPERATOR JWT------\n`);
  const { options: o } = loadConfigText(`operator: "${file}"\nresolver: MEM\n`, 't.conf');
  assert.equal(o.operatorMode?.operators[0].jwt, op.operatorJwt);
});

test('the full directory resolver', async () => {
  const op = await newOperator();
  const { options: o } = loadConfigText(`operator: "${op.operatorJwt}"\nresolver: { type: full, dir: "/tmp/some/dir", allow_delete: false }`, 't.conf');
  assert.equal(o.operatorMode?.resolver, 'full');
  assert.equal(o.operatorMode?.dir, '/tmp/some/dir');
  assert.equal(validateOptions(o), undefined);
  // lookup timeout and store sync interval (nats-server's defaults 1.9s and 1m when absent)
  assert.equal(o.operatorMode?.fetchTimeoutMs, undefined);
  const timed = loadConfigText(`operator: "${op.operatorJwt}"\nresolver: { type: full, dir: "/tmp/some/dir", timeout: "500ms", interval: "2m" }`, 't.conf').options;
  assert.equal(timed.operatorMode?.fetchTimeoutMs, 500);
  assert.equal(timed.operatorMode?.syncIntervalMs, 120_000);
});

test('errors as nats-server reports them', async () => {
  assert.equal(loadError('operator: /nonexistent/op.jwt\nresolver: MEMORY'),
    't.conf:1:0: error parsing operator JWT: open /nonexistent/op.jwt: no such file or directory');
  assert.equal(loadError('resolver_preload: { ABC: "xx" }'), 't.conf:1:20: invalid account JWT');
  assert.equal(loadError('resolver: BOGUS'),
    't.conf:1:0: error parsing account resolver, should be MEM or  URL("url") or a map containing dir and type state=[FULL|CACHE])');
  assert.equal(loadError('resolver_preload: 1'), 't.conf:1:0: preload should be a map of account_public_key:account_jwt');
  assert.equal(loadError('resolver: { type: full }'), 't.conf:1:0: dir has no value and needs to point to a directory');
  assert.equal(loadError('resolver: { type: full, dir: "/tmp/x", timeout: "bogus" }'), 't.conf:1:0: time: invalid duration "bogus"');
  assert.equal(loadError('resolver: { type: full, dir: "/tmp/x", timeout: "0s" }'), 't.conf:1:0: Fetch timeout 0s is too smal');
  // resolvers tsnats does not have are refused rather than silently ignored
  assert.match(loadError('resolver: { type: cache, dir: "/tmp/x" }'), /resolver type CACHE is not supported by tsnats/);
  assert.match(loadError('resolver: URL(http://localhost:9090/jwt/v1/accounts/)'), /URL account resolver is not supported/);

  const op = await newOperator();
  const noResolver = loadConfigText(`operator: "${op.operatorJwt}"`, 't.conf').options;
  assert.equal(validateOptions(noResolver), 'operators require an account resolver to be configured');
  const withAccounts = loadConfigText(`operator: "${op.operatorJwt}"\nresolver: MEMORY\naccounts: { A: {} }`, 't.conf').options;
  assert.equal(validateOptions(withAccounts), 'operators do not allow Accounts to be configured directly');
  const otherSys = loadConfigText(`operator: "${op.operatorJwt}"\nresolver: MEMORY\nsystem_account: ${createAccount().getPublicKey()}`, 't.conf').options;
  assert.equal(validateOptions(otherSys), 'system_account in config and operator JWT must be identical');
});
