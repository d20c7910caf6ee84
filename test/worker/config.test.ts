// Unit: configuration parsing and the errors bad input gets. No lab needed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, clusterByName, loadConfig } from '../../worker/config.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-config-'));
const writeConfig = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

const valid = `
temporal:
  address: temporal.example:7233
objectStore:
  endpoint: http://127.0.0.1:9000
  bucket: backups
  forcePathStyle: true
clusters:
  - name: primary
    kubeconfig: /etc/lifeboat/primary.kubeconfig
    etcd:
      endpoints: [https://10.0.0.1:2379]
      caFile: /etc/lifeboat/etcd-ca.crt
      certFile: /etc/lifeboat/etcd.crt
      keyFile: /etc/lifeboat/etcd.key
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('reads a valid file and fills documented defaults', () => {
    const config = loadConfig({ file: writeConfig('valid.yaml', valid), env: {} });
    expect(config.temporal).toEqual({ address: 'temporal.example:7233', namespace: 'default', taskQueue: 'lifeboat' });
    expect(config.objectStore.region).toBe('us-east-1');
    expect(config.clusters[0]!.velero).toEqual({ namespace: 'velero', storageLocation: 'default', restoreFrom: {}, timeout: 1800 });
    expect(config.clusters[0]!.restoreVerification).toEqual({ serviceClusterIPRange: '10.96.0.0/12', objects: [{ resource: 'namespaces', name: 'kube-system' }], objectives: { rto: 1800, rpo: 86400 } });
    expect(config.apps).toEqual([]);
    expect(config.gameDay).toEqual({ freshBackups: false, failover: false });
    expect(config.tools.etcdctl).toBe('etcdctl');
    expect(config.metrics.port).toBe(9464);
  });

  it('lets environment variables override the file and define clusters', () => {
    const config = loadConfig({
      file: writeConfig('env.yaml', valid),
      env: {
        LIFEBOAT_TEMPORAL_ADDRESS: 'cloud.tmprl.example:7233',
        LIFEBOAT_TEMPORAL_API_KEY: 'k-123',
        LIFEBOAT_CLUSTERS: 'primary,standby',
        LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS: 'https://a:2379, https://b:2379',
        LIFEBOAT_CLUSTER_STANDBY_KUBECONFIG: '/k/standby',
        LIFEBOAT_CLUSTER_STANDBY_ETCD_ENDPOINTS: 'https://c:2379',
        LIFEBOAT_CLUSTER_STANDBY_ETCD_CA_FILE: '/k/ca',
        LIFEBOAT_CLUSTER_STANDBY_ETCD_CERT_FILE: '/k/crt',
        LIFEBOAT_CLUSTER_STANDBY_ETCD_KEY_FILE: '/k/key',
      },
    });
    expect(config.temporal.address).toBe('cloud.tmprl.example:7233');
    expect(config.temporal.apiKey).toBe('k-123');
    expect(config.clusters.map((c) => c.name)).toEqual(['primary', 'standby']);
    expect(config.clusters[0]!.etcd.endpoints).toEqual(['https://a:2379', 'https://b:2379']);
    expect(clusterByName(config, 'standby').kubeconfig).toBe('/k/standby');
  });

  it('names the file when it is missing', () => {
    const [problem] = problemsOf(() => loadConfig({ env: { LIFEBOAT_CONFIG: join(dir, 'absent.yaml') } }));
    expect(problem).toBe(`${join(dir, 'absent.yaml')}: configuration file not found (named by LIFEBOAT_CONFIG)`);
  });

  it('reports a YAML syntax error with its line', () => {
    const file = writeConfig('syntax.yaml', 'temporal:\n  address: [unclosed\nclusters: []\n');
    const [problem] = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problem).toMatch(new RegExp(`^${file}:\\d+:\\d+: YAML syntax: `));
  });

  it('names file, line, key path and expectation for a wrong value', () => {
    const file = writeConfig('wrong.yaml', valid.replace('endpoints: [https://10.0.0.1:2379]', 'endpoints: https://10.0.0.1:2379'));
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^${file}:12:18: clusters\\[0\\]\\.etcd\\.endpoints: .*expected array`))]);
  });

  it('reports a missing key at its parent, and every problem at once', () => {
    const file = writeConfig('missing.yaml', valid.replace('    kubeconfig: /etc/lifeboat/primary.kubeconfig\n', '').replace('  bucket: backups\n', ''));
    const problems = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/objectStore\.bucket: .*expected string/);
    expect(problems.join('\n')).toMatch(/clusters\[0\]\.kubeconfig: .*expected string/);
  });

  it('rejects unknown keys, so a typo is not silently ignored', () => {
    const file = writeConfig('typo.yaml', valid.replace('  forcePathStyle: true', '  forcePathstyle: true'));
    const [problem] = problemsOf(() => loadConfig({ file, env: {} }));
    expect(problem).toMatch(/objectStore: Unrecognized key: "forcePathstyle"/);
  });

  it('names the environment variable when the bad value came from one', () => {
    const [problem] = problemsOf(() => loadConfig({ file: writeConfig('env-bad.yaml', valid), env: { LIFEBOAT_S3_FORCE_PATH_STYLE: 'yes', LIFEBOAT_TEMPORAL_ADDRESS: 'no-port' } }).clusters);
    expect(problem).toMatch(/^environment variable LIFEBOAT_TEMPORAL_ADDRESS: temporal\.address: host:port$/);
    const problems = problemsOf(() => loadConfig({ file: writeConfig('env-bad2.yaml', valid), env: { LIFEBOAT_S3_FORCE_PATH_STYLE: 'yes' } }));
    expect(problems[0]).toMatch(/^environment variable LIFEBOAT_S3_FORCE_PATH_STYLE: objectStore\.forcePathStyle: .*expected boolean/);
  });

  it('refuses duplicate cluster names and bad cluster names', () => {
    const dup = valid + valid.slice(valid.indexOf('  - name: primary'));
    expect(problemsOf(() => loadConfig({ file: writeConfig('dup.yaml', dup), env: {} }))[0]).toMatch(/clusters: cluster names must be unique/);
    const bad = valid.replace('name: primary', 'name: Primary_1');
    expect(problemsOf(() => loadConfig({ file: writeConfig('badname.yaml', bad), env: {} }))[0]).toMatch(/clusters\[0\]\.name: a DNS label/);
  });

  it('says which clusters exist when asked for an unknown one', () => {
    const config = loadConfig({ file: writeConfig('known.yaml', valid), env: {} });
    expect(problemsOf(() => clusterByName(config, 'nope'))).toEqual(["unknown cluster 'nope'; configured clusters: primary"]);
  });

  it('with no file and no variables, says where configuration comes from', () => {
    const problems = problemsOf(() => loadConfig({ env: {}, cwd: dir }));
    expect(problems.join('\n')).toMatch(/configuration \(no file; set LIFEBOAT_CONFIG or the LIFEBOAT_\* variables\): objectStore/);
  });
});
