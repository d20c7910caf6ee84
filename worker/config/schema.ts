// The configuration's schema: one zod schema, defaults written once, the types the code reads.
import { Cron } from 'croner';
import { z } from 'zod';
import { parseSecondsDuration, secondsDurationExpectation, secondsDurationPattern } from '../../model/durations.js';
import { notificationsSchema } from './notifications.js';

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS label: lower-case letters, digits and dashes');
const file = z.string().min(1, 'a file path');

const count = (fallback: number) => z.number().int().min(0).default(fallback);

/** A duration like 90s, 15m, 4h or 30d ({@link secondsDurationPattern}), as written (a Temporal Schedule's catch-up window takes it so). */
const durationText = z.string().regex(secondsDurationPattern, secondsDurationExpectation);
/** A duration like 90s, 15m, 4h or 30d, read as seconds. */
const duration = durationText.transform((v) => parseSecondsDuration(v)!);

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

/** A Temporal Schedule of a runbook (etcd snapshots, game days): when, and how far back missed runs are caught up. */
const scheduleSchema = (catchupDefault: string) =>
  z
    .object({
      /**
       * Cron expression in UTC, as Temporal reads it: five fields (minute hour day-of-month month
       * day-of-week; names like jan or mon; a day matches when day-of-month AND day-of-week do), e.g.
       * "0 *\/6 * * *", or @hourly, @daily, @weekly, @monthly, @yearly.
       */
      cron: cronExpression,
      /** Runs missed while Temporal was unavailable are caught up within this window. */
      catchupWindow: durationText.default(catchupDefault),
    })
    .strict();

const etcdSnapshotsSchema = z
  .object({
    /** A Temporal Schedule for this cluster's snapshots (catch-up window by default 1h); absent: on demand only. */
    schedule: scheduleSchema('1h').optional(),
    retention: retentionSchema.prefault({}),
    /** Incomplete multipart uploads under this cluster's prefix older than this are aborted. Default: 24. */
    incompleteUploadMaxAgeHours: z.number().positive().default(24),
  })
  .strict();

/** A share of a cluster's Nodes, `"0%"` to `"100%"`. */
const percentText = z
  .string()
  .regex(/^(100|[1-9]?[0-9])%$/, 'a percentage from 0% to 100%, like "40%"')
  .transform((v) => v as `${number}%`);

/**
 * How a cluster's Nodes are powered off (fenced) and replaced. Absent: node replacement is not
 * possible on this cluster; its activities fail naming `clusters[].nodeProvider`.
 */
export const nodeProviderSchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        /** kwok's simulated Nodes (the lab): fencing makes kwok stop managing the Node, a replacement is a new Node object kwok manages. */
        kind: z.literal('kwok'),
      })
      .strict(),
    z
      .object({
        /**
         * The team's provisioning system: POST of `{ action, cluster, ..., idempotencyKey }` (JSON) with
         * an Idempotency-Key header and a bearer token; GET `<url>/nodes/<node>` tells whether a Node is off.
         */
        kind: z.literal('webhook'),
        url: z.url({ protocol: /^https?$/ }),
        /** Environment variable holding the bearer token; never in this file. */
        tokenEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'),
        /** Per request, and how long a power-off may take to be confirmed. Default: 30s. */
        timeout: duration.default(30),
        /** Between the GETs that wait for a power-off to be confirmed. Default: 5s. */
        pollInterval: duration.default(5),
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? "expected kind 'kwok' or 'webhook'" : undefined) },
);

