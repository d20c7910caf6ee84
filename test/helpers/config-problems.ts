// Configuration tests: a directory of the files a configuration names, and what a bad configuration is
// told (the problems of the ConfigError that loading it throws).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import { ConfigError, loadConfig } from '../../worker/config.js';

/** The problems `load` throws (a ConfigError, or the test fails); a file name is loaded as the worker loads it. */
export function problemsOf(load: string | (() => unknown)): string[] {
  try {
    if (typeof load === 'string') loadConfig({ file: load, env: {} });
    else load();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/**
 * A temporary directory holding what a cluster's configuration names: `kubeconfig` (a token user of
 * https://127.0.0.1:6443) and placeholder `etcd-ca.crt`, `etcd.crt`, `etcd.key`. Returns the path of a
 * file in it by name.
 */
export function configFilesDir(prefix: string): (name: string) => string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const f = (name: string) => join(dir, name);
  for (const name of ['etcd-ca.crt', 'etcd.crt', 'etcd.key']) writeFileSync(f(name), 'PEM\n');
  writeFileSync(
    f('kubeconfig'),
    `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:6443' } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  );
  return f;
}
