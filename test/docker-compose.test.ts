// The docker-compose topology and its example configuration (deploy/lifeboat.yaml). Compose cannot run
// here (no Docker engine), so: the file is read as compose reads it (its interpolation included), the
// example is loaded by the worker's own loader with the files it names put where the compose mount puts
// them, and (lab: Temporal, MinIO, the primary cluster; the worker runs scratch etcd and kube-apiserver)
// the runbooks the example schedules are run from it by a worker of the test's own.
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { parse } from 'yaml';
import { desiredSchedules } from '../cli/schedule.js';
import { lifeboatSearchAttributes } from '../model/search-attributes.js';
import { localReportDir } from '../activities/object-store/gameday-reports.js';
import { bin, clusterPaths, host, labClusters, minioPorts, objectStore, temporalPorts } from '../lab/topology.js';
import { ConfigError, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { loadKeyRing } from '../worker/keys.js';
import { createS3Client } from '../worker/s3.js';
import { temporalClient } from '../worker/temporal.js';
import { createWorker } from '../worker/worker.js';
import type { EtcdSnapshotResult } from '../workflows/etcdSnapshot.js';
import type { GameDayResult } from '../workflows/gameDay.js';
import { deleteBucket } from './helpers/minio.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }> | string[];
  ports?: string[];
  volumes?: string[];
  entrypoint?: string[];
}
const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
// Compose resolves YAML merge keys (`<<: *worker`); so does this parse.
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const { services } = compose;
const dependsOn = (s: Service) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));

/** Compose's interpolation: `$$`, `${V}`, `${V-d}`, `${V:-d}`, `${V?e}`, `${V:?e}` (an unset required variable stops compose). */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?)([-?])([^}]*))?\}/g, (match, name: string, colon?: string, op?: string, arg?: string) => {
    if (match === '$$') return '$';
    const v = env[name];
    const unset = v === undefined || (colon === ':' && v === '');
    if (op === '-') return unset ? arg! : v;
    if (op === '?' && unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return v ?? '';
  });
}
const environmentOf = (service: string, env: Record<string, string>) =>
  Object.fromEntries(Object.entries(services[service]!.environment!).map(([k, v]) => [k, interpolate(v, env)]));

/** The worker's mount of the example's directory: host directory and where the worker sees it. */
const mount = (() => {
  const volume = services['worker-1']!.volumes!.find((v) => v.endsWith(':ro'))!;
  const [hostDir, target] = volume.split(':');
  return { hostDir: root(hostDir!), target: target! };
})();

/**
 * A directory standing for the mounted one: the example, with every path under the mount's target
 * pointing here instead, and the files `provide` writes for each path the example names there.
 */
function mountedExample(provide: (path: string, file: string) => void): {
  dir: string;
  env: (overrides?: Record<string, string>) => Record<string, string>;
} {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-deploy-'));
  const text = readFileSync(join(mount.hostDir, 'lifeboat.yaml'), 'utf8');
  writeFileSync(join(dir, 'lifeboat.yaml'), text.replaceAll(`${mount.target}/`, `${dir}/`));
  for (const [, name] of text.matchAll(new RegExp(`${mount.target}/([\\w.-]+)`, 'g'))) {
    if (name !== 'lifeboat.yaml') provide(name!, join(dir, name!));
  }
  const workerEnv = environmentOf('worker-1', { MINIO_ROOT_PASSWORD: randomUUID() });
  return {
    dir,
    env: (overrides = {}) => ({ ...workerEnv, LIFEBOAT_CONFIG: workerEnv.LIFEBOAT_CONFIG!.replace(mount.target, dir), ...overrides }),
  };
}
const kubeconfigText =
  'apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://primary.example:6443" } }]\nusers: [{ name: u, user: {} }]\ncontexts: [{ name: primary, context: { cluster: c, user: u } }]\ncurrent-context: primary\n';
const keyText = () => `${randomBytes(32).toString('base64')}\n`;

