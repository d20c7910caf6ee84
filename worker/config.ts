// Lifeboat's configuration: a YAML file (optional) overlaid by environment variables, validated once
// at the edge (worker and CLI start). Errors name the file and line, or the variable, and what was expected.
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Cron } from 'croner';
import { isMap, isScalar, LineCounter, parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label: lower-case letters, digits and dashes');
const file = z.string().min(1, 'a file path');

const count = (fallback: number) => z.number().int().min(0).default(fallback);

const durationUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
/** Seconds in a duration like 90s, 15m, 4h or 30d (already checked against /^\d+[smhd]$/). */
export const durationSeconds = (v: string) => Number(v.slice(0, -1)) * durationUnits[v.slice(-1)]!;
/** A duration like 90s, 15m, 4h or 30d, read as seconds. */
const duration = z
  .string()
  .regex(/^\d+[smhd]$/, 'a duration like 90s, 15m, 4h or 30d')
  .transform(durationSeconds);

const cronNicknames = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];
const cronFields = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const cronNames: Record<number, string[]> = {
  3: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
  4: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
};

/**
 * Why Temporal would refuse `expression`, or run it otherwise than it reads, or never run it; undefined
 * when it is fine. Temporal's cron: five fields (a sixth and seventh, year and seconds, are not taken
 * here), each `*`, a value, `a-b`, `a/n`, `*\/n`, `a-b/n` or a list of those; day-of-month AND
 * day-of-week must both match; days of week 0-7 (0 and 7 are Sunday); lower-case nicknames. croner,
 * in 5-part mode with day-of-month AND day-of-week, reads the same; what croner knows beyond that
 * (`L`, `W`, `#`, `?`, upper-case nicknames) Temporal refuses or ignores, so it is refused first.
 */
export function cronProblem(expression: string): string | undefined {
  const text = expression.trim();
  if (text.startsWith('@')) {
    if (!cronNicknames.includes(text)) return `'${text}' is not one of ${cronNicknames.join(', ')}`;
  } else {
    const fields = text.split(/\s+/);
    if (fields.length !== 5) return `has ${fields.length} field${fields.length === 1 ? '' : 's'}, not 5`;
    for (const [i, field] of fields.entries()) {
      const names = cronNames[i] ?? [];
      const bad = field.match(/[^0-9*,/-]+/g)?.find((token) => !names.includes(token.toLowerCase()));
      if (bad !== undefined)
        return `${cronFields[i]} '${field}': '${bad}' is not a number${names.length ? ` or a name (${names[0]}-${names.at(-1)})` : ''}`;
    }
  }
  let cron: Cron;
  try {
    cron = new Cron(text, { mode: '5-part', domAndDow: true, sloppyRanges: true, timezone: 'UTC' });
  } catch (err) {
    const message = (err as Error).message.replace(/^CronPattern: /, '');
    return `${message[0]!.toLowerCase()}${message.slice(1).replace(/\.$/, '')}`;
  }
  return cron.nextRun() ? undefined : 'never fires: no date matches every field';
}

/** A cron expression as Temporal Schedules read it, in UTC. */
const cronExpression = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) {
    ctx.addIssue({
      code: 'custom',
      message: `'${value}': ${problem}; expected five fields (minute hour day-of-month month day-of-week, in UTC) like '0 */6 * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly`,
    });
  }
});

/** Recovery objectives a game day measures against: RTO (start to verified) and RPO (age of the backup used). */
export const objectivesSchema = z
  .object({
    /** Recovery time objective. Default: 30m. */
    rto: duration.default(1800),
    /** Recovery point objective. Default: 24h. */
    rpo: duration.default(86400),
  })
  .strict();

/** An object restore verification must find. Secrets and ConfigMaps are also compared by data hash. */
export const objectRefSchema = z
  .object({
    resource: z.enum(['namespaces', 'deployments', 'secrets', 'configmaps', 'services', 'serviceaccounts']),
    /** Absent for namespaces. */
    namespace: name.optional(),
    name: z.string().min(1),
  })
  .strict()
  .refine(
    (o) => (o.resource === 'namespaces') === (o.namespace === undefined),
    'namespace is required for namespaced resources and absent for namespaces',
  );