/** One etcd member as the control-plane driver knows it: its etcd name, where its data lives, its URLs. */
export const controlPlaneEtcdMemberSchema = z
  .object({
    /** etcd's `--name` of the member. */
    name: z.string().min(1),
    /** Its data dir on its host (absolute): moved aside, never deleted, when the member is replaced. */
    dataDir: z.string().regex(/^\//, 'an absolute path'),
    /** Its peer URL, as the others reach it: what a replacement is added with. */
    peerUrl: z.url({ protocol: /^https?$/ }),
    /** Its client URL (one of `etcd.endpoints`). */
    clientUrl: z.url({ protocol: /^https?$/ }),
  })
  .strict();

/** A command run on a control-plane host over SSH: an argv list, never a shell string; each argument is quoted for the host's shell. */
const remoteArgv = z.array(z.string().regex(/^[^\0]*$/, 'no NUL byte')).min(1, 'an argv list: the program, then its arguments');

/**
 * The placeholders each configured command may use, replaced in every argument: `{host}` (the host's
 * name), `{member}` and `{dataDir}` (the etcd member's name and data dir), `{initialCluster}` (the
 * `--initial-cluster` a joining member starts with).
 */
export const commandPlaceholders = {
  etcd: ['{host}', '{member}', '{dataDir}'],
  etcdJoining: ['{host}', '{member}', '{dataDir}', '{initialCluster}'],
  component: ['{host}'],
} as const;
const allPlaceholders = commandPlaceholders.etcdJoining;

export const controlPlaneCommandsSchema = z
  .object({
    /** Stops the member's etcd (`{member}`, `{dataDir}`, `{host}`); stopping a stopped one must succeed. */
    stopEtcd: remoteArgv,
    /** Starts the member's etcd on whatever its data dir holds. */
    startEtcd: remoteArgv,
    /** Starts the member's etcd to join the existing cluster: `--initial-cluster-state existing --initial-cluster {initialCluster}`. */
    startEtcdJoining: remoteArgv,
    /** Exit 0: the member's etcd runs; exit 1: it does not; anything else is an error. */
    etcdRunning: remoteArgv,
    // The Kubernetes components, each run on every host. A restart defaults to the stop command, then the start command.
    stopKubeApiserver: remoteArgv,
    startKubeApiserver: remoteArgv,
    restartKubeApiserver: remoteArgv.optional(),
    stopKubeControllerManager: remoteArgv,
    startKubeControllerManager: remoteArgv,
    restartKubeControllerManager: remoteArgv.optional(),
    stopKubeScheduler: remoteArgv,
    startKubeScheduler: remoteArgv,
    restartKubeScheduler: remoteArgv.optional(),
    stopKubelet: remoteArgv,
    startKubelet: remoteArgv,
    restartKubelet: remoteArgv.optional(),
  })
  .strict()
  .superRefine((commands, ctx) => {
    for (const [key, argv] of Object.entries(commands)) {
      const allowed: readonly string[] = key.endsWith('EtcdJoining')
        ? commandPlaceholders.etcdJoining
        : key.endsWith('Etcd') || key === 'etcdRunning'
          ? commandPlaceholders.etcd
          : commandPlaceholders.component;
      (argv as string[] | undefined)?.forEach((arg, i) => {
        const wrong = allPlaceholders.filter((p) => arg.includes(p) && !allowed.includes(p));
        if (wrong.length)
          ctx.addIssue({
            code: 'custom',
            path: [key, i],
            message: `${wrong.join(', ')} has no value in ${key}; it may use ${allowed.join(', ')}`,
          });
      });
    }
  });

/**
 * How long an etcd member's old data dir, moved aside by a restore or a replacement, is kept before a
 * later restore's cleanup removes it (its rollback, and the evidence, until then). Default: 7d.
 */
const keepOldDataDirsFor = () => duration.default(7 * 24 * 3600);

export const controlPlaneSchema = z.discriminatedUnion(
  'driver',
  [
    z
      .object({
        /** The lab's own process manager (`lifeboat lab`): members are the lab's `etcd/<name>` processes on this machine. */
        driver: z.literal('lab'),
        etcdMembers: z.array(controlPlaneEtcdMemberSchema).min(1),
        keepOldDataDirsFor: keepOldDataDirsFor(),
      })
      .strict(),
    z
      .object({
        /**
         * Configured commands run on each control-plane host with OpenSSH's `ssh` (activities/control-plane/commands.ts).
         * The hosts' login shell must be a POSIX shell: arguments are single-quoted for it.
         */
        driver: z.literal('commands'),
        ssh: z
          .object({
            /** The user the commands run as (they stop etcd and move its data dir). Default: root. */
            user: z.string().min(1).default('root'),
            /** Default: 22. */
            port: z.number().int().min(1).max(65535).default(22),
            /** The private key (`ssh -i`, `IdentitiesOnly=yes`); no agent, no password. */
            identityFile: file,
            /** The hosts' keys (`UserKnownHostsFile`, `StrictHostKeyChecking=yes`): a host not in it, or with another key, is refused. */
            knownHostsFile: file,
            /** `ConnectTimeout`. Default: 10s. */
            connectTimeout: duration.default(10),
          })
          .strict(),
        /** The control-plane hosts: component commands run on each; each etcd member names its own. */
        hosts: z
          .array(
            z
              .object({
                /** Named in etcdMembers[].host and in what the activities report. */
                name: z.string().min(1),
                /** Host name or IP address that ssh connects to. */
                address: z.string().min(1),
                /** Default: ssh.port. */
                port: z.number().int().min(1).max(65535).optional(),
              })
              .strict(),
          )
          .min(1)
          .refine((hs) => new Set(hs.map((h) => h.name)).size === hs.length, 'host names must be unique'),
        keepOldDataDirsFor: keepOldDataDirsFor(),
        etcdMembers: z
          .array(
            controlPlaneEtcdMemberSchema
              .extend({
                /** The name of the host (in hosts) where this member runs. */
                host: z.string().min(1),
              })
              .strict(),
          )
          .min(1),
        /** etcdutl on the hosts (a restore runs it there). Default: etcdutl on the login PATH. */
        etcdutl: z.string().min(1).default('etcdutl'),
        commands: controlPlaneCommandsSchema,
      })
      .strict()
      .superRefine((cp, ctx) => {
        const hosts = cp.hosts.map((h) => h.name);
        cp.etcdMembers.forEach((m, i) => {
          if (!hosts.includes(m.host))
            ctx.addIssue({
              code: 'custom',
              path: ['etcdMembers', i, 'host'],
              message: `unknown host '${m.host}'; configured: ${hosts.join(', ')}`,
            });
        });
      }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? "expected driver 'lab' or 'commands'" : undefined) },
);

/** What the node health watch may do on a cluster (MachineHealthCheck's and NodeHealthCheck's settings). */
export const nodeHealthSchema = z
  .object({
    /** A Node whose Ready is False or Unknown (or whose Lease is stale) this long is remediated. Default: 5m. */
    unhealthyAfter: duration.default(300),
    /** How long a replacement Node may take to register and go Ready. Default: 10m. */
    nodeStartupTimeout: duration.default(600),
    /** At most this many Nodes (a count, or a share like "40%", rounded down) in remediation at once. Default: 1. */
    maxUnhealthy: z
      .union([z.number().int().min(0), percentText], { error: 'a count of Nodes (0 or more) or a percentage from 0% to 100%, like "40%"' })
      .default(1),
    /** More than this share of the cluster's (or a zone's) Nodes unhealthy at once: a partition, nothing is started. Default: 55%. */
    stormThreshold: percentText.default('55%'),
    /** Start no remediation on this cluster. Default: false. */
    pause: z.boolean().default(false),
    /**
     * Watch this cluster's Nodes on a Temporal Schedule (`lifeboat schedule apply` makes `node-health/<cluster>`)
     * and replace the unhealthy ones, within the rules above. Default: false: remediation is opt-in.
     */
    watch: z.boolean().default(false),
    /** How often the watch looks. Default: 1m. */
    watchEvery: duration.default(60),
    /**
     * A label selector (`pool=workers`, `tier in (a,b)`) of the Nodes the watch judges and may replace, as
     * MachineHealthCheck's selector; the storm and maxUnhealthy rules count these Nodes only. Default: every Node.
     */
    selector: z.string().min(1, 'a label selector, e.g. pool=workers').optional(),
    /** An environment variable of the worker holding a Slack-compatible webhook URL: told of storms and of each replacement started. */
    notifyWebhookEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'the name of an environment variable, e.g. LIFEBOAT_SLACK_WEBHOOK')
      .optional(),
  })
  .strict();

