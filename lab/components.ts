// Every process the lab runs: how to start it, its address, and how to tell it is healthy.
import { join } from 'node:path';
import {
  bin,
  clusterPaths,
  etcdMembersOf,
  host,
  kwokConfigFile,
  allLabClusters,
  isSite,
  type LabClusterSpec,
  minioData,
  minioPorts,
  objectStore,
  temporalDb,
  temporalPorts,
  awsCredentialsFile,
  labSsh,
} from './topology.js';
import type { DaemonSpec } from './processes.js';
import { httpProbe, type ProbeResult } from './probes.js';
import { kwokNodeSelector } from '../activities/node-provider/kwok.js';
import { sshBannerProbe, sshdDaemon } from './sshd.js';
import { codecServerComponent, uiCodecEndpointArgs } from './codec-server-component.js';
import { lifeboatSearchAttributes } from '../model/search-attributes.js';
import { toxiproxyComponent } from './toxiproxy-component.js';

export interface LabComponent {
  name: string;
  address: string;
  daemon: DaemonSpec;
  probe(): Promise<ProbeResult>;
  /** Starting this component waits until these are healthy. */
  after: string[];
}

const temporal: LabComponent = {
  name: 'temporal',
  address: `${host}:${temporalPorts.frontend} (ui http://${host}:${temporalPorts.ui})`,
  after: [],
  daemon: {
    name: 'temporal',
    command: bin.temporal,
    // A getter: the UI's codec endpoint carries the token `lab up` makes before starting Temporal.
    get args() {
      return [
        'server',
        'start-dev',
        '--ip',
        host,
        '--port',
        String(temporalPorts.frontend),
        '--ui-port',
        String(temporalPorts.ui),
        '--metrics-port',
        String(temporalPorts.metrics),
        '--db-filename',
        temporalDb,
        '--log-level',
        'warn',
        ...uiCodecEndpointArgs(),
        // Who started, approved and aborted a run, searchable (model/approvals.ts).
        ...lifeboatSearchAttributes.flatMap((a) => ['--search-attribute', `${a.name}=${a.type}`]),
      ];
    },
  },
  // The UI answers only once the frontend it proxies is serving; the CLI's own health check is the gRPC one.
  probe: async () => {
    const ui = await httpProbe(`http://${host}:${temporalPorts.ui}/api/v1/cluster-info`);
    return ui.ok ? { ok: true, detail: 'frontend and UI serving' } : ui;
  },
};

const minio: LabComponent = {
  name: 'minio',
  address: `http://${host}:${minioPorts.api}`,
  after: [],
  daemon: {
    name: 'minio',
    command: bin.minio,
    args: ['server', minioData, '--address', `${host}:${minioPorts.api}`, '--console-address', `${host}:${minioPorts.console}`, '--quiet'],
    env: { MINIO_ROOT_USER: objectStore.accessKeyId, MINIO_ROOT_PASSWORD: objectStore.secretAccessKey, MINIO_BROWSER: 'on' },
  },
  probe: () => httpProbe(`http://${host}:${minioPorts.api}/minio/health/ready`),
};

// A real OpenSSH server for the `commands` control-plane driver (lab/sshd.ts): it logs in as this user
// with the lab's client key only; `lab up` writes its keys and known_hosts first (prepareSshd).
const sshd: LabComponent = {
  name: 'sshd',
  address: `${host}:${labSsh.port}`,
  after: [],
  daemon: sshdDaemon('sshd', { stateDir: labSsh.dir, pidFile: labSsh.pidFile, port: labSsh.port }),
  probe: () => sshBannerProbe(labSsh.port),
};