export const retentionSchema = z
  .object({
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
  })
  .strict();

const etcdSnapshotsSchema = z
  .object({
    /** A Temporal Schedule for this cluster's snapshots; absent: on demand only. */
    schedule: z
      .object({
        /**
         * Cron expression in UTC, as Temporal reads it: five fields (minute hour day-of-month month
         * day-of-week; names like jan or mon; a day matches when day-of-month AND day-of-week do), e.g.
         * "0 *\/6 * * *", or @hourly, @daily, @weekly, @monthly, @yearly.
         */
        cron: cronExpression,
        /** Runs missed while Temporal was unavailable are caught up within this window. Default: 1h. */
        catchupWindow: z
          .string()
          .regex(/^\d+[smhd]$/, 'a duration like 30m or 1h')
          .default('1h'),
      })
      .strict()
      .optional(),
    retention: retentionSchema.default({ keepLast: 3, daily: 7, weekly: 4, monthly: 6 }),
    /** Incomplete multipart uploads under this cluster's prefix older than this are aborted. Default: 24. */
    incompleteUploadMaxAgeHours: z.number().positive().default(24),
  })
  .strict();

export const clusterSchema = z
  .object({
    /** The name runbooks and the CLI use for this cluster. */
    name,
    /** Path of a kubeconfig for this cluster. */
    kubeconfig: file,
    /** Context in that kubeconfig. Default: its current-context. */
    context: z.string().optional(),
    etcd: z
      .object({
        /** etcd client URLs (https). */
        endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1),
        caFile: file,
        certFile: file,
        keyFile: file,
      })
      .strict(),
    velero: z
      .object({
        /** Namespace Velero runs in. Default: velero. */
        namespace: z.string().default('velero'),
        /** BackupStorageLocation to use. Default: default. */
        storageLocation: z.string().default('default'),
        /**
         * BackupStorageLocations on this cluster (ReadOnly) that hold other clusters' backups, by source
         * cluster name: what lets a backup of `primary` be restored here. Default: none.
         */
        restoreFrom: z.record(name, z.string().min(1)).default({}),
        /** How long a Backup or Restore may take before the runbook fails it. Default: 30m. */
        timeout: duration.default(1800),
      })
      .strict()
      .default({ namespace: 'velero', storageLocation: 'default', restoreFrom: {}, timeout: 1800 }),
    etcdSnapshots: etcdSnapshotsSchema.default({
      retention: { keepLast: 3, daily: 7, weekly: 4, monthly: 6 },
      incompleteUploadMaxAgeHours: 24,
    }),
    restoreVerification: z
      .object({
        /**
         * The EncryptionConfiguration this cluster's kube-apiserver uses, given to the scratch API server so
         * that Secrets encrypted at rest read back. Absent: the cluster stores Secrets in clear.
         */
        encryptionConfigFile: file.optional(),
        /** The cluster's Service IP range, given to the scratch API server. Default: 10.96.0.0/12 (kubeadm's). */
        serviceClusterIPRange: z
          .string()
          .regex(/^[0-9a-f.:]+\/\d+$/, 'a CIDR like 10.96.0.0/12')
          .default('10.96.0.0/12'),
        /** Objects a restored snapshot must hold. Default: the kube-system namespace. */
        objects: z.array(objectRefSchema).default([{ resource: 'namespaces', name: 'kube-system' }]),
        objectives: objectivesSchema.default({ rto: 1800, rpo: 86400 }),
      })
      .strict()
      .default({
        serviceClusterIPRange: '10.96.0.0/12',
        objects: [{ resource: 'namespaces', name: 'kube-system' }],
        objectives: { rto: 1800, rpo: 86400 },
      }),
  })
  .strict();

/** A check run against an app restored into a scratch namespace, beyond its Deployments becoming Available. */
export const appCheckSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('readyReplicas'),
      /** Namespace in the source cluster (mapped to the scratch one). */
      namespace: name,
      deployment: name,
      /** Default: the Deployment's spec.replicas. */
      min: z.number().int().min(0).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('configMapHash'),
      namespace: name,
      name,
    })
    .strict(),
]);