describe('docker-compose.yml', () => {
  it("has Temporal's own server image on PostgreSQL with a schema job, its UI with the codec server, MinIO and two workers", () => {
    expect(Object.keys(services).sort()).toEqual([
      'codec-server',
      'minio',
      'minio-init',
      'postgresql',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker-1',
      'worker-2',
    ]);
    // The server image, not auto-setup: the schema is the one-shot job's, run before the server starts.
    expect(services.temporal!.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(services.temporal!.environment!.DB).toBe('postgres12');
    expect(services.temporal!.environment!.POSTGRES_SEEDS).toBe('postgresql');
    expect(services.temporal!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    const schema = services['temporal-schema']!;
    expect(schema.image).toBe(services.temporal!.image!.replace('/server:', '/admin-tools:'));
    expect(dependsOn(schema)).toEqual(['postgresql']);
    expect(schema.environment!.SQL_HOST).toBe('postgresql');
    expect(schema.environment!.SQL_PLUGIN).toBe(services.temporal!.environment!.DB);
    const script = schema.entrypoint!.at(-1)!;
    expect(script).toMatch(/for pair in temporal:temporal temporal_visibility:visibility; do/);
    for (const step of [
      'create-database',
      'setup-schema -v 0.0',
      'update-schema -d "/etc/temporal/schema/postgresql/v12/$$schema/versioned"',
    ])
      expect([step, script.includes(`temporal-sql-tool --db "$$db" ${step}`)]).toEqual([step, true]);
    // The namespace job registers exactly Lifeboat's search attributes, with their types.
    const namespace = services['temporal-namespace']!.entrypoint!.at(-1)!;
    expect(namespace.match(/for sa in ([^;]*);/)![1]!.split(' ')).toEqual(lifeboatSearchAttributes.map((a) => `${a.name}=${a.type}`));
    expect(services['temporal-ui']!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
    // Two identical workers on one task queue, started once the namespace and the bucket exist.
    const { 'worker-1': one, 'worker-2': two } = services;
    expect(two).toEqual(one);
    expect(one!.depends_on).toEqual({
      'temporal-namespace': { condition: 'service_completed_successfully' },
      'minio-init': { condition: 'service_completed_successfully' },
    });
    expect(one!.build).toBe('.');
    expect(services['codec-server']!.build).toBe('.');
    expect(services['codec-server']!.command).toEqual(['codec-server']);
  });

  it('has no default password: each secret is a required variable', () => {
    const secret = /PASSWORD|PWD|TOKEN|SECRET/;
    const secrets = Object.entries(services).flatMap(([name, s]) =>
      Object.entries(s.environment ?? {})
        .filter(([k]) => secret.test(k))
        .map(([k, v]) => [name, k, v] as const),
    );
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    for (const [name, key, value] of secrets) expect([name, key, value]).toEqual([name, key, expect.stringMatching(/\$\{\w+:\?[^}]+\}/)]);
    for (const name of ['postgresql', 'temporal', 'temporal-schema', 'codec-server', 'temporal-ui', 'worker-1'])
      expect(() => environmentOf(name, {})).toThrow(/^required variable \w+ is missing a value: set \w+$/);
    const env = { TEMPORAL_DB_PASSWORD: randomUUID(), MINIO_ROOT_PASSWORD: randomUUID(), LIFEBOAT_CODEC_SERVER_TOKEN: randomUUID() };
    // The database password Postgres starts with is the one the schema job and the server use.
    expect(environmentOf('postgresql', env).POSTGRES_PASSWORD).toBe(env.TEMPORAL_DB_PASSWORD);
    expect(environmentOf('temporal-schema', env).SQL_PASSWORD).toBe(env.TEMPORAL_DB_PASSWORD);
    expect(environmentOf('temporal', env).POSTGRES_PWD).toBe(env.TEMPORAL_DB_PASSWORD);
  });

  it('the UI decodes history through the codec server the example configures, with the token the codec server takes', () => {
    const example = mountedExample((name, file) =>
      writeFileSync(file, name.endsWith('.kubeconfig') ? kubeconfigText : name.startsWith('snapshot-key') ? keyText() : 'PEM\n', {
        mode: 0o600,
      }),
    );
    try {
      const token = randomBytes(32).toString('hex');
      const codec = environmentOf('codec-server', { LIFEBOAT_CODEC_SERVER_TOKEN: token });
      const config = loadConfig({ env: example.env({ LIFEBOAT_CONFIG: codec.LIFEBOAT_CONFIG!.replace(mount.target, example.dir) }) });
      const server = config.codecServer!;
      expect(codec[server.tokenEnv!]).toBe(token);
      expect(server.tokenInPath).toBe(true);
      const port = server.listen.split(':')[1];
      expect(services['codec-server']!.ports).toEqual([`${port}:${port}`]);
      const ui = environmentOf('temporal-ui', { LIFEBOAT_CODEC_SERVER_TOKEN: token });
      expect(ui.TEMPORAL_CODEC_ENDPOINT).toBe(`http://localhost:${port}/${token}`);
      // The browser's origin is the UI's published port: the only origin the codec server answers (CORS).
      expect(server.uiOrigin).toBe(`http://localhost:${services['temporal-ui']!.ports![0]!.split(':')[0]}`);
      expect(services['codec-server']!.volumes).toEqual(services['worker-1']!.volumes);
    } finally {
      rmSync(example.dir, { recursive: true, force: true });
    }
  });

  it('will not start without the MinIO password, and gives the worker the credentials MinIO starts with', () => {
    expect(() => environmentOf('minio', {})).toThrow(
      new Error('required variable MINIO_ROOT_PASSWORD is missing a value: set MINIO_ROOT_PASSWORD'),
    );
    expect(() => environmentOf('worker-1', {})).toThrow(
      new Error('required variable MINIO_ROOT_PASSWORD is missing a value: set MINIO_ROOT_PASSWORD'),
    );
    const user = { MINIO_ROOT_USER: `u-${randomUUID()}`, MINIO_ROOT_PASSWORD: randomUUID() };
    const minio = environmentOf('minio', user);
    const worker = environmentOf('worker-1', user);
    expect(environmentOf('minio-init', user)).toEqual({
      MINIO_ROOT_USER: user.MINIO_ROOT_USER,
      MINIO_ROOT_PASSWORD: user.MINIO_ROOT_PASSWORD,
    });
    expect({ key: worker.AWS_ACCESS_KEY_ID, secret: worker.AWS_SECRET_ACCESS_KEY }).toEqual({
      key: minio.MINIO_ROOT_USER,
      secret: minio.MINIO_ROOT_PASSWORD,
    });
    expect({ key: worker.AWS_ACCESS_KEY_ID, secret: worker.AWS_SECRET_ACCESS_KEY }).toEqual({
      key: user.MINIO_ROOT_USER,
      secret: user.MINIO_ROOT_PASSWORD,
    });
  });

  it('wires the worker to Temporal and MinIO through the configuration its loader reads', () => {
    const example = mountedExample((name, file) =>
      writeFileSync(file, name.endsWith('.kubeconfig') ? kubeconfigText : name.startsWith('snapshot-key') ? keyText() : 'PEM\n', {
        mode: 0o600,
      }),
    );
    try {
      const config = loadConfig({ env: example.env() });
      const [temporalHost, temporalPort] = config.temporal.address.split(':');
      expect(services[temporalHost!]!.ports).toEqual([`${temporalPort}:${temporalPort}`]);
      const s3 = new URL(config.objectStore.endpoint!);
      expect(services[s3.hostname]!.ports).toContain(`${s3.port}:${s3.port}`);
      expect(config.objectStore).toEqual({ endpoint: 'http://minio:9000', region: 'us-east-1', bucket: 'lifeboat', forcePathStyle: true });
      // The bucket the worker uses is the one minio-init creates.
      expect(services['minio-init']!.entrypoint![2]!.split(' && ').at(-1)).toBe(
        `mc mb --ignore-existing store/${config.objectStore.bucket}`,
      );
    } finally {
      rmSync(example.dir, { recursive: true, force: true });
    }
  });

  it('the example names every file its runbooks read; the worker refuses to start until each is there', () => {
    const example = mountedExample(() => undefined);
    try {
      const problems = (() => {
        try {
          loadConfig({ env: example.env() });
        } catch (err) {
          if (err instanceof ConfigError) return err.problems.map((p) => p.slice(p.indexOf(': ') + 2));
          throw err;
        }
        return [];
      })();
      const missing = (path: string, name: string) => `${path}: '${join(example.dir, name)}': no such file; expected a readable file`;
      expect(problems).toEqual([
        missing('clusters[0].kubeconfig', 'primary.kubeconfig'),
        missing('clusters[0].etcd.caFile', 'primary-etcd-ca.crt'),
        missing('clusters[0].etcd.certFile', 'primary-etcd-client.crt'),
        missing('clusters[0].etcd.keyFile', 'primary-etcd-client.key'),
        missing('clusters[0].restoreVerification.encryptionConfigFile', 'primary-encryption-config.yaml'),
        missing('encryption.keys[0].file', 'snapshot-key-1'),
      ]);
      // Its header lists the same files for the person who deploys it.
      const header = readFileSync(join(mount.hostDir, 'lifeboat.yaml'), 'utf8').split('\nclusters:')[0]!;
      for (const name of [
        'primary.kubeconfig',
        'primary-etcd-ca.crt',
        'primary-etcd-client.crt/.key',
        'primary-encryption-config.yaml',
        'snapshot-key-1',
      ])
        expect([name, header.includes(`#   ${name} `)]).toEqual([name, true]);
    } finally {
      rmSync(example.dir, { recursive: true, force: true });
    }
  });

  it('the example has what each runbook it configures needs: snapshot keys, the tools the image installs, schedules of registered runbooks', () => {
    const example = mountedExample((name, file) =>
      writeFileSync(file, name.endsWith('.kubeconfig') ? kubeconfigText : name.startsWith('snapshot-key') ? keyText() : 'PEM\n', {
        mode: 0o600,
      }),
    );
    try {
      const config = loadConfig({ env: example.env() });
      // Snapshots (scheduled and on demand) are encrypted, and game days decrypt them: the worker's own key loader reads the key.
      const ring = loadKeyRing(config.encryption!);
      expect({ current: ring.currentKeyId, ids: ring.ids, bytes: ring.lookup(ring.currentKeyId)!.length }).toEqual({
        current: 'snapshot-key-1',
        ids: ['snapshot-key-1'],
        bytes: 32,
      });
      // Every tool is one the image's tools stage copies to /usr/local/bin.
      const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
      const copied = dockerfile
        .match(/&& mkdir -p \/out && cp ([^]*?) \/out\//)![1]!
        .split(/\s+/)
        .filter((p) => p.startsWith('/'))
        .map((p) => p.split('/').at(-1))
        .sort();
      expect(dockerfile).toMatch(/^COPY --from=tools \/out\/ \/usr\/local\/bin\/$/m);
      expect(Object.values(config.tools).sort()).toEqual(copied.map((name) => `/usr/local/bin/${name}`));
      // Restore verification of the cluster: the cluster's own encryption configuration, so Secrets read back.
      expect(config.clusters.map((c) => [c.name, c.restoreVerification.encryptionConfigFile])).toEqual([
        ['primary', join(example.dir, 'primary-encryption-config.yaml')],
      ]);
      // Node replacement: a webhook provider whose token comes from the worker's environment, and the health watch's defaults.
      expect(config.clusters.map((c) => [c.name, c.nodeProvider, c.nodeHealth])).toEqual([
        [
          'primary',
          {
            kind: 'webhook',
            url: 'https://provisioning.example/lifeboat',
            tokenEnv: 'LIFEBOAT_NODE_PROVIDER_TOKEN',
            timeout: 120,
            pollInterval: 10,
          },
          {
            unhealthyAfter: 300,
            nodeStartupTimeout: 600,
            maxUnhealthy: 1,
            stormThreshold: '55%',
            pause: false,
            watch: false,
            watchEvery: 60,
          },
        ],
      ]);
      // What `schedule apply` makes of it: a snapshot every 6 hours and the quarterly game day.
      expect(desiredSchedules(config).map((s) => [s.scheduleId, s.spec.cronExpressions, s.action.workflowType])).toEqual([
        ['gameday', ['0 9 1 1,4,7,10 *'], 'gameDay'],
        ['etcd-snapshot/primary', ['0 */6 * * *'], 'etcdSnapshot'],
      ]);
    } finally {
      rmSync(example.dir, { recursive: true, force: true });
    }
  });

  it('builds the worker image the service runs', () => {
    const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "bin\/lifeboat.js"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["worker"\]$/m);
    expect(services['worker-1']!.command).toEqual(['worker']);
    expect(dockerfile).toMatch(/bash \/src\/lab\/install-tools\.sh etcd velero kubernetes/);
  });
});

describe('the example configuration, run', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('takes the snapshot it schedules and its game day restores it', async () => {
    // The files the example names, as a user would put them in ./deploy: the lab primary's kubeconfig,
    // etcd client certificate and encryption configuration, and a new snapshot key.
    const lab = clusterPaths('primary');
    const sources: Record<string, string> = {
      'primary.kubeconfig': lab.kubeconfig('admin'),
      'primary-etcd-ca.crt': lab.caCert,
      'primary-etcd-client.crt': lab.lifeboatEtcdClientCert,
      'primary-etcd-client.key': lab.lifeboatEtcdClientKey,
      'primary-encryption-config.yaml': lab.encryptionConfig,
    };
    const example = mountedExample((name, file) =>
      name === 'snapshot-key-1' ? writeFileSync(file, keyText(), { mode: 0o600 }) : copyFileSync(sources[name]!, file),
    );
    cleanups.push(() => rmSync(example.dir, { recursive: true, force: true }));
    // What compose's network and the image provide, the lab provides: its Temporal, its MinIO (a bucket
    // of the test's own), the primary's etcd address, the tools; and a task queue of the test's own.
    const bucket = `lifeboat-compose-${randomUUID().slice(0, 8)}`;
    const env = example.env({
      LIFEBOAT_TEMPORAL_ADDRESS: `${host}:${temporalPorts.frontend}`,
      LIFEBOAT_TEMPORAL_TASK_QUEUE: `test-compose-${randomUUID()}`,
      LIFEBOAT_S3_ENDPOINT: `http://${host}:${minioPorts.api}`,
      LIFEBOAT_S3_BUCKET: bucket,
      LIFEBOAT_S3_REGION: objectStore.region,
      LIFEBOAT_METRICS_PORT: '0',
      LIFEBOAT_CLUSTERS: 'primary',
      LIFEBOAT_CLUSTER_PRIMARY_ETCD_ENDPOINTS: `https://${host}:${labClusters.find((c) => c.name === 'primary')!.etcdClientPort}`,
      LIFEBOAT_ETCDCTL: bin.etcdctl,
      LIFEBOAT_ETCDUTL: bin.etcdutl,
      LIFEBOAT_VELERO: bin.velero,
      LIFEBOAT_ETCD: bin.etcd,
      LIFEBOAT_KUBE_APISERVER: bin.kubeApiserver,
    });
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = objectStore.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = objectStore.secretAccessKey;
    cleanups.push(() => {
      for (const [k, v] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    const config: LifeboatConfig = loadConfig({ env });

    const s3 = createS3Client(config);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    cleanups.push(async () => {
      await deleteBucket(s3, bucket);
      s3.destroy();
    });
    const handle = await createWorker(config, pino({ level: 'warn' }));
    const running = handle.run();
    cleanups.push(async () => {
      handle.worker.shutdown();
      await running;
    });
    const client = await temporalClient(config);
    cleanups.push(() => client.connection.close());

    // Each scheduled action as its schedule would start it: the snapshot first, then the game day.
    const actions = Object.fromEntries(desiredSchedules(config).map((s) => [s.scheduleId, s.action]));
    const run = <R>(id: string) => {
      const a = actions[id]!;
      return client.workflow.execute(a.workflowType as string, {
        taskQueue: a.taskQueue,
        workflowId: `${a.workflowId}/test-compose-${Date.now()}`,
        args: a.args!,
      }) as Promise<R>;
    };
    const { manifest } = await run<EtcdSnapshotResult>('etcd-snapshot/primary');
    expect([manifest.cluster, manifest.status, manifest.encryption.keyId]).toEqual(['primary', 'uploaded', 'snapshot-key-1']);
    const { report, stored } = await run<GameDayResult>('gameday');
    cleanups.push(() => rmSync(join(localReportDir(config.gameDay), report.id), { recursive: true, force: true }));
    expect(
      report.entries.map((e) => ({
        name: e.name,
        passed: e.passed,
        error: e.error,
        snapshot: e.verification?.backup.id,
        rto: e.rtoMet,
        rpo: e.rpoMet,
      })),
    ).toEqual([{ name: 'etcd/primary', passed: true, error: undefined, snapshot: manifest.snapshotId, rto: true, rpo: true }]);
    expect(report.passed).toBe(true);
    expect(stored.bucket).toBe(bucket);
  }, 600_000);
});