export const clusterSchema = z
  .object({
    /** The name runbooks and the CLI use for this cluster. */
    name,
    /**
     * Path of a kubeconfig for this cluster (for a remote cluster, a token kubeconfig of a ServiceAccount
     * bound to Lifeboat's roles: deploy/kubernetes). Absent: the cluster the worker runs in, reached as
     * the ServiceAccount of its Pod; at most one cluster may go without.
     */
    kubeconfig: file.optional(),
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
      .prefault({}),
    etcdSnapshots: etcdSnapshotsSchema.prefault({}),
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
        objectives: objectivesSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    /** How Nodes are fenced and replaced. Absent: node replacement is not possible on this cluster. */
    nodeProvider: nodeProviderSchema.optional(),
    nodeHealth: nodeHealthSchema.prefault({}),
    /** How Lifeboat stops and starts this cluster's control plane (etcd recovery). Absent: its etcd members cannot be replaced or restored. */
    controlPlane: controlPlaneSchema.optional(),
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

/** Environment variables Lifeboat sets for a data check's command itself: a check's `env` may not name them. */
export const dataCheckReservedEnv = ['KUBECONFIG', 'LIFEBOAT_APP', 'LIFEBOAT_CLUSTER', 'LIFEBOAT_NAMESPACE'] as const;

/** The longest a data check may run: its activity's start-to-close timeout (model/runbook/catalog.ts) leaves room beyond it. */
export const dataCheckMaxTimeoutSeconds = 1800;

const dataCheckTimeout = (fallback: number) => duration.refine((s) => s <= dataCheckMaxTimeoutSeconds, 'at most 30m').default(fallback);

/**
 * How the app's data is proven once its workload is back (storage-failure runbook, activities/data-check):
 * an HTTP GET, or a command the worker runs. What runs and its output go into the run's report; `env`
 * values never do.
 */
export const dataCheckSchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        /** A GET expecting 200 (a redirect is an answer, not followed). */
        kind: z.literal('http'),
        url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }),
        /** A text the answer's body must contain. */
        bodyContains: z.string().min(1, 'a text; leave the key out for none').optional(),
        /** For the answer. Default: 10s. */
        timeout: dataCheckTimeout(10),
      })
      .strict(),
    z
      .object({
        /**
         * An argv list the worker runs without a shell (write `[sh, -c, "..."]` for one), in a process group
         * of its own: exit 0 passes. It gets PATH, HOME, LANG, LC_ALL, TZ and TMPDIR from the worker, KUBECONFIG
         * for the cluster the run is on (unset on the cluster the worker runs in: kubectl then uses the
         * worker's ServiceAccount), LIFEBOAT_APP, LIFEBOAT_CLUSTER, LIFEBOAT_NAMESPACE, and `env`; nothing
         * else of the worker's environment. Its output (the last 4 KiB) goes into the report.
         */
        kind: z.literal('command'),
        command: z
          .array(z.string().regex(/^[^\0]*$/, 'no NUL byte'), { error: 'an argv list: the program, then its arguments' })
          .min(1, 'an argv list: the program, then its arguments')
          .refine((argv) => argv[0] !== '', { message: 'the program (the first item) is empty', path: [0] }),
        /** At this, its process group gets SIGTERM, and SIGKILL 5 s later. At most 30m. Default: 2m. */
        timeout: dataCheckTimeout(120),
        /**
         * More environment variables: a value, or `{ fromEnv: NAME }` for one of the worker's own (keep
         * secrets out of this file). Values are masked in the output the report keeps. Default: none.
         */
        env: z
          .record(
            z.string(),
            z.union(
              [
                z.string(),
                z.object({ fromEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the name of an environment variable of the worker') }).strict(),
              ],
              { error: 'a value, or { fromEnv: NAME }' },
            ),
          )
          // Names are checked here, not by the record's key schema, so that each problem is told at its key.
          .superRefine((env, ctx) => {
            for (const key of Object.keys(env)) {
              const problem = !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
                ? 'expected an environment variable name (letters, digits and _, not starting with a digit)'
                : (dataCheckReservedEnv as readonly string[]).includes(key)
                  ? `set by Lifeboat (${dataCheckReservedEnv.join(', ')}); expected another name`
                  : undefined;
              if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
            }
          })
          .default({}),
      })
      .strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? "expected kind 'http' or 'command'" : undefined) },
);