/** How traffic reaches an app: where a failover points it. */
export const trafficSchema = z.discriminatedUnion('provider', [
  z
    .object({
      /** An ExternalDNS DNSEndpoint (externaldns.k8s.io/v1alpha1) that ExternalDNS publishes. */
      provider: z.literal('externalDNS'),
      /** Cluster holding the DNSEndpoint: one that outlives either site (a management cluster). */
      cluster: name,
      namespace: name,
      name,
      /** The record's name, e.g. shop.example.com. */
      dnsName: z.string().regex(/^[a-z0-9*]([a-z0-9.-]*[a-z0-9])?$/, 'a DNS name'),
      /** Default: A. */
      recordType: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
      /** Default: 60. */
      recordTTL: z.number().int().positive().default(60),
      /** The record's targets when each cluster serves, by cluster name. */
      targets: z.record(name, z.array(z.string().min(1)).min(1)),
    })
    .strict(),
  z
    .object({
      /** A generic webhook: POST of the decision (JSON) with an Idempotency-Key header, retried. */
      provider: z.literal('webhook'),
      url: z.url({ protocol: /^https?$/ }),
      /** Environment variable holding a bearer token for the webhook; never in this file. */
      tokenEnv: z
        .string()
        .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
        .optional(),
      /** Where GET returns {"cluster": "<name>"}: what verification reads. Absent: the POST's acknowledgement is trusted. */
      statusUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Per request. Default: 10s. */
      timeout: duration.default(10),
      /** Attempts before the switch counts as failed. Default: 5. */
      attempts: z.number().int().min(1).max(20).default(5),
    })
    .strict(),
]);

/** How an app fails over from its cluster to a standby and back. */
export const failoverSchema = z
  .object({
    /** The cluster that takes over. */
    standby: name,
    /**
     * warm-standby: the app's manifests are already on the standby at zero replicas and are scaled up;
     * restore: the newest Velero backup of the app's namespaces is restored into the standby.
     */
    mode: z.enum(['warm-standby', 'restore']),
    /** The Deployments that matter. Default: every Deployment in the app's namespaces. */
    workloads: z.array(z.object({ namespace: name, name }).strict()).optional(),
    traffic: trafficSchema,
    /** How long a failover waits for its approval. Default: 30m. */
    approvalTimeout: duration.default(1800),
    /** How long the app may take to become Available on the target. Default: 10m. */
    availableTimeout: duration.default(600),
    /**
     * After a forced failover (the source's API unreachable, so never fenced): how long the run keeps
     * watching the source, to fence it as soon as its API answers. Default: 24h.
     */
    returnWatch: duration.default(86400),
  })
  .strict();

/** An application: what a Velero backup of it holds and how a restore of it is proven. */
export const appSchema = z
  .object({
    name,
    /** Cluster the app runs on (the source of its backups). */
    cluster: name,
    namespaces: z.array(name).min(1),
    backup: z
      .object({
        includeResources: z.array(z.string().min(1)).optional(),
        excludeResources: z.array(z.string().min(1)).optional(),
        /** Only objects with these labels. */
        labelSelector: z.record(z.string(), z.string()).optional(),
        /** How long Velero keeps the backup. Default: 720h. */
        ttl: z
          .string()
          .regex(/^\d+h(\d+m)?(\d+s)?$/, 'a Go duration in hours, like 720h')
          .default('720h'),
      })
      .strict()
      .default({ ttl: '720h' }),
    verify: z
      .object({
        /** Cluster a test restore goes into (never the source). */
        cluster: name,
        checks: z.array(appCheckSchema).default([]),
        /** How long the restored Deployments may take to become Available. Default: 5m. */
        availableTimeout: duration.default(300),
      })
      .strict(),
    objectives: objectivesSchema.default({ rto: 1800, rpo: 86400 }),
    /** Absent: the app cannot be failed over. */
    failover: failoverSchema.optional(),
  })
  .strict();

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key id of letters, digits, dot, dash or underscore');

