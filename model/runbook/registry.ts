// The input schema of every building block in the catalogue: what the validator checks a step's
// `with:` against before anything starts. Names, kinds, descriptions, read-only flags and default retry
// profiles come from catalog.ts (what the interpreter runs), so the two cannot disagree; each schema's
// output is checked at compile time against the input type of the workflow or activity it feeds.
import { z } from 'zod';
import type { ClusterHealthInput } from '../../workflows/clusterHealth.js';
import type { EtcdSnapshotInput } from '../../workflows/etcdSnapshot.js';
import type { VeleroBackupInput } from '../../activities/velero/backup.js';
import type { RestoreVerificationInput } from '../../workflows/restoreVerification.js';
import type { FailoverInput } from '../../workflows/failover.js';
import type { GameDayInput } from '../../workflows/gameDay.js';
import type { ObjectRef } from '../../worker/config.js';
import type { NodeInput, ScaleDeploymentInput, WaitForConditionInput } from '../../activities/kubernetes/actions.js';
import type { HttpCheckInput } from '../../activities/traffic/http-check.js';
import type { DrainNodeInput, NodeRef, PreflightNodeInput } from '../../activities/kubernetes/drain.js';
import type { DeadlineInput } from '../../activities/deadline.js';
import type { FenceNodeInput, ProvisionNodeInput, WaitNodeReadyInput } from '../../activities/node-provider/index.js';
import type { NotifyInput } from '../../activities/traffic/notify.js';
import type { EtcdMemberRef, MoveEtcdDataAsideInput, StartEtcdMemberInput } from '../../activities/control-plane/index.js';
import type {
  ControlPlaneComponentInput,
  EtcdRestorePreflight,
  PreflightEtcdRestoreInput,
} from '../../activities/control-plane/restore.js';
import { controlPlaneComponents } from '../../activities/control-plane/driver.js';
import type { ClaimRef, KeepLostClaimInput, ScaleWorkloadInput } from '../../activities/kubernetes/volumes.js';
import type { RestoreClaimInput } from '../../activities/velero/claim-restore.js';
import type { DecidePartitionInput } from '../../activities/partition.js';
import type { DataCheckRequest } from '../../activities/data-check/index.js';
import { partitionRows, type ReachabilityWitness, type SiteWitnessView } from '../partition.js';
import { defineBlocks, type BlockRegistry, type BuildingBlock } from './blocks.js';
import { blockCatalog, type BlockName } from './catalog.js';

const text = (what: string) => z.string().min(1, { error: `expected ${what}` });
const cluster = text('a configured cluster name').describe('A cluster, by its configured name');
const app = text('a configured app name').describe('An app, by its configured name');
const names = (what: string) => z.array(text(what));
const seconds = z.int().min(1, { error: 'expected a whole number of seconds, at least 1' });
const timestamp = z.iso.datetime({ error: 'expected an ISO 8601 time, e.g. 2026-12-01T09:00:00.000Z' });
const secondsSpent = z.number().min(0, { error: 'expected seconds, 0 or more' });
/** What a game day report reads of a restoreVerification step's result (the rest is kept as it is). */
const verificationResult = z.looseObject({
  kind: z.enum(['etcd', 'velero']),
  subject: text('what was restored'),
  passed: z.boolean({ error: 'expected whether the restore passed, true or false' }),
  rtoSeconds: secondsSpent,
  rpoSeconds: secondsSpent,
  objectives: z.looseObject({ rtoSeconds: secondsSpent, rpoSeconds: secondsSpent }),
  startedAt: timestamp,
});
/** What a game day report reads of a failover or failback step's result (its report; the rest is kept as it is). */
const failoverResult = z.looseObject({
  kind: z.enum(['failover', 'failback']),
  status: text("the run's status, e.g. completed"),
  requestedAt: timestamp,
  steps: z.array(z.looseObject({ name: text('a step name'), state: text('a step state') })),
  rtoSeconds: secondsSpent.optional(),
});

/** An object restore verification must find (clusters[].restoreVerification.objects reads the same). */
const objectRef = z
  .strictObject({
    resource: z.enum(['namespaces', 'deployments', 'secrets', 'configmaps', 'services', 'serviceaccounts']),
    namespace: text('a namespace').optional(),
    name: text('a name'),
  })
  .refine((o) => (o.resource === 'namespaces') === (o.namespace === undefined), {
    error: 'namespace is required for namespaced resources and absent for namespaces',
  }) satisfies z.ZodType<ObjectRef>;