/** People by name, or `group:<name>` for a group of runbooks.approverGroups. */
const approverList = z
  .array(z.string().regex(/^(group:)?\S+$/, 'a name, or group:<name>'), { error: 'a list of names and group:<name>' })
  .min(1, 'at least one approver (a name or group:<name>); leave the key out for the default');

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
      .prefault({}),
    verify: z
      .object({
        /** Cluster a test restore goes into (never the source). */
        cluster: name,
        checks: z.array(appCheckSchema).default([]),
        /** How long the restored Deployments may take to become Available. Default: 5m. */
        availableTimeout: duration.default(300),
      })
      .strict(),
    objectives: objectivesSchema.prefault({}),
    /** Absent: the app cannot be failed over. */
    failover: failoverSchema.optional(),
    /**
     * Who may approve its failover and failback: names and `group:<name>` (runbooks.approverGroups),
     * never who started the run (four eyes). Default: {@link defaultAppApprovers}.
     */
    approvers: approverList.optional(),
    /** Who may approve with `force` (the source cannot be fenced): names and groups as above. Default: nobody. */
    forceApprovers: approverList.optional(),
    /** How its data is proven after a restore (the storage-failure runbook). Absent: no check of its own. */
    dataCheck: dataCheckSchema.optional(),
  })
  .strict();

