// Integration (the whole lab): status, env, encryption at rest, and what people see when a component
// is down. Ends with the lab restored.
// lab: disruptive (stops the primary kube-apiserver): runs alone, after the other suites (test/run.sh).
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execa } from 'execa';
import { codecServerPort, labCodecTokenFile, labUiOrigin } from '../../lab/codec-server-component.js';
import { labUp } from '../../lab/lab.js';
import { runningPid } from '../../lab/processes.js';
import { bin, clusterPaths, drillCluster, etcdMembersOf, labClusters } from '../../lab/topology.js';
import { lifeboat, startTestWorker, type TestWorker } from '../helpers/lab.js';

interface StatusJson {
  components: { name: string; healthy: boolean; address: string; detail: string }[];
}

const expectedComponents = [
  'temporal',
  'codec-server',
  'minio',
  'sshd',
  'toxiproxy',
  ...labClusters.flatMap((c) => [
    ...(c.etcdMembers === 1 ? [`etcd/${c.name}`] : Array.from({ length: c.etcdMembers }, (_, i) => `etcd/${c.name}-${i}`)),
    ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'velero', 'witness'].map((k) => `${k}/${c.name}`),
  ]),
  // The drill cluster (the drill lane's): a control plane, no Velero, no witness.
  ...etcdMembersOf(drillCluster).map((m) => m.daemon),
  ...['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'].map((k) => `${k}/${drillCluster.name}`),
];

// Other suites disturb the lab on purpose (MinIO stopped, workers killed); start from a healthy one.
beforeAll(() => labUp().then(() => undefined), 300_000);