const node = text('a Node name').describe('A Node, by name');
const etcdMember = text('an etcd member name').describe('An etcd member, by its etcd name (clusters[].controlPlane.etcdMembers[].name)');
const allowEmptyDir = z.boolean().optional().describe('Evict Pods with emptyDir volumes (their data is lost). Default: false');
/** Names a run's objects: the workflow ID and run ID (`${{ run.id }}`, `${{ run.runId }}`). */
/** The preflightEtcdRestore's answer, as later restore steps take it (checked loosely: the activity wrote it). */
const restorePlan = z
  .looseObject({
    ok: z.literal(true),
    cluster,
    runId: text('the run ID'),
    members: z.array(z.looseObject({ name: text('a member name') })),
  })
  .transform((p) => p as unknown as EtcdRestorePreflight);
const thisRun = { workflowId: text('the workflow ID, ${{ run.id }}'), runId: text('the run ID, ${{ run.runId }}') };
const podRef = z.looseObject({ namespace: text('a namespace'), name: text('a Pod name'), uid: text("the Pod's UID") });
/** A Pod of a node preflight's plan (its `pods`), as verifyPodsMoved reads it. */
const drainPod = z.looseObject({
  namespace: text('a namespace'),
  name: text('a Pod name'),
  uid: text("the Pod's UID"),
  action: z.enum(['evict', 'skip', 'blocked']),
  workload: z
    .strictObject({ kind: z.enum(['Deployment', 'StatefulSet']), namespace: text('a namespace'), name: text('a name') })
    .optional(),
});
const nodePool = z.strictObject({
  labels: z.record(z.string(), z.string()),
  taints: z.array(z.strictObject({ key: text('a taint key'), value: z.string().optional(), effect: text('a taint effect') })),
});

const failoverInput = z.strictObject({
  app,
  from: cluster.describe('The cluster the app moves from'),
  to: cluster.describe('The cluster the app moves to'),
  reason: text('a reason').describe('Why: recorded in the plan, the traffic decision and the report'),
  /**
   * Approve at once, naming who approved. A runbook that has its own `approval:` step before the
   * failover passes its approver here so nobody is asked twice; without it the failover waits for
   * `lifeboat failover approve` after its preflight and plan, as a hand-started one does.
   */
  autoApprove: z.strictObject({ approver: text('who approved'), force: z.boolean().optional() }).optional(),
}) satisfies z.ZodType<FailoverInput>;

const claimRef = {
  cluster,
  namespace: text('a namespace'),
  claim: text('a PersistentVolumeClaim name').describe('A PersistentVolumeClaim, by name'),
};
const workloadKind = z.enum(['StatefulSet', 'Deployment'], { error: 'expected StatefulSet or Deployment' });
/** A witness step's result, as the decide step reads it (checked loosely: the activity wrote it). */
const reachability = z
  .looseObject({
    component: text('what was asked'),
    state: z.enum(['reachable', 'unreachable', 'error']),
    healthy: z.boolean(),
    detail: z.string(),
  })
  .transform((w) => w as unknown as ReachabilityWitness);
const siteView = z
  .looseObject({
    cluster,
    peer: cluster,
    state: z.enum(['reachable', 'unreachable', 'error', 'stale', 'missing', 'unreadable']),
    detail: z.string(),
  })
  .transform((w) => w as unknown as SiteWitnessView);

/** Which data check: the run's URL, a named app's, or the one app's running in the namespace (activities/data-check). */
const dataCheckRequest = z.strictObject({
  cluster: cluster.describe('The cluster the run is on: a command check gets its KUBECONFIG'),
  namespace: text('a namespace').describe('Where what was restored lives: the app is found by it when none is named'),
  app: z
    .string()
    .optional()
    .describe('The app whose dataCheck runs. Empty: the one configured app running in the namespace on the cluster'),
  url: z
    .union([z.literal(''), z.url({ protocol: /^https?$/, error: 'expected an http or https URL, or empty' })])
    .optional()
    .describe("An HTTP GET expecting 200 given with the run: it wins over the app's configured check. Empty: none"),
  bodyContains: z.string().optional().describe('With url: a text the body must contain. Empty: none'),
}) satisfies z.ZodType<DataCheckRequest>;

