// The command lines of a scratch restore (etcdutl, etcd, kube-apiserver): one definition, for the
// restore verification activity and for the by-hand baseline `bench:verify` times it against.
//
// The scratch etcd holds a whole cluster's keyspace, Secrets included, so it never serves plain HTTP:
// its client and peer URLs are https on 127.0.0.1 with certificates made for the attempt
// (activities/scratch/pki.ts), and it accepts only clients whose certificate that attempt's CA signed.
// The scratch kube-apiserver likewise accepts only a client certificate from that CA.

/** Certificate files a TLS party reads: its trust anchor, its certificate and its key. */
export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A single-member scratch etcd: its member name, data directory, https loopback URLs and certificates. */
export interface ScratchEtcd {
  name: string;
  dataDir: string;
  clientUrl: string;
  peerUrl: string;
  tls: TlsFiles;
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

/** The scratch etcd itself: TLS with client certificates on both ports, quiet, and a quota no restored store outgrows. */
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
  '--cert-file',
  e.tls.certFile,
  '--key-file',
  e.tls.keyFile,
  '--trusted-ca-file',
  e.tls.caFile,
  '--client-cert-auth',
  '--peer-cert-file',
  e.tls.certFile,
  '--peer-key-file',
  e.tls.keyFile,
  '--peer-trusted-ca-file',
  e.tls.caFile,
  '--peer-client-cert-auth',
  '--log-level',
  'warn',
  '--quota-backend-bytes',
  String(8 * 1024 ** 3),
];

/** A scratch kube-apiserver over the scratch etcd, on loopback, answering only client certificates of the attempt's CA. */
export interface ScratchApiserver {
  etcdUrl: string;
  /** What the kube-apiserver presents to the scratch etcd, and the CA it trusts etcd by. */
  etcdTls: TlsFiles;
  port: number;
  /** Its serving certificate and key. */
  servingCertFile: string;
  servingKeyFile: string;
  /** The CA whose client certificates it accepts (the certificate's O is the group: `system:masters`). */
  clientCaFile: string;
  serviceAccountPublicKeyFile: string;
  serviceAccountSigningKeyFile: string;
  issuer: string;
  serviceClusterIPRange: string;
  encryptionConfigFile?: string;
}

export const scratchApiserverArgs = (a: ScratchApiserver): string[] => [
  '--etcd-servers',
  a.etcdUrl,
  '--etcd-cafile',
  a.etcdTls.caFile,
  '--etcd-certfile',
  a.etcdTls.certFile,
  '--etcd-keyfile',
  a.etcdTls.keyFile,
  '--bind-address',
  '127.0.0.1',
  '--secure-port',
  String(a.port),
  '--advertise-address',
  '127.0.0.1',
  '--tls-cert-file',
  a.servingCertFile,
  '--tls-private-key-file',
  a.servingKeyFile,
  '--client-ca-file',
  a.clientCaFile,
  '--anonymous-auth=false',
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
