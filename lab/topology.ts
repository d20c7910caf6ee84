// The lab's fixed layout: every address and path it uses, in one place.
import { homedir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { kwokVolumeAttachStage } from './volumes.js';

/** Where built tools are cached (shared with lab/install-tools.sh). */
export const cacheDir = process.env.LIFEBOAT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lifeboat');
/** Where the lab keeps its state: certificates, data, PID files, logs. Survives `lab down`; `--wipe` removes it. */
export const labDir =
  process.env.LIFEBOAT_LAB_DIR ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'lifeboat', 'lab');

export const host = '127.0.0.1';

export interface LabClusterSpec {
  name: 'primary' | 'standby' | 'drill';
  etcdClientPort: number;
  etcdPeerPort: number;
  apiserverPort: number;
  controllerManagerPort: number;
  schedulerPort: number;
  kwokPort: number;
  veleroMetricsPort: number;
  veleroProfilerPort: number;
  /** Encrypt Secrets at rest with aescbc, as a production cluster should. */
  encryptSecrets: boolean;
  nodeCount: number;
  /**
   * etcd members. One: a member named after the cluster (`etcd/<cluster>`, plain-HTTP peer port).
   * More: `etcd/<cluster>-<i>`, each with its own data dir and ports (client and peer port + 2i), peers
   * over mutual TLS, so leader loss, member loss and quorum loss are real.
   */
  etcdMembers: number;
}

export const labClusters: readonly LabClusterSpec[] = [
  {
    name: 'primary',
    etcdClientPort: 12379,
    etcdPeerPort: 12380,
    apiserverPort: 16443,
    controllerManagerPort: 10257,
    schedulerPort: 10259,
    kwokPort: 10247,
    veleroMetricsPort: 18085,
    veleroProfilerPort: 16060,
    encryptSecrets: true,
    nodeCount: 3,
    etcdMembers: 3,
  },
  {
    name: 'standby',
    etcdClientPort: 22379,
    etcdPeerPort: 22380,
    apiserverPort: 26443,
    controllerManagerPort: 20257,
    schedulerPort: 20259,
    kwokPort: 20247,
    veleroMetricsPort: 28085,
    veleroProfilerPort: 26060,
    encryptSecrets: false,
    nodeCount: 3,
    etcdMembers: 1,
  },
];

/**
 * A third control plane the suites that break etcd on purpose (test/run.sh's drill lane) use instead of
 * the primary, so they run beside the suites that need a healthy one. Not a site: no Velero, no witness,
 * no fault paths, not in lifeboat.yaml (tests read lifeboat-drill.yaml: lifeboat.yaml and this cluster).
 */
export const drillCluster: LabClusterSpec = {
  name: 'drill',
  etcdClientPort: 14379,
  etcdPeerPort: 14380,
  apiserverPort: 14443,
  controllerManagerPort: 14257,
  schedulerPort: 14259,
  kwokPort: 14247,
  veleroMetricsPort: 0,
  veleroProfilerPort: 0,
  encryptSecrets: true,
  nodeCount: 3,
  etcdMembers: 3,
};
/** Every control plane the lab runs: the two sites, then the drill cluster. */
export const allLabClusters: readonly LabClusterSpec[] = [...labClusters, drillCluster];
export const isSite = (c: LabClusterSpec) => c !== drillCluster;

export const temporalPorts = { frontend: 7233, ui: 8233, metrics: 7235 } as const;
export const minioPorts = { api: 9000, console: 9001 } as const;

/** The lab's MinIO account and bucket. Lab-only credentials; a real store's come from its own secret. */
export const objectStore = {
  bucket: 'lifeboat',
  region: 'minio',
  accessKeyId: 'lifeboat',
  secretAccessKey: 'lifeboat-lab-secret',
} as const;

export const versions = {
  temporal: '1.9.1',
  temporalTestServer: '1.40.0',
  kubernetes: '1.33.4',
  etcd: '3.5.21',
  kwok: '0.7.0',
  minio: 'v0.0.0-20260212201848-7aac2a2c5b7c',
  velero: '1.18.0',
  veleroAwsPlugin: '1.14.3',
  externalDns: '0.23.0',
  /** Debian bookworm's openssh-server package (epoch `1:` left out), with libwrap0 and libnss-wrapper beside it. */
  opensshServer: '9.2p1-2+deb12u10',
  /** Debian bookworm's prometheus-alertmanager (0.25.0-1+b4), for the notification tests only: not a lab process. */
  alertmanager: '0.25.0',
  /** `lab up --profile cluster`: the Temporal server built from go.temporal.io/server, on Debian's PostgreSQL. */
  temporalServer: '1.32.1',
  postgresql: '15.20-0+deb12u1',
  /** Debian bookworm's prometheus package (`+ds-5+deb12u1` left out): the alert tests' Prometheus and promtool. */
  prometheus: '2.42.0',
  /** The fault proxy every path of `lifeboat-faults.yaml` goes through (lab/faults.ts). */
  toxiproxy: '2.5.0',
} as const;