/** Snapshot encryption keys. Each key's material (32 bytes, base64 or hex) is read from a file or an environment variable, never written in the configuration itself. */
export const encryptionSchema = z
  .object({
    /** Id of the key new snapshots are encrypted with; older ids stay configured to read old snapshots. */
    currentKeyId: keyId,
    keys: z
      .array(
        z
          .object({
            id: keyId,
            /** File holding the key. */
            file: file.optional(),
            /** Environment variable holding the key. */
            env: z
              .string()
              .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
              .optional(),
          })
          .strict()
          .refine((k) => (k.file === undefined) !== (k.env === undefined), 'exactly one of file or env'),
      )
      .min(1),
  })
  .strict()
  .refine((e) => e.keys.some((k) => k.id === e.currentKeyId), {
    message: 'currentKeyId must be one of the configured keys',
    path: ['currentKeyId'],
  })
  .refine((e) => new Set(e.keys.map((k) => k.id)).size === e.keys.length, { message: 'key ids must be unique', path: ['keys'] });

export const configSchema = z
  .object({
    temporal: z
      .object({
        /** host:port of the Temporal frontend. Default: 127.0.0.1:7233. */
        address: z
          .string()
          .regex(/^[^:\s]+:\d+$/, 'host:port')
          .default('127.0.0.1:7233'),
        /** Default: default. */
        namespace: z.string().min(1).default('default'),
        /** The Temporal Web UI's URL, for links the CLI prints. Default: none. */
        ui: z.url({ protocol: /^https?$/ }).optional(),
        /** Task queue the worker polls and the CLI starts runbooks on. Default: lifeboat. */
        taskQueue: z.string().min(1).default('lifeboat'),
        /** Temporal Cloud API key. Prefer LIFEBOAT_TEMPORAL_API_KEY to keep it out of files. */
        apiKey: z.string().min(1).optional(),
        /** mTLS to a self-hosted cluster or Temporal Cloud. Absent: plain TLS when apiKey is set, else no TLS. */
        tls: z
          .object({
            serverName: z.string().optional(),
            serverRootCaFile: file.optional(),
            clientCertFile: file.optional(),
            clientKeyFile: file.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'lifeboat' }),
    objectStore: z
      .object({
        /** S3 endpoint URL; absent for AWS S3 itself. */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        /** Default: us-east-1. */
        region: z.string().min(1).default('us-east-1'),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name'),
        /** Path-style addressing, which MinIO needs. Default: false. */
        forcePathStyle: z.boolean().default(false),
        /** An AWS shared-credentials file; absent: the SDK's default chain (environment, profile, instance role). */
        credentialsFile: file.optional(),
      })
      .strict(),
    /** Required by runbooks that store snapshots; a worker without it refuses those runbooks. */
    encryption: encryptionSchema.optional(),
    clusters: z
      .array(clusterSchema)
      .min(1, 'at least one cluster')
      .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'cluster names must be unique'),
    apps: z
      .array(appSchema)
      .default([])
      .refine((as) => new Set(as.map((a) => a.name)).size === as.length, 'app names must be unique'),
    /** The quarterly game day: which clusters and apps it proves, and how. */
    gameDay: z
      .object({
        /** A Temporal Schedule for game days; absent: on demand only. */
        schedule: z
          .object({
            /** Cron expression in UTC, read as etcdSnapshots.schedule.cron is. */
            cron: cronExpression,
            catchupWindow: z
              .string()
              .regex(/^\d+[smhd]$/, 'a duration like 30m or 1h')
              .default('1d'),
          })
          .strict()
          .optional(),
        /** Clusters whose etcd snapshots are verified. Default: all. */
        clusters: z.array(name).optional(),
        /** Apps whose Velero backups are verified. Default: all. */
        apps: z.array(name).optional(),
        /** Take a new backup of each first (true), or prove the newest existing one (false; its age is the RPO). Default: false. */
        freshBackups: z.boolean().default(false),
        /** Also fail each app that has a failover configuration over to its standby and back, auto-approved. Default: false. */
        failover: z.boolean().default(false),
        /** Where reports are written on the worker and saved by the CLI. Default: ~/.local/state/lifeboat/gamedays. */
        reportDir: file.optional(),
      })
      .strict()
      .default({ freshBackups: false, failover: false }),
    /** Restore verification's scratch processes and files. */
    verification: z
      .object({
        /** Where restored data lives while it is checked (0700, removed in every outcome). Default: the system temp directory. */
        scratchDir: file.optional(),
        /** How long the scratch etcd and kube-apiserver may take to serve. Default: 2m. */
        startTimeout: duration.default(120),
      })
      .strict()
      .default({ startTimeout: 120 }),
    tools: z
      .object({
        /** Default: etcdctl on PATH. */
        etcdctl: z.string().default('etcdctl'),
        /** Default: etcdutl on PATH. */
        etcdutl: z.string().default('etcdutl'),
        /** Default: velero on PATH. */
        velero: z.string().default('velero'),
        /** The etcd server, for scratch restores. Default: etcd on PATH. */
        etcd: z.string().default('etcd'),
        /** The kube-apiserver, for scratch restores; use the version the cluster runs. Default: kube-apiserver on PATH. */
        kubeApiserver: z.string().default('kube-apiserver'),
      })
      .strict()
      .default({ etcdctl: 'etcdctl', etcdutl: 'etcdutl', velero: 'velero', etcd: 'etcd', kubeApiserver: 'kube-apiserver' }),
    metrics: z
      .object({
        /** Port of the worker's Prometheus endpoint on 127.0.0.1; 0 turns it off. Default: 9464. */
        port: z.number().int().min(0).max(65535).default(9464),
      })
      .strict()
      .default({ port: 9464 }),
    /** Runbook documents (`lifeboat runbook`, `schedule apply`) and who may approve their approval steps. */
    runbooks: z
      .object({
        /**
         * Folder of runbook documents (`*.yaml`); a relative path is read from the configuration file's
         * folder (from the working directory when LIFEBOAT_RUNBOOKS_DIR names it), and the loaded
         * configuration holds it absolute. A folder named here must exist. Default: `runbooks/` next to
         * the configuration file (in the working directory without one); none there means no documents.
         */
        dir: file.optional(),
        /** Groups an approval step names as `group:<name>`, each a list of people by name. Default: none. */
        approverGroups: z.record(name, z.array(z.string().min(1, 'a name')).min(1, 'at least one person')).default({}),
      })
      .strict()
      .default({ approverGroups: {} }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const clusters = new Set(c.clusters.map((x) => x.name));
    const apps = new Set(c.apps.map((a) => a.name));
    const known = (value: string, set: Set<string>, path: (string | number)[], what: string) => {
      if (!set.has(value))
        ctx.addIssue({ code: 'custom', path, message: `unknown ${what} '${value}'; configured: ${[...set].join(', ') || 'none'}` });
    };
    c.apps.forEach((a, i) => {
      known(a.cluster, clusters, ['apps', i, 'cluster'], 'cluster');
      known(a.verify.cluster, clusters, ['apps', i, 'verify', 'cluster'], 'cluster');
      if (a.verify.cluster === a.cluster)
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'verify', 'cluster'],
          message: "a test restore must go to another cluster than the app's own",
        });
      if (a.failover) {
        const f = a.failover;
        known(f.standby, clusters, ['apps', i, 'failover', 'standby'], 'cluster');
        if (f.standby === a.cluster)
          ctx.addIssue({
            code: 'custom',
            path: ['apps', i, 'failover', 'standby'],
            message: "the standby must be another cluster than the app's own",
          });
        if (f.traffic.provider === 'externalDNS') {
          known(f.traffic.cluster, clusters, ['apps', i, 'failover', 'traffic', 'cluster'], 'cluster');
          for (const site of [a.cluster, f.standby]) {
            if (!f.traffic.targets[site])
              ctx.addIssue({
                code: 'custom',
                path: ['apps', i, 'failover', 'traffic', 'targets'],
                message: `needs the targets for cluster '${site}'`,
              });
          }
        }
        f.workloads?.forEach((wl, j) => {
          if (!a.namespaces.includes(wl.namespace))
            ctx.addIssue({
              code: 'custom',
              path: ['apps', i, 'failover', 'workloads', j, 'namespace'],
              message: `not one of the app's namespaces (${a.namespaces.join(', ')})`,
            });
        });
      }
      a.verify.checks.forEach((check, j) => {
        if (!a.namespaces.includes(check.namespace))
          ctx.addIssue({
            code: 'custom',
            path: ['apps', i, 'verify', 'checks', j, 'namespace'],
            message: `not one of the app's namespaces (${a.namespaces.join(', ')})`,
          });
      });
    });
    c.clusters.forEach((cl, i) =>
      Object.keys(cl.velero.restoreFrom).forEach((source) =>
        known(source, clusters, ['clusters', i, 'velero', 'restoreFrom', source], 'cluster'),
      ),
    );
    c.gameDay.clusters?.forEach((n, i) => known(n, clusters, ['gameDay', 'clusters', i], 'cluster'));
    c.gameDay.apps?.forEach((n, i) => known(n, apps, ['gameDay', 'apps', i], 'app'));
    if (!c.encryption) {
      // What runs by itself must be able to run: a scheduled snapshot is encrypted, a game day decrypts.
      const noKeys = 'and the configuration has no encryption block; expected encryption.currentKeyId and encryption.keys';
      c.clusters.forEach((cl, i) => {
        if (cl.etcdSnapshots.schedule)
          ctx.addIssue({
            code: 'custom',
            path: ['clusters', i, 'etcdSnapshots', 'schedule'],
            message: `snapshots are encrypted ${noKeys}`,
          });
      });
      const verified = c.gameDay.clusters ?? c.clusters.map((x) => x.name);
      if (c.gameDay.schedule && verified.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['gameDay', 'schedule'],
          message: `a game day decrypts the etcd snapshots of ${verified.join(', ')} to restore them ${noKeys}`,
        });
      }
    }
  });

