// The command lines of a scratch restore (etcdutl, etcd, kube-apiserver): one definition, for the
// restore verification activity and for the by-hand baseline `bench:verify` times it against.

/** A single-member scratch etcd: its member name, data directory and loopback URLs. */
export interface ScratchEtcd {
  name: string;
  dataDir: string;
  clientUrl: string;
  peerUrl: string;
}

/** `etcdutl snapshot restore` of `dbFile` into the scratch member's data directory. */
export const etcdutlRestoreArgs = (dbFile: string, e: ScratchEtcd): string[] => [
  'snapshot',
  'restore',
  dbFile,
  '--data-dir',
  e.dataDir,
  '--name',
  e.name,
  '--initial-cluster',
  `${e.name}=${e.peerUrl}`,
  '--initial-advertise-peer-urls',
  e.peerUrl,
];

/** The scratch etcd itself: quiet, and a quota no restored store outgrows. */
export const scratchEtcdArgs = (e: ScratchEtcd): string[] => [
  '--name',
  e.name,
  '--data-dir',
  e.dataDir,
  '--listen-client-urls',
  e.clientUrl,
  '--advertise-client-urls',
  e.clientUrl,
  '--listen-peer-urls',
  e.peerUrl,
  '--initial-advertise-peer-urls',
  e.peerUrl,
  '--initial-cluster',
  `${e.name}=${e.peerUrl}`,
  '--log-level',
  'warn',
  '--quota-backend-bytes',
  String(8 * 1024 ** 3),
];

/** A scratch kube-apiserver over the scratch etcd, on loopback, answering one token. */
export interface ScratchApiserver {
  etcdUrl: string;
  port: number;
  certDir: string;
  tokenFile: string;
  serviceAccountPublicKeyFile: string;
  serviceAccountSigningKeyFile: string;
  issuer: string;
  serviceClusterIPRange: string;
  encryptionConfigFile?: string;
}

export const scratchApiserverArgs = (a: ScratchApiserver): string[] => [
  '--etcd-servers',
  a.etcdUrl,
  '--bind-address',
  '127.0.0.1',
  '--secure-port',
  String(a.port),
  '--advertise-address',
  '127.0.0.1',
  '--cert-dir',
  a.certDir,
  '--token-auth-file',
  a.tokenFile,
  '--authorization-mode',
  'RBAC',
  '--service-account-issuer',
  a.issuer,
  '--service-account-key-file',
  a.serviceAccountPublicKeyFile,
  '--service-account-signing-key-file',
  a.serviceAccountSigningKeyFile,
  '--service-cluster-ip-range',
  a.serviceClusterIPRange,
  // A scratch server answers a handful of reads: no watch cache to fill from a large store first.
  '--endpoint-reconciler-type',
  'none',
  '--watch-cache=false',
  '--profiling=false',
  '--v',
  '0',
  ...(a.encryptionConfigFile ? ['--encryption-provider-config', a.encryptionConfigFile] : []),
];