const tool = (name: string, version: string) => join(cacheDir, 'tools', `${name}-${version}`);

export const bin = {
  temporal: join(tool('temporal', versions.temporal), 'bin', 'temporal'),
  /** The time-skipping test server, for workflow-logic tests only (test/helpers/time-skipping.ts). */
  temporalTestServer: join(tool('temporal-test-server', versions.temporalTestServer), 'bin', 'temporal-test-server'),
  etcd: join(tool('etcd', versions.etcd), 'bin', 'etcd'),
  etcdctl: join(tool('etcd', versions.etcd), 'bin', 'etcdctl'),
  etcdutl: join(tool('etcd', versions.etcd), 'bin', 'etcdutl'),
  kubeApiserver: join(tool('kubernetes', versions.kubernetes), 'bin', 'kube-apiserver'),
  kubeControllerManager: join(tool('kubernetes', versions.kubernetes), 'bin', 'kube-controller-manager'),
  kubeScheduler: join(tool('kubernetes', versions.kubernetes), 'bin', 'kube-scheduler'),
  kubectl: join(tool('kubernetes', versions.kubernetes), 'bin', 'kubectl'),
  kwok: join(tool('kwok', versions.kwok), 'bin', 'kwok'),
  minio: join(tool('minio', versions.minio), 'bin', 'minio'),
  velero: join(tool('velero', `${versions.velero}-aws-${versions.veleroAwsPlugin}-lb1`), 'bin', 'velero'),
  veleroPluginDir: join(tool('velero', `${versions.velero}-aws-${versions.veleroAwsPlugin}-lb1`), 'plugins'),
  /** Debian's sshd, extracted (not installed) by lab/install-tools.sh; it runs with `sshdLibDir` on its library path. */
  sshd: join(tool('openssh-server', versions.opensshServer), 'root', 'usr', 'sbin', 'sshd'),
  /** libwrap.so.0 (which this machine lacks) and libnss_wrapper.so, for the lab's sshd. */
  sshdLibDir: join(tool('openssh-server', versions.opensshServer), 'libs'),
  /** Debian's Alertmanager, extracted by `install-tools.sh alertmanager`; the wrapper gives it the package's templates. */
  alertmanager: join(tool('alertmanager', versions.alertmanager), 'bin', 'alertmanager'),
  temporalServer: join(tool('temporal-server', versions.temporalServer), 'bin', 'temporal-server'),
  temporalSqlTool: join(tool('temporal-server', versions.temporalServer), 'bin', 'temporal-sql-tool'),
  /** Debian's PostgreSQL binaries (postgres, initdb, psql), extracted; they run with `postgresqlLibDir` on their library path. */
  postgresqlBinDir: join(tool('postgresql', versions.postgresql), 'bin'),
  postgresqlLibDir: join(tool('postgresql', versions.postgresql), 'libs'),
  /** Debian's Prometheus and promtool, extracted (not installed) by lab/install-tools.sh. */
  prometheus: join(tool('prometheus', versions.prometheus), 'bin', 'prometheus'),
  promtool: join(tool('prometheus', versions.prometheus), 'bin', 'promtool'),
  toxiproxyServer: join(tool('toxiproxy', versions.toxiproxy), 'bin', 'toxiproxy-server'),
  toxiproxyCli: join(tool('toxiproxy', versions.toxiproxy), 'bin', 'toxiproxy-cli'),
} as const;

/** CustomResourceDefinitions the lab applies to every cluster, taken from their projects' modules. */
export const crdFiles = {
  dnsEndpoint: join(tool('external-dns', versions.externalDns), 'crds', 'dnsendpoints.externaldns.k8s.io.yaml'),
} as const;

/** Paths of one cluster's files inside the lab directory. */
export const clusterPaths = (cluster: string) => {
  const dir = join(labDir, 'clusters', cluster);
  const pki = join(dir, 'pki');
  return {
    dir,
    pki,
    /** A single member's data dir. */
    etcdData: join(dir, 'etcd-data'),
    /** Each member's data dir, when there are several: `<this>/<member name>`. */
    etcdMembersDir: join(dir, 'etcd-members'),
    caCert: join(pki, 'ca.crt'),
    caKey: join(pki, 'ca.key'),
    etcdServerCert: join(pki, 'etcd-server.crt'),
    etcdServerKey: join(pki, 'etcd-server.key'),
    apiserverEtcdClientCert: join(pki, 'apiserver-etcd-client.crt'),
    apiserverEtcdClientKey: join(pki, 'apiserver-etcd-client.key'),
    lifeboatEtcdClientCert: join(pki, 'lifeboat-etcd-client.crt'),
    lifeboatEtcdClientKey: join(pki, 'lifeboat-etcd-client.key'),
    apiserverCert: join(pki, 'apiserver.crt'),
    apiserverKey: join(pki, 'apiserver.key'),
    serviceAccountKey: join(pki, 'sa.key'),
    serviceAccountPub: join(pki, 'sa.pub'),
    encryptionConfig: join(pki, 'encryption-config.yaml'),
    kubeconfig: (user: string) => join(dir, `${user}.kubeconfig`),
    veleroCredentials: join(dir, 'velero-credentials'),
  };
};

