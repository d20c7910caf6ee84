// The lab's secret files (lab: its state directory, as `lab up` left it): every private key, kubeconfig,
// credentials file and encryption configuration is readable by its owner only, and the lab's PKI step
// closes one that was opened since (an older lab's, or a hand's `chmod`).
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ensureClusterPki, kubeUsers } from '../../lab/pki.js';
import { awsCredentialsFile, clusterPaths, labClusters, labKeyFile, labSsh } from '../../lab/topology.js';

const secretFiles = () => [
  awsCredentialsFile,
  labKeyFile,
  labSsh.identityFile,
  labSsh.hostKey,
  ...labClusters.flatMap((c) => {
    const p = clusterPaths(c.name);
    return [
      ...readdirSync(p.pki)
        .filter((f) => f.endsWith('.key'))
        .map((f) => join(p.pki, f)),
      ...Object.keys(kubeUsers).map((u) => p.kubeconfig(u)),
      ...(c.encryptSecrets ? [p.encryptionConfig] : []),
    ];
  }),
];
const modeOf = (file: string) => `0${(statSync(file).mode & 0o777).toString(8)}`;

describe("the lab's secret files", () => {
  it('are 0600 (or closer)', () => {
    const files = secretFiles();
    // The two clusters' keys (CA, etcd, API server, users, service accounts) and kubeconfigs at least.
    expect(files.length).toBeGreaterThan(2 * (6 + 2 * Object.keys(kubeUsers).length));
    for (const file of files) expect([file, existsSync(file) && (statSync(file).mode & 0o077) === 0]).toEqual([file, true]);
  });

  it('a kubeconfig and a key opened to others are closed again by the PKI step, which keeps them otherwise', () => {
    const standby = labClusters.find((c) => c.name === 'standby')!;
    const p = clusterPaths(standby.name);
    const kubeconfig = p.kubeconfig('kwok');
    const key = join(p.pki, 'user-kwok.key');
    const before = [kubeconfig, key].map((f) => statSync(f).mtimeMs);
    chmodSync(kubeconfig, 0o644);
    chmodSync(key, 0o644);
    return ensureClusterPki(standby.name, standby.apiserverPort, standby.encryptSecrets).then(() => {
      expect([modeOf(kubeconfig), modeOf(key)]).toEqual(['0600', '0600']);
      expect([kubeconfig, key].map((f) => statSync(f).mtimeMs)).toEqual(before);
    });
  });
});
