// Lifeboat's configuration: a YAML file (optional) overlaid by environment variables, validated once
// at the edge (worker and CLI start). Errors name the file and line, or the variable, and what was expected.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label: lower-case letters, digits and dashes');
const file = z.string().min(1, 'a file path');

const count = (fallback: number) => z.number().int().min(0).default(fallback);

export const retentionSchema = z.object({
  /** Keep the newest N snapshots. Default: 3. */
  keepLast: count(3),
  /** Keep the newest snapshot of each of the last N days that have one. Default: 7. */
  daily: count(7),
  /** ... of each of the last N ISO weeks. Default: 4. */
  weekly: count(4),
  /** ... of each of the last N months. Default: 6. */
  monthly: count(6),
  /** Delete snapshots older than this many days, whatever the counts say. Default: none. */
  maxAgeDays: z.number().int().min(1).optional(),
}).strict();

const etcdSnapshotsSchema = z.object({
  /** A Temporal Schedule for this cluster's snapshots; absent: on demand only. */
  schedule: z.object({
    /** Cron expression (UTC), e.g. "0 *\/6 * * *". */
    cron: z.string().regex(/^(\S+\s+){4}\S+$/, 'a five-field cron expression'),
    /** Runs missed while Temporal was unavailable are caught up within this window. Default: 1h. */
    catchupWindow: z.string().regex(/^\d+[smhd]$/, 'a duration like 30m or 1h').default('1h'),
  }).strict().optional(),
  retention: retentionSchema.default({ keepLast: 3, daily: 7, weekly: 4, monthly: 6 }),
  /** Incomplete multipart uploads under this cluster's prefix older than this are aborted. Default: 24. */
  incompleteUploadMaxAgeHours: z.number().positive().default(24),
}).strict();

export const clusterSchema = z.object({
  /** The name runbooks and the CLI use for this cluster. */
  name,
  /** Path of a kubeconfig for this cluster. */
  kubeconfig: file,
  /** Context in that kubeconfig. Default: its current-context. */
  context: z.string().optional(),
  etcd: z.object({
    /** etcd client URLs (https). */
    endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1),
    caFile: file,
    certFile: file,
    keyFile: file,
  }).strict(),
  velero: z.object({
    /** Namespace Velero runs in. Default: velero. */
    namespace: z.string().default('velero'),
    /** BackupStorageLocation to use. Default: default. */
    storageLocation: z.string().default('default'),
  }).strict().default({ namespace: 'velero', storageLocation: 'default' }),
  etcdSnapshots: etcdSnapshotsSchema.default({ retention: { keepLast: 3, daily: 7, weekly: 4, monthly: 6 }, incompleteUploadMaxAgeHours: 24 }),
}).strict();

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key id of letters, digits, dot, dash or underscore');

/** Snapshot encryption keys. Each key's material (32 bytes, base64 or hex) is read from a file or an environment variable, never written in the configuration itself. */
export const encryptionSchema = z.object({
  /** Id of the key new snapshots are encrypted with; older ids stay configured to read old snapshots. */
  currentKeyId: keyId,
  keys: z.array(z.object({
    id: keyId,
    /** File holding the key. */
    file: file.optional(),
    /** Environment variable holding the key. */
    env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name').optional(),
  }).strict().refine((k) => (k.file === undefined) !== (k.env === undefined), 'exactly one of file or env')).min(1),
}).strict()
  .refine((e) => e.keys.some((k) => k.id === e.currentKeyId), { message: 'currentKeyId must be one of the configured keys', path: ['currentKeyId'] })
  .refine((e) => new Set(e.keys.map((k) => k.id)).size === e.keys.length, { message: 'key ids must be unique', path: ['keys'] });

