// `lifeboat etcd restore | replace-member`: the etcd-recovery and etcd-member-replace runbooks
// (runbooks/etcd-recovery.yaml, runbooks/etcd-member-replace.yaml), started under one workflow ID per
// cluster (model/workflow-ids.ts etcdRecoveryWorkflowId): one etcd recovery of a cluster at a time,
// whichever kind. Approvals, status and abort are the runbook commands'
// (`lifeboat runbook approve etcd-restore/<cluster>`).
import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { EtcdRestorePreflight } from '../activities/control-plane/restore.js';
import { formatDuration, secondsBetween } from '../model/durations.js';
import { parseZonedDateTime } from '../model/retention.js';
import type { RunbookReport } from '../model/runbook/run.js';
import { etcdRecoveryWorkflowId } from '../model/workflow-ids.js';
import type { runbook } from '../workflows/runbook.js';
import { clusterByName, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { cliIdentity } from './identity.js';
import { CliError, exitCodes, printJson } from './output.js';
import { runRunbook } from './runbook.js';
import { finalReport, formatRunbookReport } from './runbook-commands.js';
import { findRunbook, refuseUpFrontApproval, runbookInput, runParameters } from './runbook-documents.js';

interface EtcdOptions {
  cluster: string;
  member?: string;
  snapshot?: string;
  before?: string;
  force?: boolean;
  allowUnsigned?: boolean;
  reason?: string;
  autoApprove?: boolean;
  approver?: string;
  catchUpTimeout?: string;
  wait?: boolean;
  json?: boolean;
}

type Params = Record<string, string | number | boolean>;

/** What every etcd command checks before anything starts: the cluster, its control plane, the reason and the approval flags. */
function commonParameters(config: LifeboatConfig, opts: EtcdOptions): Params {
  const cluster = clusterByName(config, opts.cluster, '--cluster');
  if (!cluster.controlPlane) {
    const i = config.clusters.indexOf(cluster);
    throw new CliError(
      `--cluster '${opts.cluster}': clusters[${i}].controlPlane is not configured, so Lifeboat cannot stop or start its etcd members; add it (driver lab or commands) first`,
      exitCodes.badInput,
    );
  }
  if (!opts.reason?.trim()) throw new CliError('--reason: expected why, recorded in the report', exitCodes.badInput);
  if (opts.autoApprove && !opts.approver?.trim())
    throw new CliError('--auto-approve needs --approver NAME: who approves, recorded in the report', exitCodes.badInput);
  if (opts.approver !== undefined && !opts.autoApprove) throw new CliError('--approver goes with --auto-approve', exitCodes.badInput);
  return { cluster: opts.cluster, reason: opts.reason.trim(), ...(opts.autoApprove ? { approver: opts.approver!.trim() } : {}) };
}

/** The restore's parameters from the options, checked before anything starts (bad input, exit 2). */
export function restoreParameters(config: LifeboatConfig, opts: EtcdOptions): Params {
  const params = commonParameters(config, opts);
  if (opts.snapshot !== undefined && opts.before !== undefined)
    throw new CliError('--snapshot and --before exclude each other: name a snapshot, or a time to restore from before', exitCodes.badInput);
  if (opts.snapshot !== undefined && !/^[A-Za-z0-9._-]+$/.test(opts.snapshot))
    throw new CliError(
      `--snapshot '${opts.snapshot}': expected a snapshot id, as \`lifeboat snapshots list\` prints it`,
      exitCodes.badInput,
    );
  if (opts.before !== undefined && Number.isNaN(parseZonedDateTime(opts.before)))
    throw new CliError(
      `--before '${opts.before}': expected an ISO-8601 date-time with a zone, such as 2026-12-01T09:00:00Z`,
      exitCodes.badInput,
    );
  return {
    ...params,
    ...(opts.snapshot ? { snapshotId: opts.snapshot } : {}),
    ...(opts.before ? { before: opts.before } : {}),
    force: opts.force ?? false,
    allowUnsigned: opts.allowUnsigned ?? false,
  };
}

/** The member replacement's parameters; the member must be one of clusters[].controlPlane.etcdMembers. */
export function replaceMemberParameters(config: LifeboatConfig, opts: EtcdOptions): Params {
  const params = commonParameters(config, opts);
  const cluster = clusterByName(config, opts.cluster, '--cluster');
  const names = cluster.controlPlane!.etcdMembers.map((m) => m.name);
  if (!opts.member || !names.includes(opts.member))
    throw new CliError(
      `--member '${opts.member ?? ''}': expected one of the etcd members of '${opts.cluster}': ${names.join(', ')}`,
      exitCodes.badInput,
    );
  const out: Params = { ...params, member: opts.member };
  if (opts.catchUpTimeout !== undefined) {
    const seconds = Number(opts.catchUpTimeout);
    if (!Number.isInteger(seconds) || seconds < 1)
      throw new CliError(`--catch-up-timeout '${opts.catchUpTimeout}': expected whole seconds, at least 1`, exitCodes.badInput);
    out.catchUpTimeoutSeconds = seconds;
  }
  return out;
}

/** What the report of a restore adds up to: the figures an SRE writes in the incident review. */
export interface EtcdRestoreSummary {
  snapshotId: string;
  snapshotTakenAt: string;
  snapshotRevision: number;
  /** The restored cluster's revision when the members came up (snapshot's + the bump). */
  restoredRevision?: number;
  /** The API's resourceVersion when the restore was verified. */
  resourceVersion?: number;
  /** From the first component stopped (the controllers) to the restore proved (API ready, Deployments Available). */
  rtoSeconds?: number;
  /** The snapshot's age when the kube-apiservers stopped: the writes after it are lost. */
  rpoSeconds?: number;
  /** From the kube-apiservers stopping until the restored one answered /readyz. */
  apiUnavailableSeconds?: number;
  /** Seconds per step, from its start to its end. */
  steps: { id: string; seconds: number }[];
  /** Where each member's old data dir is (kept for controlPlane.keepOldDataDirsFor). */
  movedAside: { member: string; to: string }[];
}

/** The summary of a restore's report, once its preflight planned it (undefined before that). */
export function etcdRestoreSummary(r: RunbookReport): EtcdRestoreSummary | undefined {
  const step = (id: string) => r.steps.find((s) => s.id === id);
  const plan = step('preflight')?.outputs?.plan as EtcdRestorePreflight | undefined;
  if (!plan) return undefined;
  const stoppedAt = step('stop-apiservers')?.startedAt;
  // The outage starts with the first thing stopped (the controllers, a moment before the API servers).
  const disruptedAt = step('stop-controllers')?.startedAt ?? stoppedAt;
  const verify = step('verify');
  const verified = verify?.state === 'succeeded' ? verify.finishedAt : undefined;
  const api = step('api');
  const apiReadyAt = api?.state === 'succeeded' ? (api.outputs?.apiReadyAt as string | undefined) : undefined;
  const revision = step('quorum')?.outputs?.revision;
  const resourceVersion = api?.outputs?.resourceVersion;
  return {
    snapshotId: plan.snapshot.snapshotId,
    snapshotTakenAt: plan.snapshot.startedAt,
    snapshotRevision: plan.snapshot.fileRevision,
    ...(typeof revision === 'number' ? { restoredRevision: revision } : {}),
    ...(typeof resourceVersion === 'number' ? { resourceVersion } : {}),
    ...(disruptedAt && verified ? { rtoSeconds: secondsBetween(disruptedAt, verified) } : {}),
    ...(stoppedAt ? { rpoSeconds: secondsBetween(plan.snapshot.startedAt, stoppedAt) } : {}),
    ...(stoppedAt && apiReadyAt ? { apiUnavailableSeconds: secondsBetween(stoppedAt, apiReadyAt) } : {}),
    steps: r.steps
      .filter((s) => s.startedAt && s.finishedAt && s.kind === 'action')
      .map((s) => ({ id: s.path, seconds: secondsBetween(s.startedAt!, s.finishedAt!) })),
    movedAside: plan.members.map((m) => ({ member: m.name, to: m.movedAsideTo })),
  };
}

export function formatEtcdRestoreSummary(s: EtcdRestoreSummary): string {
  const lines = [
    `snapshot ${s.snapshotId} (taken ${s.snapshotTakenAt}, revision ${s.snapshotRevision})${s.restoredRevision ? ` restored at revision ${s.restoredRevision}` : ''}`,
  ];
  if (s.rtoSeconds !== undefined)
    lines.push(`RTO ${formatDuration(s.rtoSeconds)} (API unavailable ${formatDuration(s.apiUnavailableSeconds ?? 0)})`);
  if (s.rpoSeconds !== undefined) lines.push(`RPO ${formatDuration(s.rpoSeconds)}: writes after ${s.snapshotTakenAt} are lost`);
  lines.push(
    'old data dirs, kept (a later restore removes them after clusters[].controlPlane.keepOldDataDirsFor):',
    ...s.movedAside.map((m) => `  ${m.member}: ${m.to}`),
  );
  return `${lines.join('\n')}\n`;
}

const unsuccessful: ReadonlyArray<RunbookReport['status']> = ['failed', 'compensated', 'aborted'];

/** Starts `document` under the cluster's etcd lock; a second start while one runs is refused naming it. */
async function start(config: LifeboatConfig, kind: 'etcd-recovery' | 'etcd-member-replace', opts: EtcdOptions, params: Params) {
  const loaded = findRunbook(config, kind);
  const requester = cliIdentity(config);
  refuseUpFrontApproval(config, loaded.document, params.approver, requester);
  const input = runbookInput(config, loaded, runParameters(config, loaded, params), requester);
  const workflowId = etcdRecoveryWorkflowId(opts.cluster);
  try {
    await runRunbook<typeof runbook>(
      config,
      { type: 'runbook', workflowId, args: [input], startedJson: { runbook: kind, cluster: opts.cluster } },
      opts,
      async (result) => {
        const report = await finalReport(workflowId, result);
        const summary = kind === 'etcd-recovery' ? etcdRestoreSummary(report) : undefined;
        if (opts.json) printJson({ ...report, ...(summary ? { etcdRestore: summary } : {}) });
        else process.stdout.write(`${formatRunbookReport(report)}${summary ? formatEtcdRestoreSummary(summary) : ''}`);
        if (unsuccessful.includes(report.status)) process.exitCode = exitCodes.failed;
      },
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new CliError(
        `an etcd recovery of '${opts.cluster}' is already running as ${workflowId}: \`lifeboat runbook status ${workflowId}\``,
        exitCodes.badInput,
      );
    throw err;
  }
}

export function registerEtcdCommands(program: Command): void {
  const etcd = program.command('etcd').description("recover a cluster's etcd: restore every member from a snapshot, or replace one member");
  const approval = (c: Command) =>
    c
      .requiredOption('--cluster <name>', 'the cluster, by its configured name')
      .requiredOption('--reason <text>', 'why: recorded in the report')
      .option('--auto-approve', 'approve at once (game days, tests); needs --approver')
      .option('--approver <name>', 'who approves, with --auto-approve')
      .option('--wait', 'follow it to the end, showing progress')
      .option('--json', 'print the report (or the started run) as JSON');

  approval(etcd.command('restore'))
    .description(
      'restore every etcd member from a snapshot, in place: preflight (nothing stopped), plan and approval, stop the API servers and members, move data dirs aside (kept), restore with a revision bump, start, verify',
    )
    .option('--snapshot <id>', 'restore exactly this snapshot (default: the newest verified one)')
    .option('--before <time>', 'the newest verified snapshot taken before this ISO-8601 time')
    .option('--force', 'allow a snapshot that was uploaded but never verified')
    .option('--allow-unsigned', 'allow a snapshot whose manifest is unsigned (written before Lifeboat signed manifests)')
    .action(async (opts: EtcdOptions) => {
      const config = loadConfig();
      await start(config, 'etcd-recovery', opts, restoreParameters(config, opts));
    });

  approval(etcd.command('replace-member'))
    .description(
      'replace one lost or corrupt etcd member while the quorum holds: remove it, move its data dir aside (kept), add it back, promote it',
    )
    .requiredOption('--member <name>', 'the member, by its etcd name (clusters[].controlPlane.etcdMembers[].name)')
    .option('--catch-up-timeout <seconds>', 'how long the new member may take to catch up (default 600)')
    .action(async (opts: EtcdOptions) => {
      const config = loadConfig();
      await start(config, 'etcd-member-replace', opts, replaceMemberParameters(config, opts));
    });
}
