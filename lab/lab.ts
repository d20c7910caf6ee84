// `lifeboat lab up | status | env | down`: the local lab of real components.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { labComponents, type LabComponent } from './components.js';
import { ensureClusterPki } from './pki.js';
import { logFile, logTail, runningPid, runningSpec, specDigest, startDaemon, stopDaemon, treeRssBytes } from './processes.js';
import {
  awsCredentialsFile,
  bin,
  clusterPaths,
  etcdMembersOf,
  host,
  labClusters,
  allLabClusters,
  drillCluster,
  isSite,
  kwokConfig,
  kwokConfigFile,
  labConfigFile,
  labDir,
  labDrillConfigFile,
  labFaultsConfigFile,
  labKeyFile,
  labKeyId,
  labSsh,
  minioData,
  minioPorts,
  objectStore,
  temporalDb,
  temporalPorts,
  versions,
  type LabClusterSpec,
} from './topology.js';
import { workerComponent } from './worker-component.js';
import { ensureWitnessCredentials, witnessComponents } from './witness-component.js';
import { labCodecServerConfig, labCodecTokenFile } from './codec-server-component.js';
import { ensureTrafficRecords, installDnsEndpointCrd } from './externaldns.js';
import { peerLocation, shopApp, shopManifests, shopTraffic } from './shop.js';
import { kwokNodeAnnotations, kwokNodeCapacity } from '../activities/node-provider/kwok.js';
import { ledgerApp, ledgerManifests } from './ledger.js';
import { labStorageClass } from './volumes.js';
import { prepareSshd } from './sshd.js';
import { protectSecretFile, writeSecretFile } from '../worker/secret-files.js';
import { applyLabRbac, labWorkerKubeconfig } from './rbac.js';
import { ensureSearchAttributes } from './search-attributes.js';
import { configSchema } from '../worker/config/schema.js';
import { clusterComponents, ensureTemporalCluster } from './temporal-cluster.js';
import { ensureProxies, faultPaths, faultsConfig } from './faults.js';

/** The other site (the drill cluster has none: it shares no backups). */
const peerClusters = (c: LabClusterSpec) => (isSite(c) ? labClusters.filter((x) => x.name !== c.name) : []);

const say = (msg: string) => process.stderr.write(`[lab] ${msg}\n`);

export interface ComponentStatus {
  name: string;
  healthy: boolean;
  address: string;
  detail: string;
  /** Resident memory of the process and its children, when the lab started it. */
  rssMiB?: number;
}

async function componentStatus(c: LabComponent): Promise<ComponentStatus> {
  const pid = await runningPid(c.daemon.name);
  const probe = await c.probe();
  const detail = probe.ok
    ? pid
      ? `${probe.detail} (pid ${pid})`
      : `${probe.detail} (not started by this lab)`
    : pid
      ? probe.detail
      : `not running: ${probe.detail}`;
  const status: ComponentStatus = { name: c.name, healthy: probe.ok, address: c.address, detail };
  if (pid) status.rssMiB = Math.round(treeRssBytes(pid) / 1024 / 1024);
  return status;
}

/** Every lab component with its health; never throws for an unhealthy one. */
export async function labStatus(): Promise<ComponentStatus[]> {
  const components = [...labComponents];
  // The worker and the cluster profile's processes only when they run (`--with-worker`, `--profile cluster`).
  // The site witnesses too, when they run (a lab brought up before they existed has none).
  for (const c of [workerComponent, ...witnessComponents, ...clusterComponents]) if (await runningPid(c.daemon.name)) components.push(c);
  return Promise.all(components.map(componentStatus));
}

async function waitHealthy(c: LabComponent, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const probe = await c.probe();
    if (probe.ok) return;
    last = probe.detail;
    if (!(await runningPid(c.daemon.name))) {
      throw new Error(`${c.name} exited during start-up; last lines of ${logFile(c.daemon.name)}:\n${await logTail(c.daemon.name)}`);
    }
    await sleep(250);
  }
  throw new Error(`${c.name} at ${c.address} not healthy after ${timeoutMs / 1000}s (${last}); see ${logFile(c.daemon.name)}`);
}

