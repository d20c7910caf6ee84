// The building blocks a runbook step may name, as the interpreter runs them: which workflow type or
// activity, under which workflow ID, with which timeouts and which failures retrying cannot fix. Pure
// and free of zod, so the interpreter imports it in the workflow sandbox; the input schemas the
// validator checks `with:` against live beside it in registry.ts.
import { failureTypes, type FailureType } from '../failures.js';
import { failoverWorkflowId } from '../workflow-ids.js';
import type { RetryProfileName } from './retry-profiles.js';

export interface WorkflowBlock {
  kind: 'workflow';
  /** The registered workflow type the step starts as a child. */
  workflowType: string;
  description: string;
  /**
   * The child's workflow ID. Default: `<runbook run's workflow ID>/<step path>`. Blocks that are locks
   * (a failover of an app) take the one shared lock ID instead, so a runbook and a person never move
   * the same app at once.
   */
  workflowId?: (input: Record<string, unknown>) => string;
  /** Whether a plan (dry run) may start it: it changes nothing. Default: false. */
  readOnly?: boolean;
  /** How a plan asks the block for its own read-only plan (failover has one), if it can. */
  planInput?: (input: Record<string, unknown>) => Record<string, unknown>;
  /**
   * The child takes `requestedBy`, and the interpreter sets it to who started the runbook (never the
   * document): the approval rules of a failover hold for one a runbook starts.
   */
  takesRequester?: true;
}

export interface ActivityBlock {
  kind: 'activity';
  /** The registered activity it calls. */
  activity: string;
  description: string;
  /** Attempt timeout unless the step sets `timeout:`. */
  startToCloseTimeout: string;
  /** Long waits heartbeat; a lost worker is noticed within this. */
  heartbeatTimeout?: string;
  defaultRetry: RetryProfileName;
  nonRetryable: FailureType[];
  readOnly?: boolean;
}

export type CatalogBlock = WorkflowBlock | ActivityBlock;

const kubernetesNonRetryable: FailureType[] = [
  failureTypes.UnknownCluster,
  failureTypes.KubernetesForbidden,
  failureTypes.WorkloadMissing,
  failureTypes.InvalidRunbookInput,
];

const etcdMembershipNonRetryable: FailureType[] = [
  failureTypes.UnknownCluster,
  failureTypes.InvalidRunbookInput,
  failureTypes.UnknownEtcdMember,
  failureTypes.EtcdMembershipUnclear,
  failureTypes.EtcdQuorumLost,
  failureTypes.EtcdReplacementWouldLoseQuorum,
  failureTypes.EtcdMembershipChangeRefused,
];
const controlPlaneNonRetryable: FailureType[] = [
  failureTypes.UnknownCluster,
  failureTypes.InvalidRunbookInput,
  failureTypes.UnknownEtcdMember,
  failureTypes.ControlPlaneNotConfigured,
  failureTypes.ControlPlaneActionFailed,
  failureTypes.UnsafeEtcdDataDir,
  failureTypes.EtcdMemberRunning,
];
const etcdRestoreNonRetryable: FailureType[] = [
  ...controlPlaneNonRetryable,
  failureTypes.EncryptionNotConfigured,
  failureTypes.SnapshotCorrupt,
  failureTypes.SnapshotNotFound,
  failureTypes.SnapshotOfAnotherCluster,
  failureTypes.SnapshotNotVerified,
  failureTypes.SnapshotFailedVerification,
  failureTypes.NoRestorableSnapshot,
  failureTypes.InvalidEtcdRecoveryRequest,
  failureTypes.InsufficientDisk,
  failureTypes.EtcdutlTooOld,
];