/** One etcd member of a lab cluster: its name (etcd's `--name`), lab process, ports and data dir. */
export interface LabEtcdMember {
  name: string;
  /** The lab's process name: `etcd/<cluster>` for a single member, `etcd/<cluster>-<i>` for one of several. */
  daemon: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/** The cluster's etcd members, in order (see LabClusterSpec.etcdMembers). */
export function etcdMembersOf(c: LabClusterSpec): LabEtcdMember[] {
  const p = clusterPaths(c.name);
  if (c.etcdMembers === 1)
    return [
      {
        name: c.name,
        daemon: `etcd/${c.name}`,
        clientUrl: `https://${host}:${c.etcdClientPort}`,
        peerUrl: `http://${host}:${c.etcdPeerPort}`,
        dataDir: p.etcdData,
      },
    ];
  return Array.from({ length: c.etcdMembers }, (_, i) => ({
    name: `${c.name}-${i}`,
    daemon: `etcd/${c.name}-${i}`,
    clientUrl: `https://${host}:${c.etcdClientPort + 2 * i}`,
    peerUrl: `https://${host}:${c.etcdPeerPort + 2 * i}`,
    dataDir: join(p.etcdMembersDir, `${c.name}-${i}`),
  }));
}

export const runDir = join(labDir, 'run');
export const logDir = join(labDir, 'logs');
export const temporalDb = join(labDir, 'temporal', 'temporal.db');
export const minioData = join(labDir, 'minio', 'data');
/** kwok's configuration: the lab's extra Stages (lab/volumes.ts), beside kwok's default Node and Pod ones. */
export const kwokConfig = stringify(kwokVolumeAttachStage);
/** Named after its content: kwok's command line changes with it, so `lab up` restarts kwok when it does. */
export const kwokConfigFile = join(labDir, 'kwok', `stages-${createHash('sha256').update(kwokConfig).digest('hex').slice(0, 12)}.yaml`);
/** The worker/CLI config the lab writes for itself. */
/** The lab's Lifeboat configuration; LIFEBOAT_LAB_CONFIG names another (a copy with other credentials, say) for the tests and the CLI. */
export const labConfigFile = process.env.LIFEBOAT_LAB_CONFIG ?? join(labDir, 'lifeboat.yaml');
/** The same configuration with every path Lifeboat uses going through the lab's fault proxy (lab/faults.ts). */
/** lifeboat.yaml with the drill cluster too (see drillCluster), for the suites of the drill lane. */
export const labDrillConfigFile = join(labDir, 'lifeboat-drill.yaml');
export const labFaultsConfigFile = join(labDir, 'lifeboat-faults.yaml');
/** Toxiproxy's HTTP API on 127.0.0.1; each proxied path listens on a port of its own (faultPaths in lab/faults.ts). */
export const toxiproxyPort = 30474;
export const awsCredentialsFile = join(labDir, 'minio', 'credentials');
/** The lab's snapshot encryption key (generated once; a real deployment brings its own). */
export const labKeyId = 'lab-1';
export const labKeyFile = join(labDir, 'keys', `${labKeyId}.key`);

/** The lab's sshd port on 127.0.0.1: the `commands` control-plane driver's SSH tests and examples log in here. */
export const sshdPort = 12222;
/** The files of an sshd run by lab/sshd.ts, in its state directory: the lab's own (sshdDir) or a test's. */
export const sshdFiles = (dir: string) => ({
  dir,
  config: join(dir, 'sshd_config'),
  hostKey: join(dir, 'ssh_host_ed25519_key'),
  /** The client key the sshd accepts (AuthorizedKeysFile is its .pub): `ssh.identityFile`. */
  identityFile: join(dir, 'client_ed25519'),
  /** `[127.0.0.1]:<port> <host key>`: `ssh.knownHostsFile`. */
  knownHostsFile: join(dir, 'known_hosts'),
  /** passwd and group files for nss_wrapper: the privilege-separation user `sshd` without touching /etc/passwd. */
  passwd: join(dir, 'passwd'),
  group: join(dir, 'group'),
});
export const sshdDir = join(labDir, 'sshd');
/** The lab sshd's files: the identity and known_hosts a `commands` driver configuration names. */
export const labSsh = { ...sshdFiles(sshdDir), port: sshdPort, pidFile: join(runDir, 'sshd.sshd-pid') };