export const configSchema = z.object({
  temporal: z.object({
    /** host:port of the Temporal frontend. Default: 127.0.0.1:7233. */
    address: z.string().regex(/^[^:\s]+:\d+$/, 'host:port').default('127.0.0.1:7233'),
    /** Default: default. */
    namespace: z.string().min(1).default('default'),
    /** Task queue the worker polls and the CLI starts runbooks on. Default: lifeboat. */
    taskQueue: z.string().min(1).default('lifeboat'),
    /** Temporal Cloud API key. Prefer LIFEBOAT_TEMPORAL_API_KEY to keep it out of files. */
    apiKey: z.string().min(1).optional(),
    /** mTLS to a self-hosted cluster or Temporal Cloud. Absent: plain TLS when apiKey is set, else no TLS. */
    tls: z.object({
      serverName: z.string().optional(),
      serverRootCaFile: file.optional(),
      clientCertFile: file.optional(),
      clientKeyFile: file.optional(),
    }).strict().optional(),
  }).strict().default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'lifeboat' }),
  objectStore: z.object({
    /** S3 endpoint URL; absent for AWS S3 itself. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** Default: us-east-1. */
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
    /** Path-style addressing, which MinIO needs. Default: false. */
    forcePathStyle: z.boolean().default(false),
    /** An AWS shared-credentials file; absent: the SDK's default chain (environment, profile, instance role). */
    credentialsFile: file.optional(),
  }).strict(),
  /** Required by runbooks that store snapshots; a worker without it refuses those runbooks. */
  encryption: encryptionSchema.optional(),
  clusters: z.array(clusterSchema).min(1, 'at least one cluster')
    .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'cluster names must be unique'),
  tools: z.object({
    /** Default: etcdctl on PATH. */
    etcdctl: z.string().default('etcdctl'),
    /** Default: etcdutl on PATH. */
    etcdutl: z.string().default('etcdutl'),
    /** Default: velero on PATH. */
    velero: z.string().default('velero'),
  }).strict().default({ etcdctl: 'etcdctl', etcdutl: 'etcdutl', velero: 'velero' }),
  metrics: z.object({
    /** Port of the worker's Prometheus endpoint on 127.0.0.1; 0 turns it off. Default: 9464. */
    port: z.number().int().min(0).max(65535).default(9464),
  }).strict().default({ port: 9464 }),
}).strict();

export type LifeboatConfig = z.infer<typeof configSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type EncryptionConfig = z.infer<typeof encryptionSchema>;
export type RetentionConfig = z.infer<typeof retentionSchema>;

/** A configuration that cannot be used: the message names each source, location and expectation. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid Lifeboat configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Path = (string | number)[];
type Raw = Record<string, unknown>;

interface Source {
  /** How to name where a value at `path` came from: file:line:col or an environment variable. */
  describe(path: Path): string;
}

const pathText = (path: PropertyKey[]) => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)';

/** Reads the YAML file, reporting syntax errors with their line and column. */
function readYaml(filePath: string): { raw: Raw; locate: (path: Path) => string | undefined } {
  const text = readFileSync(filePath, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => `${filePath}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: YAML syntax: ${e.message.split('\n')[0]}`));
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError([`${filePath}: expected a mapping at the top level`]);
  return {
    raw: value as Raw,
    locate: (path) => {
      // The deepest node that exists along the path: a missing key is reported at its parent.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        const offset = node?.range?.[0] ?? (n === 0 ? 0 : undefined);
        if (offset !== undefined && node) {
          const { line, col } = lineCounter.linePos(offset);
          return `${filePath}:${line}:${col}`;
        }
      }
      return undefined;
    },
  };
}

const setIn = (obj: Raw, path: string[], value: unknown) => {
  let cur = obj;
  for (const key of path.slice(0, -1)) cur = (cur[key] ??= {}) as Raw;
  cur[path[path.length - 1]!] = value;
};