describe('lab status and env', () => {
  it('lab status --json shows every component healthy with its address', async () => {
    const result = await lifeboat(['lab', 'status', '--json']);
    expect(result.exitCode).toBe(0);
    const status = JSON.parse(result.stdout) as StatusJson;
    // The lab's worker is listed when one runs (`lab up --with-worker`), the cluster profile's processes when they run (`--profile cluster`).
    const running = [];
    for (const name of ['worker', 'postgresql', 'temporal-server']) if (await runningPid(name)) running.push(name);
    expect(status.components.map((c) => c.name).sort()).toEqual([...expectedComponents, ...running].sort());
    for (const c of status.components) {
      expect(c).toMatchObject({
        name: c.name,
        healthy: true,
        address: expect.stringMatching(/127\.0\.0\.1:\d+/),
        detail: expect.any(String),
      });
    }
  });

  it("the Temporal UI's codec endpoint is the lab's codec server, which answers the UI's preflight and its token in the path", async () => {
    const token = readFileSync(labCodecTokenFile, 'utf8').trim();
    const endpoint = `http://127.0.0.1:${codecServerPort}/${token}`;
    const settings = (await (await fetch(`${labUiOrigin}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
    expect(settings.Codec.Endpoint).toBe(endpoint);
    const preflight = await fetch(`${endpoint}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: labUiOrigin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect([preflight.status, preflight.headers.get('access-control-allow-origin')]).toEqual([204, labUiOrigin]);
    const decoded = await fetch(`${endpoint}/decode`, {
      method: 'POST',
      headers: { origin: labUiOrigin, 'content-type': 'application/json', 'x-namespace': 'default' },
      body: '{"payloads":[]}',
    });
    expect([decoded.status, await decoded.json()]).toEqual([200, { payloads: [] }]);
  });

  it('lab env names the variables the worker and tests read, and their files exist', async () => {
    const result = await lifeboat(['lab', 'env', '--json']);
    const env = JSON.parse(result.stdout) as Record<string, string>;
    expect(env).toMatchObject({
      LIFEBOAT_TEMPORAL_ADDRESS: '127.0.0.1:7233',
      LIFEBOAT_S3_ENDPOINT: 'http://127.0.0.1:9000',
      LIFEBOAT_S3_BUCKET: 'lifeboat',
      LIFEBOAT_CLUSTERS: 'primary,standby',
    });
    for (const key of [
      'LIFEBOAT_CONFIG',
      'LIFEBOAT_CLUSTER_PRIMARY_KUBECONFIG',
      'LIFEBOAT_CLUSTER_STANDBY_ETCD_CA_FILE',
      'LIFEBOAT_CLUSTER_PRIMARY_ETCD_CERT_FILE',
      'LIFEBOAT_ETCDCTL',
    ]) {
      expect(existsSync(env[key]!)).toBe(true);
    }
    const shell = await lifeboat(['lab', 'env']);
    expect(shell.stdout).toMatch(/^export LIFEBOAT_TEMPORAL_ADDRESS='127\.0\.0\.1:7233'$/m);
  });

  it('the primary encrypts Secrets at rest and the standby does not', async () => {
    const env = JSON.parse((await lifeboat(['lab', 'env', '--json'])).stdout) as Record<string, string>;
    const name = `encryption-probe-${Date.now()}`;
    const raw: Record<string, string> = {};
    for (const cluster of ['primary', 'standby']) {
      const up = cluster.toUpperCase();
      // The admin kubeconfig: the configuration's may be Lifeboat's ServiceAccount, which may not write Secrets.
      const admin = clusterPaths(cluster).kubeconfig('admin');
      await execa(bin.kubectl, ['--kubeconfig', admin, 'create', 'secret', 'generic', name, '--from-literal=password=hunter2']);
      const { stdout } = await execa(
        bin.etcdctl,
        [
          `--endpoints=${env[`LIFEBOAT_CLUSTER_${up}_ETCD_ENDPOINTS`]}`,
          `--cacert=${env[`LIFEBOAT_CLUSTER_${up}_ETCD_CA_FILE`]}`,
          `--cert=${env[`LIFEBOAT_CLUSTER_${up}_ETCD_CERT_FILE`]}`,
          `--key=${env[`LIFEBOAT_CLUSTER_${up}_ETCD_KEY_FILE`]}`,
          'get',
          `/registry/secrets/default/${name}`,
          '--print-value-only',
        ],
        { encoding: 'latin1' },
      );
      raw[cluster] = stdout;
      await execa(bin.kubectl, ['--kubeconfig', admin, 'delete', 'secret', name]);
    }
    expect(raw.primary).toMatch(/^k8s:enc:aescbc:v1:key1:/);
    expect(raw.primary).not.toContain('hunter2');
    expect(raw.standby).toContain('hunter2');
  });

  it('etcd refuses a client without a certificate', async () => {
    // The client trusts the server (the lab CA), so what fails is the server refusing it: without the
    // CA the client would fail first, distrusting the server, and prove nothing about etcd.
    const env = JSON.parse((await lifeboat(['lab', 'env', '--json'])).stdout) as Record<string, string>;
    const result = await execa(
      bin.etcdctl,
      [
        `--endpoints=${env.LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS}`,
        `--cacert=${env.LIFEBOAT_CLUSTER_PRIMARY_ETCD_CA_FILE}`,
        '--command-timeout=3s',
        '--dial-timeout=2s',
        'endpoint',
        'health',
      ],
      { reject: false },
    );
    expect(result.exitCode).toBe(1);
    // Every member refuses it: each endpoint is reported unhealthy.
    const endpoints = env.LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS!.split(',');
    expect(endpoints).toHaveLength(3);
    const lines = result.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('Error: unhealthy cluster');
    expect(
      lines
        .filter((l) => / is unhealthy: failed to commit proposal: context deadline exceeded$/.test(l))
        .map((l) => l.split(' ')[0])
        .sort(),
    ).toEqual([...endpoints].sort());
    // Which refusal etcdctl logs races in TLS 1.3 (the server's alert, or a broken pipe when the client
    // writes first); a client that only reads gets the server's alert every time.
    const url = new URL(env.LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS!.split(',')[0]!);
    const refusal = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      const socket = connect({
        host: url.hostname,
        port: Number(url.port),
        ca: readFileSync(env.LIFEBOAT_CLUSTER_PRIMARY_ETCD_CA_FILE!),
        ALPNProtocols: ['h2'],
      });
      socket.once('error', resolve);
      socket.once('close', () => reject(new Error('etcd closed the connection without a TLS alert')));
    });
    expect(refusal.code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  });
});

describe('with the primary kube-apiserver killed', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
    const pid = await runningPid('kube-apiserver/primary');
    expect(pid).toBeDefined();
    process.kill(pid!, 'SIGKILL');
    while (await runningPid('kube-apiserver/primary')) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(async () => {
    await w?.stop();
    await labUp();
  }, 300_000);

  it('lab status names it with its address and still reports the rest', async () => {
    const result = await lifeboat(['lab', 'status', '--json']);
    expect(result.exitCode).toBe(1);
    const { components } = JSON.parse(result.stdout) as StatusJson;
    expect(components.find((c) => c.name === 'kube-apiserver/primary')).toEqual({
      name: 'kube-apiserver/primary',
      healthy: false,
      address: 'https://127.0.0.1:16443',
      detail: 'not running: connection refused',
    });
    for (const name of [
      'temporal',
      'minio',
      'etcd/primary-0',
      'etcd/primary-1',
      'etcd/primary-2',
      'kube-apiserver/standby',
      'etcd/standby',
      'velero/standby',
    ]) {
      expect(components.find((c) => c.name === name)?.healthy).toBe(true);
    }
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('cluster health names it precisely, exits 1, and reports the healthy rest', async () => {
    const result = await lifeboat(['cluster', 'health', '--json'], { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as {
      healthy: boolean;
      components: { component: string; healthy: boolean; address: string; detail: string }[];
    };
    expect(report.healthy).toBe(false);
    const byName = Object.fromEntries(report.components.map((c) => [c.component, c]));
    expect(byName['nodes/primary']).toEqual({
      component: 'nodes/primary',
      healthy: false,
      address: 'https://127.0.0.1:16443',
      detail: 'kube-apiserver: connection refused',
    });
    expect(byName['velero/primary']).toMatchObject({ healthy: false, detail: 'kube-apiserver: connection refused' });
    for (const name of ['etcd/primary', 'nodes/standby', 'etcd/standby', 'velero/standby', 'object-store'])
      expect(byName[name]!.healthy).toBe(true);

    const table = await lifeboat(['cluster', 'health'], { LIFEBOAT_TEMPORAL_TASK_QUEUE: w.config.temporal.taskQueue });
    expect(table.stdout).toMatch(/^nodes\/primary\s+NO\s+https:\/\/127\.0\.0\.1:16443\s+kube-apiserver: connection refused$/m);
    expect(table.stdout).toMatch(/^UNHEALTHY/m);
  });
});
