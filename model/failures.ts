// The one registry of failure types. Activities throw `ApplicationFailure`s with these types; workflows
// list them in `nonRetryableErrorTypes` and match failures by them; the CLI reads them. A type written
// as a string anywhere else could drift from this list and silently make an error retryable.

/** Every failure type Lifeboat raises, by name: the key is the type. */
export const failureTypes = {
  // Configuration and input
  /** A cluster name this worker has no configuration for. */
  UnknownCluster: 'UnknownCluster',
  /** An app name this worker has no configuration for. */
  UnknownApp: 'UnknownApp',
  /** The app has no `failover:` configuration. */
  AppHasNoFailover: 'AppHasNoFailover',
  InvalidFailoverRequest: 'InvalidFailoverRequest',
  InvalidVeleroBackupInput: 'InvalidVeleroBackupInput',
  InvalidTrafficSwitchInput: 'InvalidTrafficSwitchInput',
  EncryptionNotConfigured: 'EncryptionNotConfigured',
  UnknownGameDayTarget: 'UnknownGameDayTarget',
  EmptyGameDay: 'EmptyGameDay',

  // Kubernetes
  ClusterUnreachable: 'ClusterUnreachable',
  KubernetesForbidden: 'KubernetesForbidden',
  WorkloadMissing: 'WorkloadMissing',
  AppNotAvailable: 'AppNotAvailable',
  /** Fenced, yet the source's Deployments still had Ready Pods when the fence's time was up. */
  SourceStillServing: 'SourceStillServing',

  // etcd and the object store
  EtcdTlsError: 'EtcdTlsError',
  EtcdAuthError: 'EtcdAuthError',
  ObjectStoreAccessDenied: 'ObjectStoreAccessDenied',
  ObjectStoreMisconfigured: 'ObjectStoreMisconfigured',
  /** Retryable: a fresh stream may well be intact. */
  SnapshotChecksumMismatch: 'SnapshotChecksumMismatch',
  /** Retryable: the member a snapshot streamed from died, hung or was cut off mid-stream; a retry picks a member that answers. */
  EtcdStreamInterrupted: 'EtcdStreamInterrupted',
  StoredObjectMismatch: 'StoredObjectMismatch',
  SnapshotIdCollision: 'SnapshotIdCollision',
  /**
   * Retention could not delete every object it meant to (the store refused some keys). Retryable only
   * when every refusal says the store was busy; its details carry the RetentionResult of what was done.
   */
  RetentionDeleteFailed: 'RetentionDeleteFailed',
  /**
   * Retryable: the object store asked Lifeboat to slow down (S3's 503 SlowDown, MinIO's 429
   * TooManyRequests) on every attempt the S3 client made with backoff; the activity's retries wait longer.
   */
  ObjectStoreThrottled: 'ObjectStoreThrottled',

  /**
   * A manifest that is not what Lifeboat wrote: its signature does not match its content (edited), it
   * is another snapshot's (swapped), an older one written over a newer id (rolled back), or a signed
   * manifest whose signature was removed. Never used, never deleted by retention until a person looks.
   */
  ManifestTampered: 'ManifestTampered',
  /** A manifest signed with a keyring key id this worker does not have: its signature cannot be checked. */
  ManifestKeyUnknown: 'ManifestKeyUnknown',
  /** A manifest written before manifests were signed, asked to be restored without allowUnsigned. */
  ManifestUnsigned: 'ManifestUnsigned',

  // Restore verification
  NoSnapshotToVerify: 'NoSnapshotToVerify',
  SnapshotNotFound: 'SnapshotNotFound',
  ScratchToolMissing: 'ScratchToolMissing',
  /** The scratch base directory is not this user's private directory (a link, another owner, writable by others). */
  ScratchDirUnsafe: 'ScratchDirUnsafe',
  /** The scratch directory's filesystem has too little free space for the restore (a retry finds it the same). */
  ScratchDiskFull: 'ScratchDiskFull',
  NoVeleroBackup: 'NoVeleroBackup',
  VeleroBackupNotUsable: 'VeleroBackupNotUsable',
  VeleroBackupNotSynced: 'VeleroBackupNotSynced',
  VeleroRestoreNotConfigured: 'VeleroRestoreNotConfigured',
  VeleroRestoreTimedOut: 'VeleroRestoreTimedOut',
  ScratchNamespaceTaken: 'ScratchNamespaceTaken',
  ScratchCleanupTimedOut: 'ScratchCleanupTimedOut',
  /** A verification ran and a check failed; its details carry the VerificationResult. */
  VerificationFailed: 'VerificationFailed',

  // Velero
  VeleroNotInstalled: 'VeleroNotInstalled',
  VeleroNameTaken: 'VeleroNameTaken',
  VeleroBackupTimedOut: 'VeleroBackupTimedOut',
  VeleroBackupGone: 'VeleroBackupGone',
  VeleroLocationNotFound: 'VeleroLocationNotFound',

  // Storage failure (a PersistentVolumeClaim whose volume is lost)
  /** The claim to recover does not exist (and is not this run's). */
  ClaimNotFound: 'ClaimNotFound',
  /** No StatefulSet or Deployment uses the claim, or Pods of something else do: nothing to scale down safely. */
  ClaimOwnerUnknown: 'ClaimOwnerUnknown',
  /** Pods still used the claim after its owner was scaled to zero. */
  ClaimInUse: 'ClaimInUse',
  /** A claim of the name the run would create exists and is not this run's. */
  ClaimNameTaken: 'ClaimNameTaken',
  /** Velero finished the Restore without bringing the claim back (its warnings say why). */
  ClaimNotRestored: 'ClaimNotRestored',
  /** The restored claim did not bind within its time; the details say the phase it reached. */
  ClaimNotBound: 'ClaimNotBound',
  /** A scaled workload did not reach its replicas in time. */
  WorkloadNotScaled: 'WorkloadNotScaled',

  // An app's data check (apps[].dataCheck, or a runbook's explicit dataCheckUrl)
  /** Which data check to run cannot be told: the named app has none, is not the claim's, or several apps own the namespace. */
  DataCheckUnresolved: 'DataCheckUnresolved',
  /** The data check ran and said no: the command exited non-zero, or the HTTP answer was not the expected one. */
  DataCheckFailed: 'DataCheckFailed',
  /** The data check's command did not finish within its timeout; its process group was killed. */
  DataCheckTimedOut: 'DataCheckTimedOut',
  /** The data check's command could not be started (no such program, not executable, a worker variable it names unset). */
  DataCheckNotRunnable: 'DataCheckNotRunnable',
  /** Retryable: the HTTP data check got no answer, or a 502, 503 or 504 (the app may still be starting). */
  DataCheckUnavailable: 'DataCheckUnavailable',

  // Traffic
  NoTrafficTargets: 'NoTrafficTargets',
  /** The DNSEndpoint's namespace or ExternalDNS's CRD is missing in the configured cluster. */
  DNSEndpointUnavailable: 'DNSEndpointUnavailable',
  /** Someone else changed the DNSEndpoint's spec between Lifeboat's read and its write. */
  TrafficRecordConflict: 'TrafficRecordConflict',
  /** The webhook answered a 4xx other than 408 and 429, or a redirect. */
  TrafficSwitchRejected: 'TrafficSwitchRejected',
  /** The status URL answered a 4xx other than 408 and 429, or a redirect. */
  TrafficStatusRejected: 'TrafficStatusRejected',
  /** `tokenEnv` names a variable the worker's environment lacks. */
  TrafficWebhookTokenMissing: 'TrafficWebhookTokenMissing',
  /** Retryable: 5xx, 408 or 429. */
  TrafficWebhookUnavailable: 'TrafficWebhookUnavailable',
  /** Retryable: no answer within `timeout`. */
  TrafficWebhookTimeout: 'TrafficWebhookTimeout',
  /** Retryable: connection refused, reset, DNS failure. */
  TrafficWebhookUnreachable: 'TrafficWebhookUnreachable',

  // Runbook outcomes (raised by workflows)
  PreflightFailed: 'PreflightFailed',
  ApprovalTimedOut: 'ApprovalTimedOut',
  /** An approval given up front (`--auto-approve --approver`) that the approval rules refuse: not an approver, the requester, not allowed to force. */
  ApprovalRefused: 'ApprovalRefused',
  /** The source is unreachable and cannot be fenced, and the approval did not say `force`. */
  ForceRequired: 'ForceRequired',
  FailbackBackupFailed: 'FailbackBackupFailed',
  RestoreFailed: 'RestoreFailed',
  TrafficNotSwitched: 'TrafficNotSwitched',
  FailoverFailed: 'FailoverFailed',
  FailoverAborted: 'FailoverAborted',
  /** A forced failover's source was never fenced: both sites may serve. */
  SourceNotFenced: 'SourceNotFenced',

  // etcd recovery (member replacement and restore; the rules are in model/etcd-recovery.ts)
  /** A restore or replacement request the rules cannot act on (both a snapshot and a time, a time without a zone, a bad run ID). */
  InvalidEtcdRecoveryRequest: 'InvalidEtcdRecoveryRequest',
  /** Retryable: the snapshot listing missed manifests, so "the newest" could be the wrong one. */
  SnapshotListingIncomplete: 'SnapshotListingIncomplete',
  /** A snapshot whose manifest names another cluster: never restored, not even with force. */
  SnapshotOfAnotherCluster: 'SnapshotOfAnotherCluster',
  /** An `uploaded` snapshot nobody has proved restorable, asked for without force. */
  SnapshotNotVerified: 'SnapshotNotVerified',
  /** A snapshot whose restore verification failed: never restored, not even with force. */
  SnapshotFailedVerification: 'SnapshotFailedVerification',
  /** No snapshot fits the request: none verified (before the given time), and force not given or nothing to force. */
  NoRestorableSnapshot: 'NoRestorableSnapshot',
  /** A member name (or id) the cluster's member list does not have. */
  UnknownEtcdMember: 'UnknownEtcdMember',
  /** The member list cannot be planned against: two members share a name, or another member was added and never started. */
  EtcdMembershipUnclear: 'EtcdMembershipUnclear',
  /** Fewer healthy voting members than quorum: members can no longer be removed or added, only the cluster restored. */
  EtcdQuorumLost: 'EtcdQuorumLost',
  /** Removing the member would leave fewer healthy members than the smaller cluster's quorum. */
  EtcdReplacementWouldLoseQuorum: 'EtcdReplacementWouldLoseQuorum',
  /** A member's data dir Lifeboat will not move aside (relative, `/`, a system dir, `..`, holding another member's). */
  UnsafeEtcdDataDir: 'UnsafeEtcdDataDir',
  /** The cluster has no `controlPlane` in the configuration: its etcd members cannot be stopped, started or replaced. */
  ControlPlaneNotConfigured: 'ControlPlaneNotConfigured',
  /** The control-plane driver could not stop or start a member (the process did not come up, the command failed). */
  ControlPlaneActionFailed: 'ControlPlaneActionFailed',
  /** Retryable: a control-plane host did not answer over SSH (refused, timed out, unresolved, connection dropped). */
  ControlPlaneHostUnreachable: 'ControlPlaneHostUnreachable',
  /** A learner did not catch up with the leader (etcd would not promote it) in time. */
  EtcdLearnerNotCaughtUp: 'EtcdLearnerNotCaughtUp',
  /** etcd refused a membership change (member add or remove) for a reason retrying cannot change. */
  EtcdMembershipChangeRefused: 'EtcdMembershipChangeRefused',
  /** A snapshot that does not download, decrypt or hash to what its manifest says, or that etcdutl cannot read: refused in preflight, nothing stopped. */
  SnapshotCorrupt: 'SnapshotCorrupt',
  /** A member's host has less free space than its restore needs (the snapshot copy and the restored data dir). */
  InsufficientDisk: 'InsufficientDisk',
  /** The etcdutl on a member's host is older than 3.5.10: it cannot bump the revision, so watches would see revisions go backwards. */
  EtcdutlTooOld: 'EtcdutlTooOld',
  /** An etcd member runs where a stopped one is needed (its data dir would be moved or restored over): nothing was touched. */
  EtcdMemberRunning: 'EtcdMemberRunning',
  /** The restored members did not form a cluster with a leader at the bumped revision holding the snapshot's inventory: rolled back. */
  EtcdRestoreNotHealthy: 'EtcdRestoreNotHealthy',
  /** After the restore the API did not serve, a named object was missing, a Deployment did not go Available, or a resourceVersion was not bumped. */
  EtcdRestoreVerificationFailed: 'EtcdRestoreVerificationFailed',

  // Nodes (node failure and replacement)
  /** No Node of that name in the cluster. */
  NodeNotFound: 'NodeNotFound',
  /** A control-plane Node: replaced by the etcd member replacement runbook, never by a drain. */
  ControlPlaneNode: 'ControlPlaneNode',
  /** Evictions a PodDisruptionBudget still refused when the drain's deadline passed (details: the DrainResult). */
  DrainBlocked: 'DrainBlocked',
  /** A Pod that was on the Node has no Running, Ready successor elsewhere, or its workload is not Available, in time. */
  PodsNotRescheduled: 'PodsNotRescheduled',
  /** A Pod of a fenced, out-of-service Node was still in the API after the release's time (a finalizer holds it). */
  PodsNotReleased: 'PodsNotReleased',
  /** A VolumeAttachment still names the Node after the out-of-service taint's time. */
  VolumesStillAttached: 'VolumesStillAttached',
  /** The node provider could not confirm the Node is off: its volumes are not released. */
  NodeNotFenced: 'NodeNotFenced',
  /** The replacement Node did not register and go Ready within nodeStartupTimeout. */
  NodeNotReady: 'NodeNotReady',
  /** The node provider refused the request (a 4xx other than 408 and 429, or a redirect). */
  NodeProviderRejected: 'NodeProviderRejected',
  /** Retryable: the node provider answered 5xx, 408 or 429, or did not answer. */
  NodeProviderUnavailable: 'NodeProviderUnavailable',
  /** `tokenEnv` names a variable the worker's environment lacks. */
  NodeProviderTokenMissing: 'NodeProviderTokenMissing',
  /** The cluster has no `nodeProvider` in the configuration: its Nodes can be drained, not fenced or replaced. */
  NodeProviderNotConfigured: 'NodeProviderNotConfigured',
  /** The node replacement run failed (its root cause in the message; the report in the details). */
  NodeReplacementFailed: 'NodeReplacementFailed',
  NodeReplacementAborted: 'NodeReplacementAborted',

  // Runbooks
  /** A runbook step's input that the block cannot take (found at run time, after `${{ }}` was evaluated). */
  InvalidRunbookInput: 'InvalidRunbookInput',
  /** A `waitForCondition` whose condition did not reach the wanted status in time. */
  ConditionNotMet: 'ConditionNotMet',
  /** A notification's webhook refused the message (a 4xx other than 408 and 429). */
  NotificationRejected: 'NotificationRejected',
  /** Retryable: a notification receiver answered 5xx, 408 or 429, did not answer in time, or could not be reached. */
  NotificationReceiverUnavailable: 'NotificationReceiverUnavailable',
  /** Retryable: a run's notification reached some receivers, not all (details: the NotificationDelivery so far); a retry sends to the others only. */
  NotificationUndelivered: 'NotificationUndelivered',
  /** An `httpCheck` that got another status or body than expected. */
  HttpCheckFailed: 'HttpCheckFailed',
  /** A runbook step failed (its root cause is in the message; the report is in the details). */
  RunbookStepFailed: 'RunbookStepFailed',
  /** A `parallel` or `forEach` step did not finish within its `timeout`; its branches were cancelled. */
  RunbookStepTimedOut: 'RunbookStepTimedOut',
  /** Nobody approved a runbook's approval step in time. */
  RunbookApprovalTimedOut: 'RunbookApprovalTimedOut',
  /** Someone aborted the runbook. */
  RunbookAborted: 'RunbookAborted',

  // Network partition
  /** The networkPartition runbook's witnesses say otherwise after the approval than before it: nothing is done on a stale decision. */
  PartitionDecisionChanged: 'PartitionDecisionChanged',
} as const;

export type FailureType = (typeof failureTypes)[keyof typeof failureTypes];
