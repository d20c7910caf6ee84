// Unit: an app's `dataCheck` (apps[].dataCheck): an HTTP or a command check, read with its defaults, and
// refused at its line (file, field, what was expected) when it is not one. No lab needed.
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../worker/config.js';
import { configFilesDir, problemsOf } from '../helpers/config-problems.js';

const f = configFilesDir('lifeboat-config-data-check-');
const cluster = (name: string) => `  - name: ${name}
    kubeconfig: ${f('kubeconfig')}
    etcd:
      endpoints: [https://10.0.0.1:2379]
      caFile: ${f('etcd-ca.crt')}
      certFile: ${f('etcd.crt')}
      keyFile: ${f('etcd.key')}
`;
/** A valid configuration whose app `ledger` has the data check given (its first line is line 26), or none. */
const withDataCheck = (name: string, dataCheck?: string) => {
  const file = f(name);
  writeFileSync(
    file,
    `temporal:
  address: temporal.example:7233
objectStore:
  bucket: backups
clusters:
${cluster('primary')}${cluster('standby')}apps:
  - name: ledger
    cluster: primary
    namespaces: [ledger]
    verify: { cluster: standby }
${dataCheck === undefined ? '' : `    dataCheck:\n${dataCheck}`}`,
  );
  return file;
};

describe('apps[].dataCheck', () => {
  it('is optional', () => {
    const file = withDataCheck('none.yaml');
    expect(loadConfig({ file, env: {} }).apps[0]!.dataCheck).toBeUndefined();
  });

  it('an HTTP check is read with its default timeout', () => {
    const file = withDataCheck(
      'http.yaml',
      '      kind: http\n      url: http://ledger.ledger.svc:8080/check\n      bodyContains: consistent\n',
    );
    expect(loadConfig({ file, env: {} }).apps[0]!.dataCheck).toEqual({
      kind: 'http',
      url: 'http://ledger.ledger.svc:8080/check',
      bodyContains: 'consistent',
      timeout: 10,
    });
  });

  it("a command check is read with its argv, timeout and env (values, or the worker's variables by name)", () => {
    const file = withDataCheck(
      'command.yaml',
      `      kind: command
      command: [/usr/local/bin/check-ledger, --tables, orders]
      timeout: 5m
      env:
        LEDGER_DSN: postgres://ledger@db/ledger
        PGPASSWORD: { fromEnv: LEDGER_PG_PASSWORD }
`,
    );
    expect(loadConfig({ file, env: {} }).apps[0]!.dataCheck).toEqual({
      kind: 'command',
      command: ['/usr/local/bin/check-ledger', '--tables', 'orders'],
      timeout: 300,
      env: { LEDGER_DSN: 'postgres://ledger@db/ledger', PGPASSWORD: { fromEnv: 'LEDGER_PG_PASSWORD' } },
    });
    const bare = withDataCheck('command-bare.yaml', '      kind: command\n      command: [check-ledger]\n');
    expect(loadConfig({ file: bare, env: {} }).apps[0]!.dataCheck).toEqual({
      kind: 'command',
      command: ['check-ledger'],
      timeout: 120,
      env: {},
    });
  });

  it('an unknown kind, a URL that is not one, a command that is a string or empty, each at its line', () => {
    const kind = withDataCheck('kind.yaml', '      kind: sql\n      url: http://x/\n');
    expect(problemsOf(kind)).toEqual([`${kind}:26:13: apps[0].dataCheck.kind: expected kind 'http' or 'command'`]);
    const url = withDataCheck('url.yaml', '      kind: http\n      url: ledger/check\n');
    expect(problemsOf(url)).toEqual([`${url}:27:12: apps[0].dataCheck.url: expected an http or https URL`]);
    const string = withDataCheck('string.yaml', '      kind: command\n      command: check-ledger --tables orders\n');
    expect(problemsOf(string)).toEqual([`${string}:27:16: apps[0].dataCheck.command: an argv list: the program, then its arguments`]);
    const empty = withDataCheck('empty.yaml', '      kind: command\n      command: []\n');
    expect(problemsOf(empty)).toEqual([`${empty}:27:16: apps[0].dataCheck.command: an argv list: the program, then its arguments`]);
    const blank = withDataCheck('blank.yaml', '      kind: command\n      command: ["", x]\n');
    expect(problemsOf(blank)).toEqual([`${blank}:27:17: apps[0].dataCheck.command[0]: the program (the first item) is empty`]);
  });

  it('a timeout above 30m, an env name Lifeboat sets, a bad env value and an unknown key, each at its line', () => {
    const long = withDataCheck('long.yaml', '      kind: command\n      command: [check]\n      timeout: 2h\n');
    expect(problemsOf(long)).toEqual([`${long}:28:16: apps[0].dataCheck.timeout: at most 30m`]);
    const reserved = withDataCheck('reserved.yaml', '      kind: command\n      command: [check]\n      env: { KUBECONFIG: /tmp/other }\n');
    expect(problemsOf(reserved)).toEqual([
      `${reserved}:28:26: apps[0].dataCheck.env.KUBECONFIG: set by Lifeboat (KUBECONFIG, LIFEBOAT_APP, LIFEBOAT_CLUSTER, LIFEBOAT_NAMESPACE); expected another name`,
    ]);
    const value = withDataCheck('value.yaml', '      kind: command\n      command: [check]\n      env: { PGPASSWORD: { env: X } }\n');
    expect(problemsOf(value)).toEqual([`${value}:28:26: apps[0].dataCheck.env.PGPASSWORD: a value, or { fromEnv: NAME }`]);
    const typo = withDataCheck('typo.yaml', '      kind: http\n      url: http://x/\n      bodycontains: ok\n');
    expect(problemsOf(typo)).toEqual([
      `${typo}:28:7: apps[0].dataCheck.bodycontains: unknown key; expected one of kind, url, bodyContains, timeout`,
    ]);
    const mixed = withDataCheck('mixed.yaml', '      kind: command\n      command: [check]\n      url: http://x/\n');
    expect(problemsOf(mixed)).toEqual([`${mixed}:28:7: apps[0].dataCheck.url: unknown key; expected one of kind, command, timeout, env`]);
  });
});
