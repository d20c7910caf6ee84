// Unit: configuration parsing and the errors bad input gets: each names the file and line (or the
// variable), the field and what was expected. No lab needed: the files a configuration names are made here.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { appByName, ConfigError, clusterByName, controlPlaneSchema, loadConfig } from '../../worker/config.js';
import { problemsOf } from '../helpers/config-problems.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-config-'));
const writeConfig = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const kubeconfig = (contexts: string[], current?: string) => `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:6443' } }]
users: [{ name: u, user: { token: t } }]
contexts: [${contexts.map((c) => `{ name: ${c}, context: { cluster: c, user: u } }`).join(', ')}]
${current ? `current-context: ${current}\n` : ''}`;
const f = (name: string) => join(dir, name);
writeFileSync(f('primary.kubeconfig'), kubeconfig(['admin@primary'], 'admin@primary'));
for (const name of ['etcd-ca.crt', 'etcd.crt', 'etcd.key', 'encryption-config.yaml']) writeFileSync(f(name), 'PEM\n');
writeFileSync(f('k1.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
mkdirSync(f('a-directory'));

// Line numbers below are this text's: the first line is `temporal:`.
const valid = `temporal:
  address: temporal.example:7233
objectStore:
  endpoint: http://127.0.0.1:9000
  bucket: backups
  forcePathStyle: true
clusters:
  - name: primary
    kubeconfig: ${f('primary.kubeconfig')}
    etcd:
      endpoints: [https://10.0.0.1:2379]
      caFile: ${f('etcd-ca.crt')}
      certFile: ${f('etcd.crt')}
      keyFile: ${f('etcd.key')}
`;
const withSchedule = (cron: string) => `${valid}    etcdSnapshots:
      schedule: { cron: "${cron}" }
encryption:
  currentKeyId: k1
  keys: [{ id: k1, file: ${f('k1.key')} }]
`;
const cronExpected =
  "expected five fields (minute hour day-of-month month day-of-week, in UTC) like '0 */6 * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly";

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('loadConfig', () => {
  it('reads a valid file and fills documented defaults', () => {
    const config = loadConfig({ file: writeConfig('valid.yaml', valid), env: {} });
    expect(config.temporal).toEqual({ address: 'temporal.example:7233', namespace: 'default', taskQueue: 'lifeboat' });
    expect(config.objectStore).toEqual({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'backups', forcePathStyle: true });
    expect(config.clusters[0]!.velero).toEqual({ namespace: 'velero', storageLocation: 'default', restoreFrom: {}, timeout: 1800 });
    expect(config.clusters[0]!.restoreVerification).toEqual({
      serviceClusterIPRange: '10.96.0.0/12',
      objects: [{ resource: 'namespaces', name: 'kube-system' }],
      objectives: { rto: 1800, rpo: 86400 },
    });
    expect(config.clusters[0]!.etcdSnapshots).toEqual({
      retention: { keepLast: 3, daily: 7, weekly: 4, monthly: 6 },
      incompleteUploadMaxAgeHours: 24,
    });
    expect(config.apps).toEqual([]);
    expect(config.gameDay).toEqual({ freshBackups: false, failover: false });
    expect(config.tools).toEqual({
      etcdctl: 'etcdctl',
      etcdutl: 'etcdutl',
      velero: 'velero',
      etcd: 'etcd',
      kubeApiserver: 'kube-apiserver',
    });
    expect(config.metrics).toEqual({ port: 9464 });
  });

  it('a cluster without nodeProvider cannot replace Nodes; its nodeHealth has the documented defaults', () => {
    const [cluster] = loadConfig({ file: writeConfig('node-defaults.yaml', valid), env: {} }).clusters;
    expect(cluster!.nodeProvider).toBeUndefined();
    expect(cluster!.nodeHealth).toEqual({
      unhealthyAfter: 300,
      nodeStartupTimeout: 600,
      maxUnhealthy: 1,
      stormThreshold: '55%',
      pause: false,
      watch: false,
      watchEvery: 60,
    });
  });

  it('reads a kwok and a webhook node provider, and nodeHealth with a share of the Nodes', () => {
    const kwok = loadConfig({ file: writeConfig('node-kwok.yaml', `${valid}    nodeProvider: { kind: kwok }\n`), env: {} });
    expect(kwok.clusters[0]!.nodeProvider).toEqual({ kind: 'kwok' });
    const webhook = loadConfig({
      file: writeConfig(
        'node-webhook.yaml',
        `${valid}    nodeProvider: { kind: webhook, url: "https://nodes.example/api", tokenEnv: NODES_TOKEN }
    nodeHealth: { unhealthyAfter: 2m, maxUnhealthy: "40%", stormThreshold: "60%", pause: true }
`,
      ),
      env: {},
    });
    expect(webhook.clusters[0]!.nodeProvider).toEqual({
      kind: 'webhook',
      url: 'https://nodes.example/api',
      tokenEnv: 'NODES_TOKEN',
      timeout: 30,
      pollInterval: 5,
    });
    expect(webhook.clusters[0]!.nodeHealth).toEqual({
      unhealthyAfter: 120,
      nodeStartupTimeout: 600,
      maxUnhealthy: '40%',
      stormThreshold: '60%',
      pause: true,
      watch: false,
      watchEvery: 60,
    });
  });

  it('a node provider of an unknown kind, a webhook URL that is not one, a share above 100% and a zero duration are refused at their lines', () => {
    const badKind = writeConfig('node-bad-kind.yaml', `${valid}    nodeProvider:\n      kind: metal3\n`);
    expect(problemsOf(() => loadConfig({ file: badKind, env: {} }))).toEqual([
      `${badKind}:16:13: clusters[0].nodeProvider.kind: expected kind 'kwok' or 'webhook'`,
    ]);
    const badUrl = writeConfig(
      'node-bad-url.yaml',
      `${valid}    nodeProvider:\n      kind: webhook\n      url: provisioning.example/lifeboat\n      tokenEnv: NODES_TOKEN\n`,
    );
    expect(problemsOf(() => loadConfig({ file: badUrl, env: {} }))).toEqual([`${badUrl}:17:12: clusters[0].nodeProvider.url: Invalid URL`]);
    const badShare = writeConfig('node-bad-share.yaml', `${valid}    nodeHealth: { maxUnhealthy: "120%", unhealthyAfter: 0s }\n`);
    expect(problemsOf(() => loadConfig({ file: badShare, env: {} }))).toEqual([
      `${badShare}:15:57: clusters[0].nodeHealth.unhealthyAfter: a duration in whole seconds or more, such as 90s, 15m, 4h or 30d`,
      `${badShare}:15:33: clusters[0].nodeHealth.maxUnhealthy: a count of Nodes (0 or more) or a percentage from 0% to 100%, like "40%"`,
    ]);
  });

  it('reads a lab control plane; a relative member data dir and an unknown driver are refused at their lines', () => {
    const member = '{ name: m0, dataDir: /var/lib/etcd, peerUrl: "https://10.0.0.1:2380", clientUrl: "https://10.0.0.1:2379" }';
    const lab = loadConfig({
      file: writeConfig('cp-lab.yaml', `${valid}    controlPlane: { driver: lab, etcdMembers: [${member}] }\n`),
      env: {},
    });
    expect(lab.clusters[0]!.controlPlane).toEqual({
      driver: 'lab',
      etcdMembers: [{ name: 'm0', dataDir: '/var/lib/etcd', peerUrl: 'https://10.0.0.1:2380', clientUrl: 'https://10.0.0.1:2379' }],
      keepOldDataDirsFor: 7 * 24 * 3600,
    });
    const relative = writeConfig(
      'cp-relative.yaml',
      `${valid}    controlPlane: { driver: lab, etcdMembers: [${member.replace('/var/lib/etcd', 'var/lib/etcd')}] }\n`,
    );
    expect(problemsOf(() => loadConfig({ file: relative, env: {} }))).toEqual([
      `${relative}:15:69: clusters[0].controlPlane.etcdMembers[0].dataDir: an absolute path`,
    ]);
    const driver = writeConfig('cp-driver.yaml', `${valid}    controlPlane:\n      driver: ssh\n      etcdMembers: []\n`);
    expect(problemsOf(() => loadConfig({ file: driver, env: {} }))).toEqual([
      `${driver}:16:15: clusters[0].controlPlane.driver: expected driver 'lab' or 'commands'`,
    ]);
  });

  it('reads a commands control plane with its defaults; a member on an unknown host, a placeholder without a value and an unreadable key file are refused, each at its field', () => {
    for (const name of ['id_ed25519', 'known_hosts']) writeFileSync(f(name), 'x\n');
    const argv = (name: string) => `[systemctl, ${name.startsWith('stop') ? 'stop' : 'start'}, x]`;
    const required = [
      'stopEtcd',
      'startEtcd',
      'startEtcdJoining',
      'etcdRunning',
      ...['KubeApiserver', 'KubeControllerManager', 'KubeScheduler', 'Kubelet'].flatMap((c) => [`stop${c}`, `start${c}`]),
    ];
    const commandsCp = (
      memberHost: string,
      joining = '[etcd-join, "{initialCluster}"]',
      identityFile = f('id_ed25519'),
    ) => `${valid}    controlPlane:
      driver: commands
      ssh: { identityFile: ${identityFile}, knownHostsFile: ${f('known_hosts')} }
      hosts: [{ name: cp-1, address: 10.0.0.11 }, { name: cp-2, address: 10.0.0.12, port: 2222 }]
      etcdMembers:
        - { name: m0, host: ${memberHost}, dataDir: /var/lib/etcd, peerUrl: "https://10.0.0.11:2380", clientUrl: "https://10.0.0.11:2379" }
      commands:
${required.map((k) => `        ${k}: ${k === 'startEtcdJoining' ? joining : argv(k)}`).join('\n')}
        restartKubelet: [systemctl, restart, kubelet, "{host}"]
`;
    const cp = loadConfig({ file: writeConfig('cp-commands.yaml', commandsCp('cp-1')), env: {} }).clusters[0]!.controlPlane;
    expect(cp).toMatchObject({
      driver: 'commands',
      ssh: { user: 'root', port: 22, connectTimeout: 10, identityFile: f('id_ed25519'), knownHostsFile: f('known_hosts') },
      keepOldDataDirsFor: 7 * 24 * 3600,
      hosts: [
        { name: 'cp-1', address: '10.0.0.11' },
        { name: 'cp-2', address: '10.0.0.12', port: 2222 },
      ],
      etcdMembers: [{ name: 'm0', host: 'cp-1', dataDir: '/var/lib/etcd' }],
      etcdutl: 'etcdutl',
      commands: { startEtcdJoining: ['etcd-join', '{initialCluster}'], restartKubelet: ['systemctl', 'restart', 'kubelet', '{host}'] },
    });

    const unknownHost = writeConfig('cp-unknown-host.yaml', commandsCp('cp-9'));
    expect(problemsOf(() => loadConfig({ file: unknownHost, env: {} }))).toEqual([
      `${unknownHost}:20:29: clusters[0].controlPlane.etcdMembers[0].host: unknown host 'cp-9'; configured: cp-1, cp-2`,
    ]);
    const placeholder = writeConfig(
      'cp-placeholder.yaml',
      commandsCp('cp-1', '[etcd-join, "{initialCluster}"]').replace(
        'stopKubelet: [systemctl, stop, x]',
        'stopKubelet: [systemctl, stop, "kubelet-{member}"]',
      ),
    );
    expect(problemsOf(() => loadConfig({ file: placeholder, env: {} }))).toEqual([
      `${placeholder}:32:40: clusters[0].controlPlane.commands.stopKubelet[2]: {member} has no value in stopKubelet; it may use {host}`,
    ]);
    const noKey = writeConfig('cp-no-key.yaml', commandsCp('cp-1', undefined, f('no-such-key')));
    expect(problemsOf(() => loadConfig({ file: noKey, env: {} }))).toEqual([
      `${noKey}:17:28: clusters[0].controlPlane.ssh.identityFile: '${f('no-such-key')}': no such file; expected a readable file`,
    ]);
  });

  it('the shipped control-plane examples (deploy/control-plane) are valid commands configurations', () => {
    const examples = new URL('../../../deploy/control-plane/', import.meta.url);
    const files = readdirSync(examples).filter((n) => n.endsWith('.yaml'));
    expect(files.sort()).toEqual(['kubeadm.yaml', 'systemd.yaml']);
    for (const name of files) {
      const parsed = controlPlaneSchema.safeParse(parseYaml(readFileSync(new URL(name, examples), 'utf8')));
      expect([name, parsed.success ? 'valid' : parsed.error.message]).toEqual([name, 'valid']);
      const cp = parsed.data;
      if (cp?.driver !== 'commands') throw new Error(`${name}: expected driver commands`);
      expect(cp.etcdMembers.every((m) => cp.hosts.some((h) => h.name === m.host))).toBe(true);
    }
  });

  it('lets environment variables override the file and define clusters', () => {
    for (const name of ['standby.kubeconfig', 'ca', 'crt', 'key'])
      writeFileSync(f(name), name.endsWith('kubeconfig') ? kubeconfig(['admin@standby'], 'admin@standby') : 'PEM\n');
    const config = loadConfig({
      file: writeConfig('env.yaml', valid),
      env: {
        LIFEBOAT_TEMPORAL_ADDRESS: 'cloud.tmprl.example:7233',
        LIFEBOAT_TEMPORAL_API_KEY: 'k-123',
        LIFEBOAT_CLUSTERS: 'primary,standby',
        LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS: 'https://a:2379, https://b:2379',
        LIFEBOAT_CLUSTER_STANDBY_KUBECONFIG: f('standby.kubeconfig'),
        LIFEBOAT_CLUSTER_STANDBY_ETCD_ENDPOINTS: 'https://c:2379',
        LIFEBOAT_CLUSTER_STANDBY_ETCD_CA_FILE: f('ca'),
        LIFEBOAT_CLUSTER_STANDBY_ETCD_CERT_FILE: f('crt'),
        LIFEBOAT_CLUSTER_STANDBY_ETCD_KEY_FILE: f('key'),
      },
    });
    expect(config.temporal.address).toBe('cloud.tmprl.example:7233');
    expect(config.temporal.apiKey).toBe('k-123');
    expect(config.clusters.map((c) => c.name)).toEqual(['primary', 'standby']);
    expect(config.clusters[0]!.etcd.endpoints).toEqual(['https://a:2379', 'https://b:2379']);
    expect(clusterByName(config, 'standby').kubeconfig).toBe(f('standby.kubeconfig'));
  });

  it('names the file when it is missing', () => {
    expect(problemsOf(() => loadConfig({ env: { LIFEBOAT_CONFIG: join(dir, 'absent.yaml') } }))).toEqual([
      `${join(dir, 'absent.yaml')}: configuration file not found (named by LIFEBOAT_CONFIG)`,
    ]);
  });

  it('reports a YAML syntax error with its line', () => {
    const file = writeConfig('syntax.yaml', 'temporal:\n  address: [unclosed\nclusters: []\n');
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:3:1: YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1:`,
    ]);
  });

  it('names file, line, key path and expectation for a wrong value', () => {
    const file = writeConfig('wrong.yaml', valid.replace('endpoints: [https://10.0.0.1:2379]', 'endpoints: https://10.0.0.1:2379'));
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:11:18: clusters[0].etcd.endpoints: Invalid input: expected array, received string`,
    ]);
  });

  it.each(['0s', '250ms', '1h30m', '90'])("a duration is a whole number above zero and one unit: '%s' is refused at its line", (text) => {
    const file = writeConfig(
      `duration-${text}.yaml`,
      withSchedule('@daily').replace('schedule: { cron: "@daily" }', `schedule: { cron: "@daily", catchupWindow: "${text}" }`),
    );
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:16:50: clusters[0].etcdSnapshots.schedule.catchupWindow: a duration in whole seconds or more, such as 90s, 15m, 4h or 30d`,
    ]);
  });

  it('reports a missing key at its parent, and every problem at once', () => {
    const file = writeConfig('missing.yaml', valid.replace('  bucket: backups\n', '').replace(`      caFile: ${f('etcd-ca.crt')}\n`, ''));
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:4:3: objectStore.bucket: Invalid input: expected string, received undefined`,
      `${file}:10:7: clusters[0].etcd.caFile: Invalid input: expected string, received undefined`,
    ]);
  });

  it('takes a cluster without a kubeconfig as the one the worker runs in, and refuses a second', () => {
    const inCluster = (name: string) => `  - name: ${name}
    etcd:
      endpoints: [https://10.0.0.2:2379]
      caFile: ${f('etcd-ca.crt')}
      certFile: ${f('etcd.crt')}
      keyFile: ${f('etcd.key')}
`;
    const one = writeConfig('in-cluster.yaml', `${valid}${inCluster('here')}`);
    expect(clusterByName(loadConfig({ file: one, env: {} }), 'here').kubeconfig).toBeUndefined();
    const two = writeConfig('two-in-cluster.yaml', `${valid}${inCluster('here')}${inCluster('there')}`);
    expect(problemsOf(() => loadConfig({ file: two, env: {} }))).toEqual([
      `${two}:21:5: clusters[2]: no kubeconfig, but clusters[1] ('here') already has none: only the cluster the worker runs in is reached through its ServiceAccount; expected kubeconfig (a token kubeconfig for a remote cluster)`,
    ]);
    const context = writeConfig('context-in-cluster.yaml', `${valid}${inCluster('here')}    context: admin@here\n`);
    expect(problemsOf(() => loadConfig({ file: context, env: {} }))).toEqual([
      `${context}:21:14: clusters[1].context: a context without a kubeconfig: the in-cluster ServiceAccount has no contexts; expected kubeconfig as well, or no context`,
    ]);
  });

  it('reports an unknown key at its own line, with the keys that are allowed there', () => {
    const file = writeConfig(
      'typo.yaml',
      valid.replace('  forcePathStyle: true', '  forcePathstyle: true').replace('      keyFile:', '      keyfile: x\n      keyFile:'),
    );
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:6:3: objectStore.forcePathstyle: unknown key; expected one of endpoint, region, bucket, forcePathStyle, credentialsFile, objectLock`,
      `${file}:14:7: clusters[0].etcd.keyfile: unknown key; expected one of endpoints, caFile, certFile, keyFile`,
    ]);
  });

  it('names the environment variable when the bad value came from one', () => {
    expect(
      problemsOf(() =>
        loadConfig({
          file: writeConfig('env-bad.yaml', valid),
          env: { LIFEBOAT_S3_FORCE_PATH_STYLE: 'yes', LIFEBOAT_TEMPORAL_ADDRESS: 'no-port' },
        }),
      ),
    ).toEqual([
      'environment variable LIFEBOAT_TEMPORAL_ADDRESS: temporal.address: host:port',
      'environment variable LIFEBOAT_S3_FORCE_PATH_STYLE: objectStore.forcePathStyle: Invalid input: expected boolean, received string',
    ]);
  });

  it('refuses duplicate cluster names and bad cluster names', () => {
    const dupFile = writeConfig('dup.yaml', valid + valid.slice(valid.indexOf('  - name: primary')));
    expect(problemsOf(() => loadConfig({ file: dupFile, env: {} }))).toEqual([`${dupFile}:8:3: clusters: cluster names must be unique`]);
    const badFile = writeConfig('badname.yaml', valid.replace('name: primary', 'name: Primary_1'));
    expect(problemsOf(() => loadConfig({ file: badFile, env: {} }))).toEqual([
      `${badFile}:8:11: clusters[0].name: a DNS label: lower-case letters, digits and dashes`,
    ]);
  });

  it('approvers of an app: names and known groups are read; an unknown group, an empty list and a wrong type are refused at their lines', () => {
    const twoClusters = valid + valid.slice(valid.indexOf('  - name: primary')).replace('name: primary', 'name: standby');
    const withApps = (approvers: string, forceApprovers: string) => `${twoClusters}apps:
  - name: shop
    cluster: primary
    namespaces: [shop]
    verify: { cluster: standby }
    approvers: ${approvers}
    forceApprovers: ${forceApprovers}
runbooks:
  approverGroups: { sre: [alice, bob] }
`;
    const good = loadConfig({ file: writeConfig('approvers.yaml', withApps('[group:sre, carol]', '[bob]')), env: {} });
    expect([good.apps[0]!.approvers, good.apps[0]!.forceApprovers, good.cli.allowIdentityOverride]).toEqual([
      ['group:sre', 'carol'],
      ['bob'],
      false,
    ]);
    const bad = writeConfig('bad-approvers.yaml', withApps('[group:oncall, carol]', '[]'));
    expect(problemsOf(() => loadConfig({ file: bad, env: {} }))).toEqual([
      `${bad}:28:21: apps[0].forceApprovers: at least one approver (a name or group:<name>); leave the key out for the default`,
      `${bad}:27:17: apps[0].approvers[0]: unknown approver group (runbooks.approverGroups) 'oncall'; configured: sre`,
    ]);
    const wrongType = writeConfig('approvers-type.yaml', withApps('carol', '[bob]'));
    expect(problemsOf(() => loadConfig({ file: wrongType, env: {} }))).toEqual([
      `${wrongType}:27:16: apps[0].approvers: a list of names and group:<name>`,
    ]);
  });

  it('with no file and no variables, says where configuration comes from', () => {
    expect(problemsOf(() => loadConfig({ env: {}, cwd: dir }))).toEqual([
      'configuration (no file; set LIFEBOAT_CONFIG or the LIFEBOAT_* variables): objectStore: Invalid input: expected object, received undefined',
      'configuration (no file; set LIFEBOAT_CONFIG or the LIFEBOAT_* variables): clusters: Invalid input: expected array, received undefined',
    ]);
  });
});

describe('cron expressions are checked at load, as Temporal reads them', () => {
  it('accepts five fields, names and the nicknames Temporal knows', () => {
    for (const cron of ['0 */6 * * *', '5/15 1-5/2 * jan,jul mon-fri', '0 0 29 2 *', '@daily']) {
      expect(loadConfig({ file: writeConfig('cron-ok.yaml', withSchedule(cron)), env: {} }).clusters[0]!.etcdSnapshots.schedule).toEqual({
        cron,
        catchupWindow: '1h',
      });
    }
  });

  it.each([
    ['61 25 32 13 8', 'invalid value for minute: 61'],
    ['a b c d e', "minute 'a': 'a' is not a number"],
    ['0 0 31 2 *', 'never fires: no date matches every field'],
    ['0 0 L * *', "day-of-month 'L': 'L' is not a number"],
    ['0 0 * * 1#2', "day-of-week '1#2': '#' is not a number or a name (sun-sat)"],
    ['0 0 * * * 2030', 'has 6 fields, not 5'],
    ['@DAILY', "'@DAILY' is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"],
  ])('%s: file, line, field and what was expected', (cron, reason) => {
    const file = writeConfig('cron-bad.yaml', withSchedule(cron));
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:16:25: clusters[0].etcdSnapshots.schedule.cron: '${cron}': ${reason}; ${cronExpected}`,
    ]);
  });

  it("the game day's schedule too", () => {
    const file = writeConfig('gameday-cron.yaml', `${valid}gameDay:\n  clusters: []\n  schedule:\n    cron: "0 9 1 1,4,7,10 * *"\n`);
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:18:11: gameDay.schedule.cron: '0 9 1 1,4,7,10 * *': has 6 fields, not 5; ${cronExpected}`,
    ]);
  });

  it('a scheduled snapshot needs the encryption keys it is sealed with', () => {
    const file = writeConfig('no-keys.yaml', withSchedule('0 */6 * * *').replace(/^encryption:[^]*$/m, ''));
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:16:17: clusters[0].etcdSnapshots.schedule: snapshots are encrypted and the configuration has no encryption block; expected encryption.currentKeyId and encryption.keys`,
    ]);
  });
});

