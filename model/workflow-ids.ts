// Workflow IDs that are locks: every run that takes one of these IDs excludes every other run of it,
// whoever starts it (the CLI, a game day, a runbook). Built here only, so they cannot drift apart.

/** The failover lock of an app: one failover or failback of it at a time. */
export const failoverWorkflowId = (app: string) => `failover/${app}`;

/** The etcd lock of a cluster: one etcd recovery (a restore, or a member replacement) of it at a time. */
export const etcdRecoveryWorkflowId = (cluster: string) => `etcd-restore/${cluster}`;