async function startAll(components: LabComponent[]): Promise<void> {
  await Promise.all(
    components.map(async (c) => {
      if ((await c.probe()).ok && (await isCurrent(c))) return;
      const t0 = Date.now();
      await startDaemon(c.daemon);
      await waitHealthy(c, 120_000);
      say(`${c.name} healthy at ${c.address} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    }),
  );
}

/** Running as `lab up` would start it now (not an older version's command line)? */
async function isCurrent(c: LabComponent): Promise<boolean> {
  return (await runningSpec(c.daemon.name)) === specDigest(c.daemon) || !(await runningPid(c.daemon.name));
}

const byName = (name: string) => {
  const c = labComponents.find((x) => x.name === name);
  if (!c) throw new Error(`no lab component ${name}`);
  return c;
};

async function kubectl(cluster: string, args: string[], input?: string): Promise<string> {
  const { stdout } = await execa(bin.kubectl, ['--kubeconfig', clusterPaths(cluster).kubeconfig('admin'), ...args], { input });
  return stdout;
}

const apply = (cluster: string, manifests: object[]) =>
  kubectl(
    cluster,
    ['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab', '-f', '-'],
    manifests.map((m) => stringify(m)).join('---\n'),
  );

const kwokNodeNames = (c: LabClusterSpec) => Array.from({ length: c.nodeCount }, (_, i) => `${c.name}-node-${i}`);

/** The lab's Nodes: kwok's, with room for the drain benchmark's 300 Pods on one Node. */
function kwokNodes(c: LabClusterSpec): object[] {
  const capacity = kwokNodeCapacity;
  return Array.from({ length: c.nodeCount }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `${c.name}-node-${i}`,
      annotations: { ...kwokNodeAnnotations },
      labels: {
        type: 'kwok',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': `${c.name}-node-${i}`,
        'topology.kubernetes.io/zone': `zone-${'abc'[i % 3]}`,
      },
    },
    spec: {},
    status: { allocatable: capacity, capacity, phase: 'Running' },
  }));
}

function backupStorageLocation(c: LabClusterSpec): object {
  return {
    apiVersion: 'velero.io/v1',
    kind: 'BackupStorageLocation',
    metadata: { name: 'default', namespace: 'velero' },
    spec: {
      provider: 'aws',
      default: true,
      // Velero's default is a minute; the lab recovers from a MinIO restart sooner.
      validationFrequency: '15s',
      objectStorage: { bucket: objectStore.bucket, prefix: `velero/${c.name}` },
      config: { region: objectStore.region, s3ForcePathStyle: 'true', s3Url: `http://${host}:${minioPorts.api}`, checksumAlgorithm: '' },
    },
  };
}

/**
 * Velero runs outside the lab's clusters, but every restore instantiates its pod-volume restore action,
 * which reads the `velero` Deployment (for the restore helper's image) and fails the whole restore
 * without one. A scaled-to-zero Deployment stands in for the one `velero install` creates.
 */
const veleroDeploymentStandIn = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'velero', namespace: 'velero', labels: { component: 'velero' } },
  spec: {
    replicas: 0,
    selector: { matchLabels: { component: 'velero' } },
    template: {
      metadata: { labels: { component: 'velero' } },
      spec: { containers: [{ name: 'velero', image: `velero/velero:v${versions.velero}` }] },
    },
  },
};

/** Objects every lab cluster needs before its controllers start: kwok Nodes, Velero's CRDs, namespace and storage location, ExternalDNS's DNSEndpoint CRD. */
async function bootstrapCluster(c: LabClusterSpec): Promise<void> {
  await apply(c.name, kwokNodes(c));
  // A Node's status is taken on create only: Nodes of an older lab get today's capacity this way.
  await kubectl(
    c.name,
    ['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab', '--subresource', 'status', '-f', '-'],
    kwokNodeNames(c)
      .map((name) =>
        stringify({
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name },
          status: { capacity: kwokNodeCapacity, allocatable: kwokNodeCapacity },
        }),
      )
      .join('---\n'),
  );
  const { stdout: crds } = await execa(bin.velero, ['install', '--crds-only', '--dry-run', '-o', 'yaml']);
  await kubectl(c.name, ['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab', '-f', '-'], crds);
  await kubectl(c.name, [
    'wait',
    '--for',
    'condition=Established',
    '--timeout',
    '60s',
    'crd/backupstoragelocations.velero.io',
    'crd/backups.velero.io',
    'crd/restores.velero.io',
  ]);
  await installDnsEndpointCrd(kubectl, c.name);
  await apply(c.name, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'velero' } },
    labStorageClass,
    backupStorageLocation(c),
    ...peerClusters(c).map((peer) => peerLocation(c, peer, backupStorageLocation)),
    veleroDeploymentStandIn,
  ]);
}