export type LifeboatConfig = z.infer<typeof configSchema>;
export type AppConfig = z.infer<typeof appSchema>;
export type AppCheck = z.infer<typeof appCheckSchema>;
export type TrafficConfig = z.infer<typeof trafficSchema>;
export type FailoverConfig = z.infer<typeof failoverSchema>;
export type ObjectRef = z.infer<typeof objectRefSchema>;
export type Objectives = z.infer<typeof objectivesSchema>;
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

const pathText = (path: PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '(top level)';

interface YamlFile {
  raw: Raw;
  /** file:line:col of the value at `path` (or of the deepest part of it that exists). */
  locate: (path: Path) => string | undefined;
  /** file:line:col of the key `key` in the mapping at `path`. */
  locateKey: (path: Path, key: string) => string | undefined;
}

/** Reads the YAML file, reporting syntax errors with their line and column. */
function readYaml(filePath: string): YamlFile {
  const text = readFileSync(filePath, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      doc.errors.map(
        (e) => `${filePath}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: YAML syntax: ${e.message.split('\n')[0]}`,
      ),
    );
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError([`${filePath}: expected a mapping at the top level`]);
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${filePath}:${line}:${col}`;
  };
  return {
    raw: value as Raw,
    locate: (path) => {
      // The deepest node that exists along the path: a missing key is reported at its parent.
      for (let n = path.length; n >= 0; n--) {
        const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        const offset = node?.range?.[0] ?? (n === 0 ? 0 : undefined);
        if (offset !== undefined && node) return at(offset);
      }
      return undefined;
    },
    locateKey: (path, key) => {
      const parent = path.length ? doc.getIn(path, true) : doc.contents;
      if (!isMap(parent)) return undefined;
      const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      const offset = isScalar(pair?.key) ? pair.key.range?.[0] : undefined;
      return offset === undefined ? undefined : at(offset);
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
  ['LIFEBOAT_ETCD', ['tools', 'etcd'], String],
  ['LIFEBOAT_KUBE_APISERVER', ['tools', 'kubeApiserver'], String],
  ['LIFEBOAT_SCRATCH_DIR', ['verification', 'scratchDir'], String],
  ['LIFEBOAT_RUNBOOKS_DIR', ['runbooks', 'dir'], String],
  ['LIFEBOAT_METRICS_PORT', ['metrics', 'port'], (v) => (/^\d+$/.test(v) ? Number(v) : v)],
];

const clusterEnv: [string, string[], (v: string) => unknown][] = [
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
  let locate: YamlFile['locate'] = () => undefined;
  let locateKey: YamlFile['locateKey'] = () => undefined;
  if (filePath) {
    if (!existsSync(filePath)) {
      throw new ConfigError([`${filePath}: configuration file not found${env.LIFEBOAT_CONFIG ? ' (named by LIFEBOAT_CONFIG)' : ''}`]);
    }
    ({ raw, locate, locateKey } = readYaml(filePath));
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
    for (const clusterName of env.LIFEBOAT_CLUSTERS.split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
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
    throw new ConfigError(
      parsed.error.issues.flatMap((issue) => {
        const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
        if (issue.code === 'unrecognized_keys') {
          // Each unknown key at its own line, with what is allowed there: a typo is found at a glance.
          const allowed = allowedKeys(configSchema, path, raw);
          return issue.keys.map(
            (key) =>
              `${locateKey(path, key) ?? source.describe(path)}: ${pathText([...path, key])}: unknown key; expected one of ${allowed.join(', ')}`,
          );
        }
        return [`${source.describe(path)}: ${pathText(issue.path)}: ${issue.message}`];
      }),
    );
  }
  const unusable = unusableFiles(parsed.data);
  // runbooks.dir, read from the configuration file's folder (from the working directory when a variable names it), becomes absolute.
  const cwd = options.cwd ?? process.cwd();
  const runbooksBase = filePath && !fromEnv.has('runbooks.dir') ? dirname(filePath) : cwd;
  const runbooksDir = resolve(runbooksBase, parsed.data.runbooks.dir ?? 'runbooks');
  if (parsed.data.runbooks.dir !== undefined && !isDirectory(runbooksDir)) {
    unusable.push({ path: ['runbooks', 'dir'], message: `'${runbooksDir}': no such directory; expected the folder of runbook documents` });
  }
  if (unusable.length)
    throw new ConfigError(unusable.map(({ path, message }) => `${source.describe(path)}: ${pathText(path)}: ${message}`));
  parsed.data.runbooks.dir = runbooksDir;
  return parsed.data;
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/** The keys the object schema at `path` allows; a discriminated union is read by the raw value's discriminator. */
function allowedKeys(schema: z.ZodType, path: Path, raw: unknown): string[] {
  let node: z.ZodType | undefined = schema;
  let value = raw;
  for (let i = 0; node; i++) {
    for (;;) {
      if (node instanceof z.ZodDefault || node instanceof z.ZodOptional) node = node.unwrap() as z.ZodType;
      else if (node instanceof z.ZodPipe) node = node.in as z.ZodType;
      else if (node instanceof z.ZodDiscriminatedUnion) {
        const discriminator: string = (node.def as { discriminator: string }).discriminator;
        const chosen = (value as Raw | undefined)?.[discriminator];
        node = (node.options as z.ZodType[]).find(
          (o) =>
            o instanceof z.ZodObject && (o.shape[discriminator] as z.ZodLiteral | undefined)?.values.has(chosen as z.core.util.Literal),
        );
      } else break;
    }
    if (i === path.length || !node) break;
    const key = path[i]!;
    value = (value as Record<string | number, unknown> | undefined)?.[key];
    if (node instanceof z.ZodObject) node = node.shape[key] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else node = undefined;
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/** Why `file` cannot be read by this process, or undefined. */
function unreadable(file: string): string | undefined {
  try {
    if (statSync(file).isDirectory()) return 'a directory';
    accessSync(file, constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
    if (code === 'EACCES') return `not readable by this user (uid ${process.getuid?.() ?? '?'})`;
    return (err as Error).message;
  }
}

/** Why a cluster's kubeconfig cannot give the context it is used through, or undefined. */
function kubeconfigProblem(cluster: ClusterConfig, i: number): { path: Path; message: string } | undefined {
  let kc: { contexts?: { name?: unknown }[]; 'current-context'?: unknown } | undefined;
  try {
    kc = parseYaml(readFileSync(cluster.kubeconfig, 'utf8')) as typeof kc;
  } catch (err) {
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': not a kubeconfig (${(err as Error).message.split('\n')[0]}); expected a kubeconfig file`,
    };
  }
  const names = (Array.isArray(kc?.contexts) ? kc.contexts : []).map((c) => c?.name).filter((n): n is string => typeof n === 'string');
  if (!names.length)
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': not a kubeconfig (it has no contexts); expected a kubeconfig file`,
    };
  if (cluster.context !== undefined) {
    return names.includes(cluster.context)
      ? undefined
      : {
          path: ['clusters', i, 'context'],
          message: `no context '${cluster.context}' in '${cluster.kubeconfig}'; expected one of ${names.join(', ')}`,
        };
  }
  const current = kc?.['current-context'];
  if (typeof current !== 'string' || current === '')
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}' has no current-context; expected clusters[].context set to one of ${names.join(', ')}`,
    };
  if (!names.includes(current))
    return {
      path: ['clusters', i, 'kubeconfig'],
      message: `'${cluster.kubeconfig}': its current-context '${current}' is not one of its contexts; expected clusters[].context set to one of ${names.join(', ')}`,
    };
  return undefined;
}

