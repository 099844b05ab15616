// The service imports nats-server gives every ordinary account from the system account
// (server.go registerSystemImports): an account's own CONNZ and STATZ, asked for through
// subjects in its own namespace. tsnats answers them with one internal client per account
// (SysMonitorServices.startAccountImports); /accountz lists them as nats-server does.

/** [subject in the account, endpoint of $SYS.REQ.ACCOUNT.<acc>.<endpoint> that answers] */
export const ACCOUNT_SYS_IMPORTS: readonly (readonly [string, 'CONNZ' | 'STATZ'])[] = [
  ['$SYS.REQ.ACCOUNT.PING.CONNZ', 'CONNZ'],
  ['$SYS.REQ.SERVER.PING.CONNZ', 'CONNZ'],
  ['$SYS.REQ.ACCOUNT.PING.STATZ', 'STATZ'],
];

/** /accountz `imports` entries for these imports of account `acc`. */
export function sysImportsJson(acc: string, sysAcc: string): Record<string, unknown>[] {
  return ACCOUNT_SYS_IMPORTS.map(([subject, endpoint]) => ({
    subject, account: sysAcc, to: `$SYS.REQ.ACCOUNT.${acc}.${endpoint}`, type: 'service',
    invalid: false, share: false, tracking: false,
  }));
}