export const blockCatalog = {
  clusterHealth: {
    kind: 'workflow',
    workflowType: 'clusterHealth',
    description: 'Reach every component of the clusters (API, Nodes, etcd, Velero, object store)',
    readOnly: true,
  },
  etcdSnapshot: {
    kind: 'workflow',
    workflowType: 'etcdSnapshot',
    description: 'Stream an encrypted etcd snapshot of a cluster to the object store, then apply retention',
  },
  veleroBackup: {
    kind: 'workflow',
    workflowType: 'veleroBackup',
    description: 'Take a Velero backup of a cluster or an app and wait for it',
  },
  restoreVerification: {
    kind: 'workflow',
    workflowType: 'restoreVerification',
    description: 'Prove a backup restores: an etcd snapshot in a scratch control plane, or a Velero backup in another cluster',
  },
  failover: {
    kind: 'workflow',
    workflowType: 'failover',
    takesRequester: true,
    description: 'Move an app to its standby: preflight, plan, approval, fence, bring up, switch traffic, verify',
    workflowId: (input) => failoverWorkflowId(String(input.app)),
    planInput: (input) => ({ ...input, dryRun: true }),
  },
  failback: {
    kind: 'workflow',
    workflowType: 'failback',
    takesRequester: true,
    description: 'Move an app back home, in restore mode with a fresh backup of where it ran',
    workflowId: (input) => failoverWorkflowId(String(input.app)),
    planInput: (input) => ({ ...input, dryRun: true }),
  },
  gameDay: {
    kind: 'workflow',
    workflowType: 'gameDay',
    takesRequester: true,
    description: 'Every verification (and failovers) of a game day, with RTO and RPO against objectives and a report',
  },
  scaleDeployment: {
    kind: 'activity',
    activity: 'scaleDeployment',
    description: 'Set the replicas of a Deployment (conditional on what was read; no-op when already there)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  cordonNode: {
    kind: 'activity',
    activity: 'cordonNode',
    description: 'Mark a Node unschedulable (no-op when it already is)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  uncordonNode: {
    kind: 'activity',
    activity: 'uncordonNode',
    description: 'Mark a Node schedulable again (no-op when it already is)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  preflightNode: {
    kind: 'activity',
    activity: 'preflightNode',
    description:
      "What replacing a Node involves: its Pods (what moves, what is left, what blocks), the disruption budgets that cover them, the other Nodes' free capacity, the cluster's Nodes already out of service; PreflightFailed, carrying all that, when something blocks",
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeNotFound, failureTypes.PreflightFailed],
    readOnly: true,
  },
  drainNode: {
    kind: 'activity',
    activity: 'drainNode',
    description:
      'Evict the Pods of a Node through the Eviction API, each as soon as its disruption budget allows; at the timeout, return what is still blocked and by which budget',
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'patient',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeNotFound],
  },
  deletePods: {
    kind: 'activity',
    activity: 'deletePods',
    description: 'Delete named Pods (each by its UID, so a successor of the same name is never touched), past their disruption budgets',
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  fenceNode: {
    kind: 'activity',
    activity: 'fenceNode',
    description: "Power a Node off through the cluster's node provider, or have it confirm that it is off",
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [
      ...kubernetesNonRetryable,
      failureTypes.NodeNotFenced,
      failureTypes.NodeProviderRejected,
      failureTypes.NodeProviderTokenMissing,
    ],
  },
  taintOutOfService: {
    kind: 'activity',
    activity: 'taintOutOfService',
    description: 'Taint a Node that is off node.kubernetes.io/out-of-service: its stateful Pods are force-deleted and their volumes detach',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeNotFound],
  },
  removeOutOfServiceTaint: {
    kind: 'activity',
    activity: 'removeOutOfServiceTaint',
    description: 'Remove the out-of-service taint from a Node (no-op when it has none or is gone)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  releaseFencedNodePods: {
    kind: 'activity',
    activity: 'releaseFencedNodePods',
    description:
      'Force-delete the Pods still bound to a fenced, out-of-service Node now, as the Pod garbage collector would on its own clock, so StatefulSets recreate them elsewhere; refuses a Node without the taint',
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeNotFound, failureTypes.NodeNotFenced, failureTypes.PodsNotReleased],
  },
  waitVolumesDetached: {
    kind: 'activity',
    activity: 'waitVolumesDetached',
    description: 'Wait until no VolumeAttachment names the Node',
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'patient',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.VolumesStillAttached],
    readOnly: true,
  },
  deleteNode: {
    kind: 'activity',
    activity: 'deleteNode',
    description: 'Delete a Node object (by its UID when given; no-op when it is gone)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: kubernetesNonRetryable,
  },
  provisionNode: {
    kind: 'activity',
    activity: 'provisionNode',
    description:
      "Ask the cluster's node provider for a Node in the same pool (labels, taints), named from the run so a retry finds its own",
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeProviderRejected, failureTypes.NodeProviderTokenMissing],
  },
  waitNodeReady: {
    kind: 'activity',
    activity: 'waitNodeReady',
    description: 'Wait until a Node has registered and is Ready',
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'patient',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.NodeNotReady],
    readOnly: true,
  },
  verifyPodsMoved: {
    kind: 'activity',
    activity: 'verifyPodsMoved',
    description:
      'Wait until every workload that had Pods on the Node is Available again with none of them there, and each StatefulSet Pod is back Ready elsewhere',
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'patient',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.PodsNotRescheduled],
    readOnly: true,
  },
  planEtcdMemberReplacement: {
    kind: 'activity',
    activity: 'planEtcdMemberReplacement',
    description:
      "The plan of replacing one etcd member: the member list with each member's health, the quorum now and after the removal; refuses (nothing changed) when the quorum is lost or would be",
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: etcdMembershipNonRetryable,
    readOnly: true,
  },
  moveEtcdLeaderOff: {
    kind: 'activity',
    activity: 'moveEtcdLeaderOff',
    description:
      'Hand the etcd leadership from a member about to be stopped to the most up-to-date healthy voting member (no-op when it does not lead)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: etcdMembershipNonRetryable,
  },
  stopEtcdMember: {
    kind: 'activity',
    activity: 'stopEtcdMember',
    description: "Stop one etcd member through the cluster's control-plane driver (a dead member is already stopped)",
    startToCloseTimeout: '2 minutes',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  removeEtcdMember: {
    kind: 'activity',
    activity: 'removeEtcdMember',
    description: "Remove a member from the etcd cluster's membership, by its id (no-op when it is gone)",
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: etcdMembershipNonRetryable,
  },
  moveEtcdDataAside: {
    kind: 'activity',
    activity: 'moveEtcdDataAside',
    description: "Move an etcd member's data dir aside, to a name derived from the run: renamed, never deleted",
    startToCloseTimeout: '2 minutes',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  addEtcdLearner: {
    kind: 'activity',
    activity: 'addEtcdLearner',
    description: 'Add a member to the etcd cluster as a learner (non-voting until promoted), or find the one an earlier attempt added',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: etcdMembershipNonRetryable,
  },
  startEtcdMember: {
    kind: 'activity',
    activity: 'startEtcdMember',
    description: "Start one etcd member to join the existing cluster, through the cluster's control-plane driver",
    startToCloseTimeout: '3 minutes',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  promoteEtcdLearner: {
    kind: 'activity',
    activity: 'promoteEtcdLearner',
    description: 'Promote a learner to a voting member as soon as it has caught up with the leader, then wait until every member answers',
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'patient',
    nonRetryable: [...etcdMembershipNonRetryable, failureTypes.EtcdLearnerNotCaughtUp],
  },
  preflightEtcdRestore: {
    kind: 'activity',
    activity: 'preflightEtcdRestore',
    description:
      "Everything that can refuse an etcd restore, before anything is stopped: the snapshot chosen, downloaded, decrypted, both sha256s checked and read by etcdutl; etcdutl on every member's host; free disk; the plan and its data-loss window",
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: etcdRestoreNonRetryable,
    readOnly: true,
  },
  stopControlPlaneComponent: {
    kind: 'activity',
    activity: 'stopControlPlaneComponent',
    description:
      "Stop every instance of a control-plane component (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet) through the cluster's driver",
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  startControlPlaneComponent: {
    kind: 'activity',
    activity: 'startControlPlaneComponent',
    description: "Start every instance of a control-plane component through the cluster's driver",
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  restartControlPlaneComponent: {
    kind: 'activity',
    activity: 'restartControlPlaneComponent',
    description: "Restart every instance of a control-plane component through the cluster's driver, so it re-lists from the API",
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  stopEtcdMembers: {
    kind: 'activity',
    activity: 'stopEtcdMembers',
    description: 'Stop every etcd member of the cluster through its driver',
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  startEtcdMembers: {
    kind: 'activity',
    activity: 'startEtcdMembers',
    description: 'Start every etcd member of the cluster as configured, on whatever its data dir holds',
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  moveEtcdDataDirsAside: {
    kind: 'activity',
    activity: 'moveEtcdDataDirsAside',
    description: "Move every stopped etcd member's data dir aside, to the restore plan's names: renamed, never deleted",
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  restoreEtcdMembers: {
    kind: 'activity',
    activity: 'restoreEtcdMembers',
    description:
      'etcdutl snapshot restore for every stopped member (a new cluster token, --bump-revision, --mark-compacted), written aside, marked with the run, renamed into place',
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: etcdRestoreNonRetryable,
  },
  rollBackEtcdDataDirs: {
    kind: 'activity',
    activity: 'rollBackEtcdDataDirs',
    description: "Undo a restore: stop every member, rename this run's restore aside (kept) and the old data dir back",
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  waitEtcdRestored: {
    kind: 'activity',
    activity: 'waitEtcdRestored',
    description:
      "Wait until every restored member answers with one leader at the bumped revision, then count its keys against the snapshot's inventory",
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...controlPlaneNonRetryable, failureTypes.EtcdRestoreNotHealthy],
    readOnly: true,
  },
  checkRestoredApi: {
    kind: 'activity',
    activity: 'checkRestoredApi',
    description:
      'Prove the restored API serves before any controller runs: /readyz, the named objects, resourceVersions above every one from before (old watches re-list); lists the Deployments the snapshot holds as Available',
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...controlPlaneNonRetryable, failureTypes.EtcdRestoreVerificationFailed],
    readOnly: true,
  },
  verifyEtcdRestoreWorkloads: {
    kind: 'activity',
    activity: 'verifyEtcdRestoreWorkloads',
    description: 'Wait until every Deployment the snapshot held as Available is Available again, observed by the restarted controllers',
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.EtcdRestoreVerificationFailed],
    readOnly: true,
  },
  removeRestoreLeftovers: {
    kind: 'activity',
    activity: 'removeRestoreLeftovers',
    description: "Remove what earlier attempts of this run's restore left unfinished on the members' hosts, and the staged snapshot",
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: controlPlaneNonRetryable,
  },
  removeStagedSnapshot: {
    kind: 'activity',
    activity: 'removeStagedSnapshot',
    description: "Remove this run's staged plaintext snapshot from the worker",
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '10 seconds',
    defaultRetry: 'standard',
    nonRetryable: [failureTypes.InvalidRunbookInput],
  },
  claimOwner: {
    kind: 'activity',
    activity: 'claimOwner',
    description:
      'The StatefulSet or Deployment whose Pods use a PersistentVolumeClaim (or whose claim template names it), with its replicas; ClaimOwnerUnknown when anything else uses it',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ClaimOwnerUnknown],
    readOnly: true,
  },
  findClaimBackup: {
    kind: 'activity',
    activity: 'findClaimBackup',
    description:
      'A claim now (UID, volume and its phase) and the newest Completed Velero backup whose resource list holds it: its age (RPO), whether it has a CSI VolumeSnapshot or pod volume backups of the data',
    startToCloseTimeout: '2 minutes',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ClaimNotFound, failureTypes.NoVeleroBackup, failureTypes.VeleroLocationNotFound],
    readOnly: true,
  },
  scaleWorkload: {
    kind: 'activity',
    activity: 'scaleWorkload',
    description:
      'Set the replicas of a StatefulSet or Deployment (no-op when it has them); scaling down, wait until no Pod uses a claim; scaling up, optionally until the replicas are Ready',
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ClaimInUse, failureTypes.WorkloadNotScaled],
  },
  keepLostClaim: {
    kind: 'activity',
    activity: 'keepLostClaim',
    description:
      "Keep a lost claim's volume, never deleting it: its PV set to Retain and marked with the run, the old claim deleted by its UID, the PV re-claimed by a claim named <claim>-lost-<run hash>",
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ClaimInUse, failureTypes.ClaimNameTaken],
  },
  restoreClaim: {
    kind: 'activity',
    activity: 'restoreClaim',
    description:
      "Restore a PersistentVolumeClaim in place from a Velero backup, as a Restore named after the run (from the backup's CSI VolumeSnapshot when it has one), and wait for it",
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [
      ...kubernetesNonRetryable,
      failureTypes.VeleroNotInstalled,
      failureTypes.VeleroNameTaken,
      failureTypes.VeleroRestoreTimedOut,
      failureTypes.VeleroLocationNotFound,
      failureTypes.ClaimNotRestored,
    ],
  },
  waitClaimBound: {
    kind: 'activity',
    activity: 'waitClaimBound',
    description: 'Wait until a PersistentVolumeClaim is Bound; ClaimNotBound, with the phase it reached, after the timeout',
    startToCloseTimeout: '1 hour',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ClaimNotBound],
    readOnly: true,
  },
  waitForCondition: {
    kind: 'activity',
    activity: 'waitForCondition',
    description: "Wait until a named object's status condition has the wanted status, heartbeating",
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'quick',
    nonRetryable: [...kubernetesNonRetryable, failureTypes.ConditionNotMet],
    readOnly: true,
  },
  gameDayReport: {
    kind: 'activity',
    activity: 'gameDayReport',
    description: "Judge a game day's verifications and failovers against their objectives and store its report (JSON, Markdown, HTML)",
    startToCloseTimeout: '2 minutes',
    defaultRetry: 'standard',
    nonRetryable: [failureTypes.InvalidRunbookInput],
  },
  notify: {
    kind: 'activity',
    activity: 'notify',
    description: "POST a message to an incoming webhook (Slack-compatible) whose URL is in the worker's environment",
    startToCloseTimeout: '1 minute',
    defaultRetry: 'standard',
    nonRetryable: [failureTypes.InvalidRunbookInput, failureTypes.NotificationRejected],
  },
  probeClusterApi: {
    kind: 'activity',
    activity: 'probeClusterApi',
    description: "Whether a cluster's API answers the worker (/readyz within 5 s): reachable, unreachable or error, never an exception",
    startToCloseTimeout: '30 seconds',
    defaultRetry: 'none',
    nonRetryable: [failureTypes.UnknownCluster, failureTypes.InvalidRunbookInput],
    readOnly: true,
  },
  probeClusterEtcd: {
    kind: 'activity',
    activity: 'probeClusterEtcd',
    description: "Whether any member of a cluster's etcd answers the worker (each endpoint within 10 s): reachable, unreachable or error",
    startToCloseTimeout: '1 minute',
    defaultRetry: 'none',
    nonRetryable: [failureTypes.UnknownCluster, failureTypes.InvalidRunbookInput],
    readOnly: true,
  },
  probeObjectStore: {
    kind: 'activity',
    activity: 'probeObjectStore',
    description: 'Whether the object store answers the worker (a write, read and delete within 10 s each): reachable or unreachable',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'none',
    nonRetryable: [failureTypes.InvalidRunbookInput],
    readOnly: true,
  },
  readSiteWitness: {
    kind: 'activity',
    activity: 'readSiteWitness',
    description:
      "What a cluster's site witness (lifeboat witness) says of its peer, read from its Lease through that cluster's API: reachable or unreachable (fresh), stale (the witness is down), missing, unreadable",
    startToCloseTimeout: '30 seconds',
    defaultRetry: 'none',
    nonRetryable: [...kubernetesNonRetryable],
    readOnly: true,
  },
  decidePartition: {
    kind: 'activity',
    activity: 'decidePartition',
    description:
      'The network partition decision table over the witnesses: source dead (fail over with force), a partition between sites, the worker isolated, healthy, or which witness is missing; with expectRow, fails as PartitionDecisionChanged when the row is now another',
    startToCloseTimeout: '30 seconds',
    defaultRetry: 'none',
    nonRetryable: [failureTypes.InvalidRunbookInput, failureTypes.PartitionDecisionChanged],
    readOnly: true,
  },
  resolveDataCheck: {
    kind: 'activity',
    activity: 'resolveDataCheck',
    description:
      "Which data check a run takes: the run's explicit URL, else the named app's dataCheck, else that of the one configured app running in the namespace on the cluster (none when no app or no check); DataCheckUnresolved when it cannot be told",
    startToCloseTimeout: '30 seconds',
    defaultRetry: 'quick',
    nonRetryable: [
      failureTypes.UnknownCluster,
      failureTypes.UnknownApp,
      failureTypes.DataCheckUnresolved,
      failureTypes.InvalidRunbookInput,
    ],
    readOnly: true,
  },
  runDataCheck: {
    kind: 'activity',
    activity: 'runDataCheck',
    description:
      "Run an app's data check (resolved as resolveDataCheck does): an HTTP GET, or its command in a process group of its own with KUBECONFIG for the cluster, killed at its timeout; reports which check ran and its bounded output",
    // Past the longest configurable check (30m, worker/config dataCheckMaxTimeoutSeconds) and its kill grace.
    startToCloseTimeout: '32 minutes',
    heartbeatTimeout: '30 seconds',
    defaultRetry: 'standard',
    nonRetryable: [
      failureTypes.UnknownCluster,
      failureTypes.UnknownApp,
      failureTypes.DataCheckUnresolved,
      failureTypes.DataCheckFailed,
      failureTypes.DataCheckTimedOut,
      failureTypes.DataCheckNotRunnable,
      failureTypes.InvalidRunbookInput,
    ],
    readOnly: true,
  },
  httpCheck: {
    kind: 'activity',
    activity: 'httpCheck',
    description: 'GET a URL and expect a status (and optionally a text in the body)',
    startToCloseTimeout: '1 minute',
    defaultRetry: 'quick',
    nonRetryable: [failureTypes.InvalidRunbookInput],
    readOnly: true,
  },
} as const satisfies Record<string, CatalogBlock>;

export type BlockName = keyof typeof blockCatalog;

export const catalogBlock = (name: string): CatalogBlock | undefined =>
  Object.hasOwn(blockCatalog, name) ? (blockCatalog as Record<string, CatalogBlock>)[name] : undefined;