describe('files the configuration names are checked at load', () => {
  it('a missing kubeconfig, a directory for a certificate and a missing key file, each at its line', () => {
    const text = withSchedule('0 */6 * * *')
      .replace(f('primary.kubeconfig'), f('nowhere.kubeconfig'))
      .replace(f('etcd-ca.crt'), f('a-directory'))
      .replace(f('k1.key'), f('absent.key'));
    const file = writeConfig('files.yaml', text);
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:9:17: clusters[0].kubeconfig: '${f('nowhere.kubeconfig')}': no such file; expected a readable file`,
      `${file}:12:15: clusters[0].etcd.caFile: '${f('a-directory')}': a directory; expected a readable file`,
      `${file}:19:26: encryption.keys[0].file: '${f('absent.key')}': no such file; expected a readable file`,
    ]);
  });

  it('the encryption configuration a scratch API server is given', () => {
    const file = writeConfig(
      'encryption-config.yaml',
      `${valid}    restoreVerification:\n      encryptionConfigFile: ${f('absent-encryption.yaml')}\n`,
    );
    expect(problemsOf(() => loadConfig({ file, env: {} }))).toEqual([
      `${file}:16:29: clusters[0].restoreVerification.encryptionConfigFile: '${f('absent-encryption.yaml')}': no such file; expected a readable file`,
    ]);
  });

  it('the kubeconfig must hold the context named, or have a current one', () => {
    const named = writeConfig('context.yaml', valid.replace('    etcd:\n', '    context: admin@elsewhere\n    etcd:\n'));
    expect(problemsOf(() => loadConfig({ file: named, env: {} }))).toEqual([
      `${named}:10:14: clusters[0].context: no context 'admin@elsewhere' in '${f('primary.kubeconfig')}'; expected one of admin@primary`,
    ]);
    writeFileSync(f('no-current.kubeconfig'), kubeconfig(['a', 'b']));
    const current = writeConfig('no-current.yaml', valid.replace(f('primary.kubeconfig'), f('no-current.kubeconfig')));
    expect(problemsOf(() => loadConfig({ file: current, env: {} }))).toEqual([
      `${current}:9:17: clusters[0].kubeconfig: '${f('no-current.kubeconfig')}' has no current-context; expected clusters[].context set to one of a, b`,
    ]);
  });

  it('names the variable when the file came from one', () => {
    const problems = problemsOf(() =>
      loadConfig({
        file: writeConfig('env-file.yaml', valid),
        env: { LIFEBOAT_CLUSTERS: 'primary', LIFEBOAT_CLUSTER_PRIMARY_ETCD_KEY_FILE: f('gone.key') },
      }),
    );
    expect(problems).toEqual([
      `environment variable LIFEBOAT_CLUSTER_PRIMARY_ETCD_KEY_FILE: clusters[0].etcd.keyFile: '${f('gone.key')}': no such file; expected a readable file`,
    ]);
  });
});

describe('names given on the command line', () => {
  const config = loadConfig({ file: writeConfig('known.yaml', valid), env: {} });

  it('an unknown cluster names the argument and the configured clusters, and is not a configuration error', () => {
    const err = errorOf(() => clusterByName(config, 'nope'));
    expect(err).not.toBeInstanceOf(ConfigError);
    expect({ name: err.name, message: err.message }).toEqual({
      name: 'UnknownNameError',
      message: "--cluster: unknown cluster 'nope'; configured clusters: primary",
    });
    expect(errorOf(() => clusterByName(config, 'nope', '--to')).message).toBe("--to: unknown cluster 'nope'; configured clusters: primary");
  });

  it('an unknown app too, even when none is configured', () => {
    const err = errorOf(() => appByName(config, 'nope'));
    expect({ name: err.name, message: err.message }).toEqual({
      name: 'UnknownNameError',
      message: "--app: unknown app 'nope'; configured apps: none",
    });
  });
});