/**
 * Files the configuration names that a later command would fail on: each must be a readable file, and a
 * kubeconfig must hold the context it is used through. Checked at load, so that a typo in a path is
 * found by `lifeboat worker` or any command, not by the first backup that needs the file.
 */
function unusableFiles(config: LifeboatConfig): { path: Path; message: string }[] {
  const named: [Path, string | undefined][] = [];
  const tls = config.temporal.tls;
  named.push(
    [['temporal', 'tls', 'serverRootCaFile'], tls?.serverRootCaFile],
    [['temporal', 'tls', 'clientCertFile'], tls?.clientCertFile],
    [['temporal', 'tls', 'clientKeyFile'], tls?.clientKeyFile],
  );
  named.push([['objectStore', 'credentialsFile'], config.objectStore.credentialsFile]);
  config.clusters.forEach((c, i) =>
    named.push(
      [['clusters', i, 'kubeconfig'], c.kubeconfig],
      [['clusters', i, 'etcd', 'caFile'], c.etcd.caFile],
      [['clusters', i, 'etcd', 'certFile'], c.etcd.certFile],
      [['clusters', i, 'etcd', 'keyFile'], c.etcd.keyFile],
      [['clusters', i, 'restoreVerification', 'encryptionConfigFile'], c.restoreVerification.encryptionConfigFile],
    ),
  );
  config.encryption?.keys.forEach((k, i) => named.push([['encryption', 'keys', i, 'file'], k.file]));
  const problems: { path: Path; message: string }[] = [];
  for (const [path, file] of named) {
    const why = file === undefined ? undefined : unreadable(file);
    if (why) problems.push({ path, message: `'${file}': ${why}; expected a readable file` });
  }
  config.clusters.forEach((c, i) => {
    if (problems.some((p) => p.path.join('.') === `clusters.${i}.kubeconfig`)) return;
    const problem = kubeconfigProblem(c, i);
    if (problem) problems.push(problem);
  });
  return problems;
}

