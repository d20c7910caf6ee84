// The environment variables that overlay the configuration file, and where each lands.

/** Environment variables and where each lands in the configuration. */
export const scalarEnv: [string, string[], (v: string) => unknown][] = [
  ['LIFEBOAT_TEMPORAL_ADDRESS', ['temporal', 'address'], String],
  ['LIFEBOAT_TEMPORAL_NAMESPACE', ['temporal', 'namespace'], String],
  ['LIFEBOAT_TEMPORAL_TASK_QUEUE', ['temporal', 'taskQueue'], String],
  ['LIFEBOAT_TEMPORAL_API_KEY', ['temporal', 'apiKey'], String],
  ['LIFEBOAT_S3_ENDPOINT', ['objectStore', 'endpoint'], String],
  ['LIFEBOAT_S3_REGION', ['objectStore', 'region'], String],
  ['LIFEBOAT_S3_BUCKET', ['objectStore', 'bucket'], String],
  ['LIFEBOAT_S3_FORCE_PATH_STYLE', ['objectStore', 'forcePathStyle'], (v) => (v === 'true' ? true : v === 'false' ? false : v)],
  ['LIFEBOAT_ETCDCTL', ['tools', 'etcdctl'], String],
  ['LIFEBOAT_ETCDUTL', ['tools', 'etcdutl'], String],
  ['LIFEBOAT_VELERO', ['tools', 'velero'], String],
  ['LIFEBOAT_ETCD', ['tools', 'etcd'], String],
  ['LIFEBOAT_KUBE_APISERVER', ['tools', 'kubeApiserver'], String],
  ['LIFEBOAT_SCRATCH_DIR', ['verification', 'scratchDir'], String],
  ['LIFEBOAT_RUNBOOKS_DIR', ['runbooks', 'dir'], String],
  ['LIFEBOAT_METRICS_HOST', ['metrics', 'host'], String],
  ['LIFEBOAT_METRICS_PORT', ['metrics', 'port'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
  ['LIFEBOAT_METRICS_RUNTIME_PORT', ['metrics', 'runtimePort'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
];

export const clusterEnv: [string, string[], (v: string) => unknown][] = [
  ['KUBECONFIG', ['kubeconfig'], String],
  ['CONTEXT', ['context'], String],
  [
    'ETCD_ENDPOINTS',
    ['etcd', 'endpoints'],
    (v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
  ],
  ['ETCD_CA_FILE', ['etcd', 'caFile'], String],
  ['ETCD_CERT_FILE', ['etcd', 'certFile'], String],
  ['ETCD_KEY_FILE', ['etcd', 'keyFile'], String],
  ['VELERO_NAMESPACE', ['velero', 'namespace'], String],
];