const inputs: Record<BlockName, z.ZodType> = {
  clusterHealth: z.strictObject({
    clusters: names('a configured cluster name').min(1, { error: 'expected at least one cluster' }),
  }) satisfies z.ZodType<ClusterHealthInput>,
  etcdSnapshot: z.strictObject({
    cluster,
    skipRetention: z.boolean().optional().describe('Skip the retention step. Default: false'),
  }) satisfies z.ZodType<EtcdSnapshotInput>,
  veleroBackup: z
    .strictObject({
      cluster: cluster.optional().describe("Cluster to back up. Default: the app's cluster"),
      app: app.optional().describe('App whose namespaces, resources, selector and TTL are the defaults'),
      includeNamespaces: names('a namespace').optional(),
      excludeNamespaces: names('a namespace').optional(),
      includeResources: names('a resource as Velero names it').optional(),
      excludeResources: names('a resource as Velero names it').optional(),
      labelSelector: z.record(z.string(), z.string()).optional(),
      ttl: z
        .string()
        .regex(/^(?=\d)(\d+h)?(\d+m)?(\d+s)?$/, { error: 'expected a Go duration like 720h or 24h30m' })
        .optional(),
      storageLocation: text('a BackupStorageLocation name').optional(),
      timeoutSeconds: seconds.optional(),
    })
    .refine((input) => input.cluster !== undefined || input.app !== undefined, {
      error: 'expected cluster or app (or both)',
    }) satisfies z.ZodType<VeleroBackupInput>,
  restoreVerification: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('etcd'),
      cluster,
      snapshotId: text('a snapshot id').optional().describe('Default: the newest uploaded or verified snapshot'),
      objects: z.array(objectRef).optional().describe("Checked in addition to the cluster's configured objects"),
    }),
    z.strictObject({
      kind: z.literal('velero'),
      app,
      backupName: text('a Velero Backup name').optional().describe("Default: the newest Completed backup of the app's namespaces"),
    }),
  ]) satisfies z.ZodType<RestoreVerificationInput>,
  failover: failoverInput,
  failback: failoverInput,
  gameDay: z.strictObject({
    clusters: names('a configured cluster name').optional(),
    apps: names('a configured app name').optional(),
    freshBackups: z.boolean().optional(),
    failover: z.boolean().optional(),
  }) satisfies z.ZodType<GameDayInput>,
  scaleDeployment: z.strictObject({
    cluster,
    namespace: text('a namespace'),
    name: text('a Deployment name'),
    replicas: z.int().min(0, { error: 'expected a whole number of replicas, 0 or more' }),
  }) satisfies z.ZodType<ScaleDeploymentInput>,
  cordonNode: z.strictObject({ cluster, node: text('a Node name') }) satisfies z.ZodType<NodeInput>,
  preflightNode: z.strictObject({
    cluster,
    node,
    allowEmptyDir,
    failOnBlockers: z.boolean().optional().describe('Fail as PreflightFailed when something blocks. Default: false'),
  }) satisfies z.ZodType<PreflightNodeInput>,
  drainNode: z.strictObject({
    cluster,
    node,
    allowEmptyDir,
    concurrency: z.int().min(1).max(50).optional().describe('Evictions in flight at once. Default: 10'),
    timeoutSeconds: seconds.describe('How long to wait for disruption budgets before returning what they still block'),
  }) satisfies z.ZodType<DrainNodeInput>,
  deletePods: z.strictObject({ cluster, pods: z.array(podRef) }),
  fenceNode: z.strictObject({ cluster, node, ...thisRun }) satisfies z.ZodType<FenceNodeInput>,
  taintOutOfService: z.strictObject({ cluster, node }) satisfies z.ZodType<NodeRef>,
  removeOutOfServiceTaint: z.strictObject({ cluster, node }) satisfies z.ZodType<NodeRef>,
  releaseFencedNodePods: z.strictObject({ cluster, node, timeoutSeconds: seconds }) satisfies z.ZodType<NodeRef & DeadlineInput>,
  waitVolumesDetached: z.strictObject({ cluster, node, timeoutSeconds: seconds }) satisfies z.ZodType<NodeRef & DeadlineInput>,
  deleteNode: z.strictObject({
    cluster,
    node,
    uid: text("the Node's UID").optional().describe('Delete only this Node, not a new one of the same name'),
  }),
  provisionNode: z.strictObject({ cluster, replacing: node, pool: nodePool, ...thisRun }) satisfies z.ZodType<ProvisionNodeInput>,
  waitNodeReady: z.strictObject({ cluster, node, timeoutSeconds: seconds }) satisfies z.ZodType<WaitNodeReadyInput>,
  verifyPodsMoved: z.strictObject({ cluster, node, pods: z.array(drainPod), timeoutSeconds: seconds }),
  uncordonNode: z.strictObject({ cluster, node: text('a Node name') }) satisfies z.ZodType<NodeInput>,
  planEtcdMemberReplacement: z.strictObject({ cluster, member: etcdMember }),
  moveEtcdLeaderOff: z.strictObject({ cluster, memberId: text('an etcd member id (hex, as etcdctl prints it)') }),
  stopEtcdMember: z.strictObject({ cluster, member: etcdMember }) satisfies z.ZodType<EtcdMemberRef>,
  removeEtcdMember: z.strictObject({ cluster, memberId: text('an etcd member id (hex, as etcdctl prints it)') }),
  moveEtcdDataAside: z.strictObject({ cluster, member: etcdMember, runId: thisRun.runId }) satisfies z.ZodType<MoveEtcdDataAsideInput>,
  addEtcdLearner: z.strictObject({ cluster, name: etcdMember, peerUrl: z.url({ error: "expected the member's peer URL" }) }),
  startEtcdMember: z.strictObject({
    cluster,
    member: etcdMember,
    initialCluster: text('--initial-cluster, name=peerURL,...'),
  }) satisfies z.ZodType<StartEtcdMemberInput>,
  promoteEtcdLearner: z.strictObject({ cluster, memberId: text('an etcd member id (hex, as etcdctl prints it)'), timeoutSeconds: seconds }),
  preflightEtcdRestore: z.strictObject({
    cluster,
    runId: thisRun.runId,
    snapshotId: z.string().optional().describe('Restore exactly this snapshot. Empty or absent: the newest verified one'),
    before: z
      .string()
      .optional()
      .describe('The newest verified snapshot taken before this ISO-8601 time (with a zone). Empty or absent: no limit'),
    force: z.boolean().optional().describe('Allow a snapshot that was never verified. Default: false'),
    allowUnsigned: z
      .boolean()
      .optional()
      .describe('Allow a snapshot whose manifest is unsigned (written before manifests were signed). Default: false'),
  }) satisfies z.ZodType<PreflightEtcdRestoreInput>,
  stopControlPlaneComponent: z.strictObject({
    cluster,
    component: z.enum(controlPlaneComponents),
  }) satisfies z.ZodType<ControlPlaneComponentInput>,
  startControlPlaneComponent: z.strictObject({
    cluster,
    component: z.enum(controlPlaneComponents),
  }) satisfies z.ZodType<ControlPlaneComponentInput>,
  restartControlPlaneComponent: z.strictObject({
    cluster,
    component: z.enum(controlPlaneComponents),
  }) satisfies z.ZodType<ControlPlaneComponentInput>,
  stopEtcdMembers: z.strictObject({ cluster }),
  startEtcdMembers: z.strictObject({ cluster }),
  moveEtcdDataDirsAside: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan }),
  restoreEtcdMembers: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan }),
  rollBackEtcdDataDirs: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan }),
  waitEtcdRestored: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan, timeoutSeconds: seconds }),
  checkRestoredApi: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan, timeoutSeconds: seconds }),
  verifyEtcdRestoreWorkloads: z.strictObject({
    cluster,
    deployments: z.array(text('a Deployment as namespace/name')),
    timeoutSeconds: seconds,
  }),
  removeStagedSnapshot: z.strictObject({ runId: thisRun.runId }),
  removeRestoreLeftovers: z.strictObject({ cluster, runId: thisRun.runId, plan: restorePlan }),
  claimOwner: z.strictObject(claimRef) satisfies z.ZodType<ClaimRef>,
  findClaimBackup: z.strictObject({ ...claimRef, workflowId: thisRun.workflowId }),
  scaleWorkload: z.strictObject({
    cluster,
    namespace: text('a namespace'),
    kind: workloadKind,
    name: text('a StatefulSet or Deployment name'),
    replicas: z.int().min(0, { error: 'expected a whole number of replicas, 0 or more' }),
    releasesClaim: text('a PersistentVolumeClaim name').optional().describe('Scaling down: wait until no Pod uses this claim'),
    waitReady: z.boolean().optional().describe('Scaling up: wait until the replicas are Ready. Default: false'),
    timeoutSeconds: seconds.optional().describe('Default: 300'),
  }) satisfies z.ZodType<ScaleWorkloadInput>,
  keepLostClaim: z.strictObject({
    ...claimRef,
    claimUid: text("the claim's UID, as the plan read it"),
    volume: z.string().describe("The claim's PersistentVolume, as the plan read it; empty when it had none"),
    lostClaim: text('the name of the claim that keeps the old volume'),
    workflowId: thisRun.workflowId,
    timeoutSeconds: seconds.optional().describe('Default: 120'),
  }) satisfies z.ZodType<KeepLostClaimInput>,
  restoreClaim: z.strictObject({
    ...claimRef,
    backup: text('a Velero Backup name'),
    labels: z.record(z.string(), z.string()).describe("The claim's labels: the restore selects by them"),
    csiSnapshot: z.boolean().describe('The backup holds a CSI VolumeSnapshot of the claim'),
    workflowId: thisRun.workflowId,
    timeoutSeconds: seconds.optional().describe('Default: 600'),
  }) satisfies z.ZodType<RestoreClaimInput>,
  waitClaimBound: z.strictObject({ ...claimRef, timeoutSeconds: seconds }),
  waitForCondition: z.strictObject({
    cluster,
    apiVersion: text('an apiVersion, e.g. apps/v1'),
    kind: text('a kind, e.g. Deployment'),
    namespace: text('a namespace').optional().describe('Absent for cluster-scoped objects'),
    name: text('a name'),
    condition: text('a condition type, e.g. Available').describe('The status condition type'),
    status: z.enum(['True', 'False', 'Unknown']).default('True'),
    timeoutSeconds: seconds.optional().describe('Default: 300'),
  }) satisfies z.ZodType<WaitForConditionInput>,
  gameDayReport: z.strictObject({
    verifications: z.array(verificationResult).describe('restoreVerification results'),
    failovers: z
      .array(z.strictObject({ name: app, from: cluster, to: cluster, failover: failoverResult, failback: failoverResult }))
      .default([])
      .describe("Each app's failover and failback results"),
  }),
  notify: z.strictObject({
    webhookEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'expected the name of an environment variable, e.g. LIFEBOAT_SLACK_WEBHOOK' }),
    text: text('the message'),
    timeoutSeconds: seconds.optional().describe('Default: 10'),
  }) satisfies z.ZodType<NotifyInput>,
  probeClusterApi: z.strictObject({ cluster }),
  probeClusterEtcd: z.strictObject({ cluster }),
  probeObjectStore: z.strictObject({}),
  readSiteWitness: z.strictObject({
    cluster: cluster.describe('The cluster whose witness is read'),
    peer: cluster.describe('The cluster it watches'),
  }),
  decidePartition: z.strictObject({
    from: cluster.describe('The cluster the app runs on now'),
    to: cluster.describe('Its standby'),
    sourceApi: reachability,
    sourceEtcd: reachability,
    targetApi: reachability,
    targetEtcd: reachability,
    objectStore: reachability,
    standbyView: siteView.describe("The standby's witness of the source"),
    sourceView: siteView.optional().describe("The source's witness of the standby (shown only)"),
    expectRow: z.enum(partitionRows).optional().describe('Fail unless the decision is this row (a re-check before acting)'),
  }) satisfies z.ZodType<DecidePartitionInput>,
  resolveDataCheck: dataCheckRequest,
  runDataCheck: dataCheckRequest,
  httpCheck: z.strictObject({
    url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }),
    expectStatus: z.int().min(100).max(599).default(200),
    bodyContains: z.string().optional(),
    timeoutSeconds: seconds.default(10),
  }) satisfies z.ZodType<HttpCheckInput>,
};

function buildingBlock(name: BlockName): BuildingBlock {
  const entry = blockCatalog[name];
  const common = { name, description: entry.description, input: inputs[name], readOnly: 'readOnly' in entry ? entry.readOnly : false };
  return entry.kind === 'activity' ? { ...common, kind: 'activity', defaultRetry: entry.defaultRetry } : { ...common, kind: 'workflow' };
}

/** Every block a runbook step may name, with its input schema: what `parseRunbook` is given. */
export const runbookBlocks: BlockRegistry = defineBlocks((Object.keys(blockCatalog) as BlockName[]).map(buildingBlock));