/** A cluster or app name given on the command line (or by a caller) that the configuration does not have. */
export class UnknownNameError extends Error {
  override readonly name = 'UnknownNameError';
  constructor(
    readonly argument: string,
    readonly kind: 'cluster' | 'app',
    readonly value: string,
    readonly configured: string[],
  ) {
    super(`${argument}: unknown ${kind} '${value}'; configured ${kind}s: ${configured.join(', ') || 'none'}`);
  }
}

/** The named app, or an UnknownNameError naming `argument` (the option it came from) and the configured apps. */
export function appByName(config: LifeboatConfig, appName: string, argument = '--app'): AppConfig {
  const app = config.apps.find((a) => a.name === appName);
  if (!app)
    throw new UnknownNameError(
      argument,
      'app',
      appName,
      config.apps.map((a) => a.name),
    );
  return app;
}

/** The named cluster, or an UnknownNameError naming `argument` (the option it came from) and the configured clusters. */
export function clusterByName(config: LifeboatConfig, clusterName: string, argument = '--cluster'): ClusterConfig {
  const cluster = config.clusters.find((c) => c.name === clusterName);
  if (!cluster)
    throw new UnknownNameError(
      argument,
      'cluster',
      clusterName,
      config.clusters.map((c) => c.name),
    );
  return cluster;
}