/** Who approves an app's failover when its configuration names nobody: whoever runbook approval steps name most. */
export const defaultAppApprovers = ['group:sre'];

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

/**
 * `lifeboat codec-server`: the HTTP codec server (Temporal's remote codec protocol, POST `/encode` and
 * `/decode`) that lets the Temporal UI and CLI show the encrypted history decoded. Needs `encryption`.
 */
export const codecServerSchema = z
  .object({
    /** host:port it listens on. Default: 127.0.0.1:8888 (loopback; put TLS in front of it anywhere else). */
    listen: z
      .string()
      .regex(/^[^:\s]+:\d+$/, 'host:port')
      .default('127.0.0.1:8888'),
    /** The Temporal UI's origin (scheme://host[:port]), the only one browsers may call from (CORS). Default: none (no browser). */
    uiOrigin: z
      .url({ protocol: /^https?$/ })
      .refine((u) => new URL(u).origin === u.replace(/\/$/, ''), 'an origin: scheme://host[:port], no path')
      .transform((u) => new URL(u).origin)
      .optional(),
    /** File holding the bearer token every request must carry (at least 32 characters; mode 0600 or stricter). */
    tokenFile: file.optional(),
    /** Environment variable holding the bearer token. */
    tokenEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name')
      .optional(),
    /**
     * Also accept the token as the first path segment (`/<token>/decode`), for a Temporal UI that cannot
     * send an Authorization header (one without login, like the dev server's): the token is then as secret
     * as the UI's settings. Default: false.
     */
    tokenInPath: z.boolean().default(false),
  })
  .strict()
  .refine((c) => (c.tokenFile === undefined) !== (c.tokenEnv === undefined), 'exactly one of tokenFile or tokenEnv');

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
        /** Temporal Cloud API key. Prefer LIFEBOAT_TEMPORAL_API_KEY or apiKeyFile to keep it out of this file. */
        apiKey: z.string().min(1).optional(),
        /** File holding the API key (a mounted Secret; mode 0600 or stricter when this user owns it). Exclusive with apiKey. */
        apiKeyFile: file.optional(),
        /**
         * Worker versioning (Temporal worker deployments): this worker polls as version `name.buildId`, and
         * a run stays on the version it started on (PINNED) or moves to the current one (AUTO_UPGRADE).
         * New versions take no runs until an operator makes them current or ramping (deploy/kubernetes/README.md).
         * Absent: unversioned, every worker takes every task.
         */
        deployment: z
          .object({
            /** The worker deployment's name, the same for every version of it: `lifeboat`, say. */
            name: z.string().regex(/^[^.\s]+$/, 'a name without dots or spaces'),
            /** This version's build id. Default: derived from the workflow bundle, so it changes exactly when workflow code does. */
            buildId: z
              .string()
              .regex(/^[^\s]{1,255}$/, 'a build id without spaces, at most 255 characters')
              .optional(),
            /** What runs started on this version do when a newer one becomes current. Default: PINNED (never replayed on other code). */
            defaultVersioningBehavior: z.enum(['PINNED', 'AUTO_UPGRADE'], { error: 'expected PINNED or AUTO_UPGRADE' }).default('PINNED'),
          })
          .strict()
          .optional(),
        /** mTLS to a self-hosted cluster or Temporal Cloud. Absent: plain TLS when apiKey is set, else no TLS. */
        tls: z
          .object({
            serverName: z.string().optional(),
            serverRootCaFile: file.optional(),
            clientCertFile: file.optional(),
            clientKeyFile: file.optional(),
          })
          .strict()
          .refine((t) => (t.clientCertFile === undefined) === (t.clientKeyFile === undefined), {
            message: 'clientCertFile and clientKeyFile go together (mTLS needs both)',
            path: ['clientKeyFile'],
          })
          .optional(),
      })
      .strict()
      .refine((t) => t.apiKey === undefined || t.apiKeyFile === undefined, {
        message: 'apiKey and apiKeyFile are exclusive (LIFEBOAT_TEMPORAL_API_KEY sets apiKey)',
        path: ['apiKeyFile'],
      })
      .prefault({}),
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
        /**
         * S3 Object Lock: every snapshot and manifest is written with this retention, so nobody (in
         * COMPLIANCE mode, not even the bucket's owner) can delete or overwrite it before `days` pass.
         * The bucket must have been created with object lock enabled. Absent: objects are written unlocked.
         */
        objectLock: z
          .object({
            /** GOVERNANCE: a user with s3:BypassGovernanceRetention may still delete; COMPLIANCE: nobody may. */
            mode: z.enum(['GOVERNANCE', 'COMPLIANCE'], { error: 'expected GOVERNANCE or COMPLIANCE' }),
            /** Days each object is locked from when it is written: 1 to 36500. */
            days: z
              .number({ error: 'a whole number of days from 1 to 36500' })
              .int()
              .min(1)
              .max(36_500, 'a whole number of days from 1 to 36500'),
          })
          .strict()
          .optional(),
      })
      .strict(),
    /** Required by runbooks that store snapshots; a worker without it refuses those runbooks. */
    encryption: encryptionSchema.optional(),
    /** `lifeboat codec-server`; absent: that command refuses to start. */
    codecServer: codecServerSchema.optional(),
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
        /** A Temporal Schedule for game days (catch-up window by default 1d); absent: on demand only. */
        schedule: scheduleSchema('1d').optional(),
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
      .prefault({}),
    /** Restore verification's scratch processes and files. */
    verification: z
      .object({
        /** Where restored data lives while it is checked (0700, removed in every outcome). Default: the system temp directory. */
        scratchDir: file.optional(),
        /** How long the scratch etcd and kube-apiserver may take to serve. Default: 2m. */
        startTimeout: duration.default(120),
      })
      .strict()
      .prefault({}),
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
      .prefault({}),
    metrics: z
      .object({
        /** Port of the worker's Prometheus endpoint (/metrics) and health checks (/healthz, /readyz); 0 turns it off. Default: 9464. */
        port: z.number().int().min(0).max(65535).default(9464),
        /** Address it listens on: 0.0.0.0 in a Pod, where the kubelet probes the Pod's address. Default: 127.0.0.1. */
        host: z.string().min(1).optional(),
        /**
         * Port of the Temporal SDK's own runtime metrics (its Prometheus exporter: pollers, task latencies,
         * slots), on `host`; 0 turns it off. Default: `port` + 1 (9465), or off when `port` is 0.
         */
        runtimePort: z.number().int().min(0).max(65535).optional(),
        /**
         * How often the values read from Temporal visibility and the object store are refreshed; a scrape
         * never queries them. Default: 30s (worker/metrics.ts defaultRefreshIntervalSeconds).
         */
        refreshInterval: duration.optional(),
      })
      .strict()
      .prefault({}),
    /** Traces of the CLI's commands, the workflows and the activities (service names lifeboat-cli, lifeboat-worker). */
    tracing: z
      .object({
        /**
         * A collector's OTLP/HTTP base address (`http://collector:4318`; `/v1/traces` is appended). Default:
         * the standard OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT); with neither, nothing is traced.
         */
        otlpEndpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://collector:4318' }).optional(),
      })
      .strict()
      .prefault({}),
    /** The `lifeboat` command. */
    cli: z
      .object({
        /**
         * Whether `--as NAME` (or LIFEBOAT_AS) may name someone other than the OS user as who runs the
         * CLI (the Temporal client identity, the requester and approver of runs). Default: false.
         */
        allowIdentityOverride: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
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
      .prefault({}),
    /** Who hears of runs (started, approval needed, failed, completed): receivers by name, and routes. Default: none. */
    notifications: notificationsSchema.prefault({}),
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
    const inCluster = c.clusters.flatMap((cl, i) => (cl.kubeconfig === undefined ? [i] : []));
    for (const i of inCluster.slice(1))
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', i],
        message: `no kubeconfig, but clusters[${inCluster[0]}] ('${c.clusters[inCluster[0]!]!.name}') already has none: only the cluster the worker runs in is reached through its ServiceAccount; expected kubeconfig (a token kubeconfig for a remote cluster)`,
      });
    c.clusters.forEach((cl, i) => {
      if (cl.kubeconfig === undefined && cl.context !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'context'],
          message:
            'a context without a kubeconfig: the in-cluster ServiceAccount has no contexts; expected kubeconfig as well, or no context',
        });
    });
    c.gameDay.clusters?.forEach((n, i) => known(n, clusters, ['gameDay', 'clusters', i], 'cluster'));
    c.gameDay.apps?.forEach((n, i) => known(n, apps, ['gameDay', 'apps', i], 'app'));
    if (c.codecServer && !c.encryption)
      ctx.addIssue({
        code: 'custom',
        path: ['codecServer'],
        message:
          'the codec server decodes with the history keys, and the configuration has no encryption block; expected encryption.currentKeyId and encryption.keys',
      });
    const groups = new Set(Object.keys(c.runbooks.approverGroups));
    c.apps.forEach((a, i) => {
      for (const key of ['approvers', 'forceApprovers'] as const)
        a[key]?.forEach((approver, j) => {
          if (approver.startsWith('group:'))
            known(approver.slice('group:'.length), groups, ['apps', i, key, j], 'approver group (runbooks.approverGroups)');
        });
    });
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
export type DataCheckConfig = z.infer<typeof dataCheckSchema>;
export type TrafficConfig = z.infer<typeof trafficSchema>;
export type FailoverConfig = z.infer<typeof failoverSchema>;
export type ObjectRef = z.infer<typeof objectRefSchema>;
export type Objectives = z.infer<typeof objectivesSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type NodeProviderConfig = z.infer<typeof nodeProviderSchema>;
export type NodeHealthConfig = z.infer<typeof nodeHealthSchema>;
export type ControlPlaneConfig = z.infer<typeof controlPlaneSchema>;
export type CommandsControlPlaneConfig = Extract<ControlPlaneConfig, { driver: 'commands' }>;
export type ControlPlaneCommands = CommandsControlPlaneConfig['commands'];
export type EncryptionConfig = z.infer<typeof encryptionSchema>;
export type CodecServerConfig = z.infer<typeof codecServerSchema>;
export type RetentionConfig = z.infer<typeof retentionSchema>;
export type ObjectLockConfig = NonNullable<LifeboatConfig['objectStore']['objectLock']>;