async function ensureBucket(): Promise<void> {
  const s3 = new S3Client({
    endpoint: `http://${host}:${minioPorts.api}`,
    region: objectStore.region,
    forcePathStyle: true,
    credentials: { accessKeyId: objectStore.accessKeyId, secretAccessKey: objectStore.secretAccessKey },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: objectStore.bucket }));
  } catch (err) {
    if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err;
  } finally {
    s3.destroy();
  }
}

async function waitFor(label: string, timeoutMs: number, check: () => Promise<string | undefined>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const problem = await check().catch((err: Error) => err.message);
    if (problem === undefined) return;
    last = problem;
    await sleep(500);
  }
  throw new Error(`${label}: not ready after ${timeoutMs / 1000}s: ${last}`);
}

async function nodesReady(c: LabClusterSpec): Promise<string | undefined> {
  const out = await kubectl(c.name, [
    'get',
    'nodes',
    '-o',
    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  const ready = out.split('\n').filter((s) => s === 'True').length;
  return ready >= c.nodeCount ? undefined : `${ready}/${c.nodeCount} Nodes Ready`;
}

/** One cluster's entry in the lab's configuration. */
function clusterConfig(c: LabClusterSpec) {
  const p = clusterPaths(c.name);
  return {
    name: c.name,
    kubeconfig: labWorkerKubeconfig(c.name),
    etcd: {
      endpoints: etcdMembersOf(c).map((m) => m.clientUrl),
      caFile: p.caCert,
      certFile: p.lifeboatEtcdClientCert,
      keyFile: p.lifeboatEtcdClientKey,
    },
    velero: {
      namespace: 'velero',
      storageLocation: 'default',
      restoreFrom: Object.fromEntries(peerClusters(c).map((peer) => [peer.name, peer.name])),
      timeout: '30m',
    },
    restoreVerification: {
      ...(c.encryptSecrets ? { encryptionConfigFile: p.encryptionConfig } : {}),
      serviceClusterIPRange: '10.96.0.0/16',
      objects: [
        { resource: 'namespaces', name: 'kube-system' },
        { resource: 'namespaces', name: shopApp.namespace },
        { resource: 'deployments', namespace: shopApp.namespace, name: 'frontend' },
        { resource: 'secrets', namespace: shopApp.namespace, name: 'shop-payment' },
        { resource: 'configmaps', namespace: shopApp.namespace, name: 'shop-config' },
      ].filter((o) => c.name === shopApp.cluster || (o.resource === 'namespaces' && o.name === 'kube-system')),
      objectives: { rto: '10m', rpo: '6h' },
    },
    etcdSnapshots: {
      schedule: { cron: c.name === 'primary' ? '0 */6 * * *' : '30 */12 * * *', catchupWindow: '1h' },
      retention: { keepLast: 3, daily: 7, weekly: 4, monthly: 6, maxAgeDays: 400 },
      incompleteUploadMaxAgeHours: 24,
    },
    // A replacement is a new kwok Node; fencing labels the Node so kwok stops simulating its kubelet (activities/node-provider/kwok.ts).
    nodeProvider: { kind: 'kwok' },
    controlPlane: {
      driver: 'lab',
      etcdMembers: etcdMembersOf(c).map((m) => ({ name: m.name, dataDir: m.dataDir, peerUrl: m.peerUrl, clientUrl: m.clientUrl })),
    },
  };
}

/** The lab's configuration with the drill cluster too (lifeboat-drill.yaml): for the suites of the drill lane. */
export function labDrillConfig(): object {
  const config = labConfig() as { clusters: object[] };
  return { ...config, clusters: [...config.clusters, clusterConfig(drillCluster)] };
}

export function labConfig(): object {
  return {
    temporal: {
      address: `${host}:${temporalPorts.frontend}`,
      ui: `http://${host}:${temporalPorts.ui}`,
      namespace: 'default',
      taskQueue: 'lifeboat',
    },
    objectStore: {
      endpoint: `http://${host}:${minioPorts.api}`,
      region: objectStore.region,
      bucket: objectStore.bucket,
      forcePathStyle: true,
      credentialsFile: awsCredentialsFile,
    },
    clusters: labClusters.map(clusterConfig),
    encryption: { currentKeyId: labKeyId, keys: [{ id: labKeyId, file: labKeyFile }] },
    codecServer: labCodecServerConfig,
    apps: [
      {
        name: shopApp.name,
        cluster: shopApp.cluster,
        namespaces: [shopApp.namespace],
        backup: { ttl: '720h' },
        verify: {
          cluster: shopApp.verifyCluster,
          checks: [
            { kind: 'readyReplicas', namespace: shopApp.namespace, deployment: 'frontend' },
            { kind: 'configMapHash', namespace: shopApp.namespace, name: 'shop-config' },
          ],
          availableTimeout: '3m',
        },
        objectives: { rto: '10m', rpo: '24h' },
        failover: {
          standby: shopApp.verifyCluster,
          mode: 'warm-standby',
          traffic: {
            provider: 'externalDNS',
            cluster: shopTraffic.cluster,
            namespace: shopTraffic.namespace,
            name: shopTraffic.name,
            dnsName: shopTraffic.dnsName,
            recordType: 'A',
            recordTTL: 30,
            targets: shopTraffic.targets,
          },
          approvalTimeout: '30m',
          availableTimeout: '5m',
        },
      },
    ],
    gameDay: { schedule: { cron: '0 9 1 1,4,7,10 *', catchupWindow: '1d' }, freshBackups: true, failover: true },
    // The shipped runbooks; whoever runs the lab is on call for it, beside a named colleague.
    runbooks: {
      dir: fileURLToPath(new URL('../../runbooks/', import.meta.url)),
      approverGroups: { sre: [...new Set([userInfo().username, 'alice'])] },
    },
    // `--as` lets one person play requester and approver in the lab (four eyes); never in production.
    cli: { allowIdentityOverride: true },
    tools: { etcdctl: bin.etcdctl, etcdutl: bin.etcdutl, velero: bin.velero, etcd: bin.etcd, kubeApiserver: bin.kubeApiserver },
    metrics: { port: 9464 },
  };
}

/** The variables the worker and the tests read, as `[name, value]` pairs. */
export function labEnv(): [string, string][] {
  const env: [string, string][] = [
    ['LIFEBOAT_CONFIG', labConfigFile],
    ['LIFEBOAT_TEMPORAL_ADDRESS', `${host}:${temporalPorts.frontend}`],
    ['LIFEBOAT_TEMPORAL_NAMESPACE', 'default'],
    ['LIFEBOAT_TEMPORAL_UI', `http://${host}:${temporalPorts.ui}`],
    ['LIFEBOAT_S3_ENDPOINT', `http://${host}:${minioPorts.api}`],
    ['LIFEBOAT_S3_REGION', objectStore.region],
    ['LIFEBOAT_S3_BUCKET', objectStore.bucket],
    ['AWS_ACCESS_KEY_ID', objectStore.accessKeyId],
    ['AWS_SECRET_ACCESS_KEY', objectStore.secretAccessKey],
    ['LIFEBOAT_CLUSTERS', labClusters.map((c) => c.name).join(',')],
  ];
  for (const c of labClusters) {
    const p = clusterPaths(c.name);
    const prefix = `LIFEBOAT_CLUSTER_${c.name.toUpperCase()}`;
    env.push(
      [`${prefix}_KUBECONFIG`, labWorkerKubeconfig(c.name)],
      [
        `${prefix}_ETCD_ENDPOINTS`,
        etcdMembersOf(c)
          .map((m) => m.clientUrl)
          .join(','),
      ],
      [`${prefix}_ETCD_CA_FILE`, p.caCert],
      [`${prefix}_ETCD_CERT_FILE`, p.lifeboatEtcdClientCert],
      [`${prefix}_ETCD_KEY_FILE`, p.lifeboatEtcdClientKey],
    );
  }
  env.push(
    ['LIFEBOAT_ETCD', bin.etcd],
    ['LIFEBOAT_KUBE_APISERVER', bin.kubeApiserver],
    ['LIFEBOAT_ETCDCTL', bin.etcdctl],
    ['LIFEBOAT_ETCDUTL', bin.etcdutl],
    ['LIFEBOAT_VELERO', bin.velero],
    ['LIFEBOAT_KUBECTL', bin.kubectl],
    ['LIFEBOAT_TEMPORAL_CLI', bin.temporal],
    ['LIFEBOAT_LAB_DIR', labDir],
  );
  return env;
}

export const installScript = fileURLToPath(new URL('../../lab/install-tools.sh', import.meta.url));

export interface UpOptions {
  /** Also start a Lifeboat worker as a lab process. Default: false. */
  withWorker?: boolean;
  /**
   * `cluster`: also PostgreSQL and the Temporal server built from source on it (lab/temporal-cluster.ts),
   * beside the dev server. Default: `default` (the dev server only).
   */
  profile?: 'default' | 'cluster';
}

/**
 * A cluster that now has several etcd members, on a lab that ran it with one: the single member is
 * stopped and its data dir moved aside (kept, never deleted), and the members start a new, empty
 * cluster that `lab up` fills again (Nodes, CRDs, the example apps). Its earlier snapshots stay in
 * the bucket.
 */
async function retireSingleEtcdMember(c: LabClusterSpec): Promise<void> {
  if (c.etcdMembers === 1) return;
  const { etcdData } = clusterPaths(c.name);
  if (!existsSync(etcdData)) return;
  // Everything that watched the old cluster goes too: informers that saw its resourceVersions would
  // not trust a new cluster's lower ones (the very thing an etcd restore must bump revisions for).
  const single = `etcd/${c.name}`;
  for (const name of [...labComponents.filter((x) => x.name.endsWith(`/${c.name}`)).map((x) => x.daemon.name), single].reverse())
    if (await stopDaemon(name)) say(`${name}: stopped; ${c.name}'s etcd is now ${c.etcdMembers} members`);
  const aside = `${etcdData}.single-member-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(etcdData, aside);
  say(`${c.name}: the single etcd member's data moved aside to ${aside}; the ${c.etcdMembers} members start a new cluster`);
}

export async function labUp(options: UpOptions = {}): Promise<ComponentStatus[]> {
  const t0 = Date.now();
  await execa('bash', [installScript], { stdout: 'inherit', stderr: 'inherit' });
  await mkdir(labDir, { recursive: true });
  for (const dir of [dirname(temporalDb), minioData]) await mkdir(dir, { recursive: true });
  await writeSecretFile(
    awsCredentialsFile,
    `[default]\naws_access_key_id = ${objectStore.accessKeyId}\naws_secret_access_key = ${objectStore.secretAccessKey}\n`,
  );
  for (const c of allLabClusters) await ensureClusterPki(c.name, c.apiserverPort, c.encryptSecrets);
  if (!existsSync(labKeyFile)) {
    await mkdir(dirname(labKeyFile), { recursive: true, mode: 0o700 });
    await writeSecretFile(labKeyFile, `${randomBytes(32).toString('base64')}\n`);
  } else await protectSecretFile(labKeyFile);
  if (!existsSync(labCodecTokenFile)) await writeSecretFile(labCodecTokenFile, `${randomBytes(32).toString('hex')}\n`);
  else await protectSecretFile(labCodecTokenFile);
  await writeFile(labConfigFile, `# Written by \`lifeboat lab up\`: the lab's Lifeboat configuration.\n${stringify(labConfig())}`);
  await writeFile(
    labDrillConfigFile,
    `# Written by \`lifeboat lab up\`: lifeboat.yaml and the drill cluster, for the suites that break its etcd.\n${stringify(labDrillConfig())}`,
  );
  await mkdir(dirname(kwokConfigFile), { recursive: true });
  await writeFile(kwokConfigFile, kwokConfig);
  await prepareSshd({ stateDir: labSsh.dir, pidFile: labSsh.pidFile, port: labSsh.port });

  const clusterNames = allLabClusters.map((c) => c.name);
  for (const c of allLabClusters) await retireSingleEtcdMember(c);
  await startAll(
    ['temporal', 'codec-server', 'minio', 'sshd', 'toxiproxy', ...allLabClusters.flatMap((c) => etcdMembersOf(c).map((m) => m.daemon))].map(
      byName,
    ),
  );
  await ensureBucket();
  await ensureProxies(faultPaths);
  const added = await ensureSearchAttributes(`${host}:${temporalPorts.frontend}`, 'default');
  if (added.length) say(`temporal: search attributes ${added.join(', ')} registered`);
  await startAll(clusterNames.map((n) => byName(`kube-apiserver/${n}`)));
  await Promise.all(allLabClusters.map(bootstrapCluster));
  await startAll(
    clusterNames.flatMap((n) =>
      ['kube-controller-manager', 'kube-scheduler', 'kwok', 'velero'].flatMap((k) => labComponents.filter((x) => x.name === `${k}/${n}`)),
    ),
  );
  await Promise.all(
    allLabClusters.map(async (c) => {
      await waitFor(`${c.name} Nodes`, 60_000, () => nodesReady(c));
      say(
        `${c.name}: ${c.nodeCount} Nodes Ready${isSite(c) ? ', Velero BackupStorageLocation Available' : ' (the drill cluster: no Velero)'}`,
      );
    }),
  );
  // Created once: later `lab up`s leave the app where a failover moved it.
  await Promise.all(
    [shopApp.cluster, shopApp.verifyCluster].map(async (cluster) => {
      const exists = await kubectl(cluster, ['get', 'namespace', shopApp.namespace, '--ignore-not-found', '-o', 'name']);
      if (!exists.trim()) await apply(cluster, shopManifests(cluster !== shopApp.cluster));
    }),
  );
  // The node-failure example app, also created once: a replacement drill may have moved its Pods.
  const ledger = await kubectl(ledgerApp.cluster, ['get', 'namespace', ledgerApp.namespace, '--ignore-not-found', '-o', 'name']);
  if (!ledger.trim()) await apply(ledgerApp.cluster, ledgerManifests());
  for (const line of await ensureTrafficRecords(kubectl, labConfig())) say(line);
  // Lifeboat's ServiceAccount, its roles for what the configuration names, fresh token kubeconfigs.
  for (const r of await applyLabRbac(configSchema.parse(labDrillConfig())))
    say(`${r.cluster}: Lifeboat's ServiceAccount bound (${r.bindings} bindings), token kubeconfig ${r.kubeconfig}`);
  // The same configuration through the fault proxy (lab/faults.ts), after the token kubeconfigs it copies.
  await writeFile(
    labFaultsConfigFile,
    `# Written by \`lifeboat lab up\`: lifeboat.yaml with every path through the fault proxy (lab/faults.ts).\n${stringify(await faultsConfig(labConfig()))}`,
  );
  say(`toxiproxy: ${faultPaths.length} fault paths (lifeboat lab fault list); ${labFaultsConfigFile} goes through them`);
  // The site witnesses of the networkPartition runbook: each cluster's view of the other, in a Lease.
  await ensureWitnessCredentials();
  await startAll(witnessComponents);
  if (options.profile === 'cluster') await ensureTemporalCluster(installScript);
  if (options.withWorker) await startAll([workerComponent]);
  say(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)}s; state in ${labDir}`);
  return labStatus();
}

/**
 * The drill cluster's processes running and its Nodes Ready, as `lab up` leaves them, touching nothing
 * else: no configuration or kubeconfig rewritten, no other cluster's process started. For the suites of
 * the drill lane, which run beside the others (a whole `lab up` would rewrite files they read).
 */
export async function drillUp(): Promise<void> {
  const c = drillCluster;
  await startAll(etcdMembersOf(c).map((m) => byName(m.daemon)));
  await startAll([byName(`kube-apiserver/${c.name}`)]);
  await bootstrapCluster(c);
  await startAll(['kube-controller-manager', 'kube-scheduler', 'kwok'].map((k) => byName(`${k}/${c.name}`)));
  await waitFor(`${c.name} Nodes`, 60_000, () => nodesReady(c));
}

export interface DownOptions {
  /** Also delete the lab's data, certificates and logs. Default: false (data is kept). */
  wipe?: boolean;
}

export async function labDown(options: DownOptions = {}): Promise<string[]> {
  // Reverse start order: clients of a server stop before it.
  const stopped: string[] = [];
  for (const c of [workerComponent, ...labComponents, ...witnessComponents, ...clusterComponents].reverse()) {
    if (await stopDaemon(c.daemon.name)) stopped.push(c.name);
  }
  if (options.wipe && existsSync(labDir)) await rm(labDir, { recursive: true, force: true });
  return stopped;
}