/** Environment variables and where each lands in the configuration. */
const scalarEnv: [string, string[], (v: string) => unknown][] = [
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
  ['LIFEBOAT_METRICS_PORT', ['metrics', 'port'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
];

const clusterEnv: [string, string[], (v: string) => unknown][] = [
  ['KUBECONFIG', ['kubeconfig'], String],
  ['CONTEXT', ['context'], String],
  ['ETCD_ENDPOINTS', ['etcd', 'endpoints'], (v) => v.split(',').map((s) => s.trim()).filter(Boolean)],
  ['ETCD_CA_FILE', ['etcd', 'caFile'], String],
  ['ETCD_CERT_FILE', ['etcd', 'certFile'], String],
  ['ETCD_KEY_FILE', ['etcd', 'keyFile'], String],
  ['VELERO_NAMESPACE', ['velero', 'namespace'], String],
];

/** The configuration file to read: LIFEBOAT_CONFIG, else ./lifeboat.yaml, else none. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.LIFEBOAT_CONFIG) return isAbsolute(env.LIFEBOAT_CONFIG) ? env.LIFEBOAT_CONFIG : resolve(cwd, env.LIFEBOAT_CONFIG);
  const local = resolve(cwd, 'lifeboat.yaml');
  return existsSync(local) ? local : undefined;
}

/**
 * Loads and validates the configuration. Throws ConfigError naming every problem; nothing downstream
 * re-validates.
 */
export function loadConfig(options: { env?: NodeJS.ProcessEnv; file?: string; cwd?: string } = {}): LifeboatConfig {
  const env = options.env ?? process.env;
  const filePath = options.file ?? configFilePath(env, options.cwd);
  let raw: Raw = {};
  let locate: (path: Path) => string | undefined = () => undefined;
  if (filePath) {
    if (!existsSync(filePath)) {
      throw new ConfigError([`${filePath}: configuration file not found${env.LIFEBOAT_CONFIG ? ' (named by LIFEBOAT_CONFIG)' : ''}`]);
    }
    ({ raw, locate } = readYaml(filePath));
  }
  const fromEnv = new Map<string, string>();
  for (const [variable, path, parse] of scalarEnv) {
    const v = env[variable];
    if (v === undefined || v === '') continue;
    setIn(raw, path, parse(v));
    fromEnv.set(path.join('.'), variable);
  }
  if (env.LIFEBOAT_CLUSTERS) {
    const clusters = (Array.isArray(raw.clusters) ? raw.clusters : []) as Raw[];
    for (const clusterName of env.LIFEBOAT_CLUSTERS.split(',').map((s) => s.trim()).filter(Boolean)) {
      let index = clusters.findIndex((c) => c.name === clusterName);
      if (index < 0) index = clusters.push({ name: clusterName }) - 1;
      for (const [suffix, path, parse] of clusterEnv) {
        const variable = `LIFEBOAT_CLUSTER_${clusterName.toUpperCase().replace(/-/g, '_')}_${suffix}`;
        const v = env[variable];
        if (v === undefined || v === '') continue;
        setIn(clusters[index]!, path, parse(v));
        fromEnv.set(['clusters', index, ...path].join('.'), variable);
      }
    }
    raw.clusters = clusters;
  }
  const source: Source = {
    describe(path) {
      for (let n = path.length; n > 0; n--) {
        const variable = fromEnv.get(path.slice(0, n).join('.'));
        if (variable) return `environment variable ${variable}`;
      }
      return locate(path) ?? (filePath ? `${filePath}` : 'configuration (no file; set LIFEBOAT_CONFIG or the LIFEBOAT_* variables)');
    },
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => {
      const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
      return `${source.describe(path)}: ${pathText(issue.path)}: ${issue.message}`;
    }));
  }
  return parsed.data;
}

/** The named cluster, or a ConfigError listing the configured ones. */
export function clusterByName(config: LifeboatConfig, clusterName: string): ClusterConfig {
  const cluster = config.clusters.find((c) => c.name === clusterName);
  if (!cluster) throw new ConfigError([`unknown cluster '${clusterName}'; configured clusters: ${config.clusters.map((c) => c.name).join(', ')}`]);
  return cluster;
}