function clusterComponents(c: LabClusterSpec): LabComponent[] {
  const p = clusterPaths(c.name);
  const apiserverUrl = `https://${host}:${c.apiserverPort}`;
  const adminTls = { caFile: p.caCert, certFile: join(p.pki, 'user-admin.crt'), keyFile: join(p.pki, 'user-admin.key') };
  const members = etcdMembersOf(c);
  const etcdTls = { caFile: p.caCert, certFile: p.lifeboatEtcdClientCert, keyFile: p.lifeboatEtcdClientKey };
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const etcds: LabComponent[] = members.map((m) => ({
    name: m.daemon,
    address: m.clientUrl,
    after: [],
    daemon: {
      name: m.daemon,
      command: bin.etcd,
      args: [
        '--name',
        m.name,
        '--data-dir',
        m.dataDir,
        '--listen-client-urls',
        m.clientUrl,
        '--advertise-client-urls',
        m.clientUrl,
        '--listen-peer-urls',
        m.peerUrl,
        '--initial-advertise-peer-urls',
        m.peerUrl,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        // Several members talk to each other over mutual TLS, with the serving certificate (it is for
        // client and server use, on loopback); a single member keeps its plain-HTTP peer port.
        ...(members.length > 1
          ? [
              '--initial-cluster-token',
              `lab-${c.name}`,
              '--peer-client-cert-auth',
              '--peer-trusted-ca-file',
              p.caCert,
              '--peer-cert-file',
              p.etcdServerCert,
              '--peer-key-file',
              p.etcdServerKey,
            ]
          : []),
        '--client-cert-auth',
        '--trusted-ca-file',
        p.caCert,
        '--cert-file',
        p.etcdServerCert,
        '--key-file',
        p.etcdServerKey,
        // Room for the snapshot benchmark's 1 GiB of scratch keys.
        '--quota-backend-bytes',
        String(8 * 1024 ** 3),
        // Raft snapshots (which purge old WAL files and trim the in-memory log) every 2000 entries,
        // not 100000: the lab is written to in bursts of 1 MiB values by tests and benchmarks.
        '--snapshot-count',
        '2000',
        '--log-level',
        'warn',
      ],
    },
    probe: () => httpProbe(`${m.clientUrl}/health`, etcdTls),
  }));
  const apiserverArgs = [
    '--etcd-servers',
    members.map((m) => m.clientUrl).join(','),
    '--etcd-cafile',
    p.caCert,
    '--etcd-certfile',
    p.apiserverEtcdClientCert,
    '--etcd-keyfile',
    p.apiserverEtcdClientKey,
    '--bind-address',
    host,
    '--secure-port',
    String(c.apiserverPort),
    '--advertise-address',
    host,
    '--tls-cert-file',
    p.apiserverCert,
    '--tls-private-key-file',
    p.apiserverKey,
    '--client-ca-file',
    p.caCert,
    '--service-account-key-file',
    p.serviceAccountPub,
    '--service-account-signing-key-file',
    p.serviceAccountKey,
    '--service-account-issuer',
    'https://kubernetes.default.svc.cluster.local',
    '--service-cluster-ip-range',
    '10.96.0.0/16',
    '--authorization-mode',
    'Node,RBAC',
    '--allow-privileged',
    // The loopback advertise address cannot back the `kubernetes` Service's endpoints.
    '--endpoint-reconciler-type',
    'none',
    '--profiling=false',
    '--v',
    '0',
  ];
  if (c.encryptSecrets) apiserverArgs.push('--encryption-provider-config', p.encryptionConfig);
  const apiserver: LabComponent = {
    name: `kube-apiserver/${c.name}`,
    address: apiserverUrl,
    // A quorum is enough to serve; `lab up` starts every member before the API server anyway.
    after: members.map((m) => m.daemon),
    daemon: { name: `kube-apiserver/${c.name}`, command: bin.kubeApiserver, args: apiserverArgs },
    probe: () => httpProbe(`${apiserverUrl}/readyz`, adminTls),
  };
  const controllerManager: LabComponent = {
    name: `kube-controller-manager/${c.name}`,
    address: `https://${host}:${c.controllerManagerPort}`,
    after: [`kube-apiserver/${c.name}`],
    daemon: {
      name: `kube-controller-manager/${c.name}`,
      command: bin.kubeControllerManager,
      args: [
        '--kubeconfig',
        p.kubeconfig('kube-controller-manager'),
        '--authentication-kubeconfig',
        p.kubeconfig('kube-controller-manager'),
        '--authorization-kubeconfig',
        p.kubeconfig('kube-controller-manager'),
        '--bind-address',
        host,
        '--secure-port',
        String(c.controllerManagerPort),
        '--service-account-private-key-file',
        p.serviceAccountKey,
        '--root-ca-file',
        p.caCert,
        '--use-service-account-credentials',
        '--leader-elect=false',
        // A Node whose kubelet stopped (lab/nodes.ts killNode) is marked Ready=Unknown and tainted
        // unreachable 20 s after its last Lease renewal, not 50 s: kwok renews every 10 s.
        '--node-monitor-grace-period',
        '20s',
        '--profiling=false',
        '--v',
        '0',
      ],
    },
    probe: () => httpProbe(`https://${host}:${c.controllerManagerPort}/healthz`, { insecure: true }),
  };
  const scheduler: LabComponent = {
    name: `kube-scheduler/${c.name}`,
    address: `https://${host}:${c.schedulerPort}`,
    after: [`kube-apiserver/${c.name}`],
    daemon: {
      name: `kube-scheduler/${c.name}`,
      command: bin.kubeScheduler,
      args: [
        '--kubeconfig',
        p.kubeconfig('kube-scheduler'),
        '--authentication-kubeconfig',
        p.kubeconfig('kube-scheduler'),
        '--authorization-kubeconfig',
        p.kubeconfig('kube-scheduler'),
        '--bind-address',
        host,
        '--secure-port',
        String(c.schedulerPort),
        '--leader-elect=false',
        '--profiling=false',
        '--v',
        '0',
      ],
    },
    probe: () => httpProbe(`https://${host}:${c.schedulerPort}/healthz`, { insecure: true }),
  };
  const kwok: LabComponent = {
    name: `kwok/${c.name}`,
    address: `http://${host}:${c.kwokPort}`,
    after: [`kube-apiserver/${c.name}`],
    daemon: {
      name: `kwok/${c.name}`,
      command: bin.kwok,
      args: [
        '--kubeconfig',
        p.kubeconfig('kwok'),
        // Every Node but those labelled lifeboat.io/lab-kubelet=stopped: setting the label is how a
        // kubelet dies in the lab (lab/nodes.ts), and the API server's watch tells kwok at once.
        `--manage-nodes-with-label-selector=${kwokNodeSelector}`,
        '--server-address',
        `${host}:${c.kwokPort}`,
        '--node-lease-duration-seconds',
        '40',
        // The CSI attach of the lab's static volumes (lab/volumes.ts).
        '--config',
        kwokConfigFile,
      ],
    },
    probe: () => httpProbe(`http://${host}:${c.kwokPort}/healthz`),
  };
  const velero: LabComponent = {
    name: `velero/${c.name}`,
    address: `http://${host}:${c.veleroMetricsPort}/metrics`,
    after: [`kube-apiserver/${c.name}`, 'minio'],
    daemon: {
      name: `velero/${c.name}`,
      command: bin.velero,
      args: [
        'server',
        '--kubeconfig',
        p.kubeconfig('velero'),
        '--namespace',
        'velero',
        '--plugin-dir',
        bin.veleroPluginDir,
        '--metrics-address',
        `${host}:${c.veleroMetricsPort}`,
        '--profiler-address',
        `${host}:${c.veleroProfilerPort}`,
        '--log-format',
        'json',
        // Backups another cluster wrote appear here (through its ReadOnly location) within seconds,
        // not Velero's default minute.
        '--backup-sync-period',
        '10s',
      ],
      env: { AWS_SHARED_CREDENTIALS_FILE: awsCredentialsFile, VELERO_CONTROLLER_RUNTIME_METRICS_ADDRESS: '0' },
    },
    // Serving is not enough: its BackupStorageLocation must be Available (Velero validates it each minute).
    probe: async () => {
      const metrics = await httpProbe(`http://${host}:${c.veleroMetricsPort}/metrics`);
      if (!metrics.ok) return metrics;
      const bsl = await httpProbe(`${apiserverUrl}/apis/velero.io/v1/namespaces/velero/backupstoragelocations/default`, adminTls);
      if (!bsl.ok) return { ok: false, detail: `serving; BackupStorageLocation: ${bsl.detail}` };
      const phase = (JSON.parse(bsl.body) as { status?: { phase?: string } }).status?.phase ?? 'not yet validated';
      return { ok: phase === 'Available', detail: `serving; BackupStorageLocation ${phase}` };
    },
  };
  // The drill cluster is no site: nothing is backed up from it with Velero.
  return [...etcds, apiserver, controllerManager, scheduler, kwok, ...(isSite(c) ? [velero] : [])];
}

export const labComponents: LabComponent[] = [
  temporal,
  codecServerComponent,
  minio,
  sshd,
  toxiproxyComponent,
  ...allLabClusters.flatMap(clusterComponents),
];

/** `--flag value` replaced (or appended) in an argument list. */
function withFlag(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  return i === -1 ? [...args, flag, value] : [...args.slice(0, i + 1), value, ...args.slice(i + 2)];
}

/**
 * A lab etcd member's process started to join an existing cluster: its lab command line with
 * `--initial-cluster-state existing` and the `--initial-cluster` a member add answered. Once its data dir
 * holds data etcd ignores both, so a later `lab up` with the lab's own flags changes nothing.
 */
export function joiningEtcdSpec(base: DaemonSpec, initialCluster: string): DaemonSpec {
  return { ...base, args: withFlag(withFlag(base.args, '--initial-cluster', initialCluster), '--initial-cluster-state', 'existing') };
}
