// `lifeboat node plan | replace | drain`: the node-replacement and node-drain runbooks
// (runbooks/node-replacement.yaml, runbooks/node-drain.yaml), started under one workflow ID per Node so
// a Node is never handled twice at once. Approvals, status and abort are the runbook commands'
// (`lifeboat runbook approve node-replacement/<cluster>/<node>`).
import type { Command } from 'commander';
import { ScheduleNotFoundError, WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { NodeHealthWatchResult } from '../workflows/nodeHealthWatch.js';
import { nodeHealthScheduleId } from './schedule.js';
import { CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { httpStatusOf } from '../activities/kubernetes/api.js';
import { describeNetworkError } from '../activities/network-errors.js';
import { loadKubeConfig } from '../worker/clients.js';
import { formatDuration, secondsBetween } from '../model/durations.js';
import { controlPlaneLabelOf, type NodePreflight } from '../model/node-replacement.js';
import type { RunbookReport } from '../model/runbook/run.js';
import type { runbook } from '../workflows/runbook.js';
import { clusterByName, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { cliIdentity } from './identity.js';
import { CliError, exitCodes, printJson, table } from './output.js';
import { runRunbook } from './runbook.js';
import { finalReport, formatRunbookReport } from './runbook-commands.js';
import { findRunbook, refuseUpFrontApproval, runbookInput, runParameters } from './runbook-documents.js';
import { connectClient, requireWorker } from './temporal.js';

/** The lock: one replacement (or drain) of a Node at a time. */
export const nodeWorkflowId = (kind: 'node-replacement' | 'node-drain', cluster: string, node: string) => `${kind}/${cluster}/${node}`;

interface NodeOptions {
  cluster: string;
  node: string;
  reason?: string;
  failed?: boolean;
  allowEmptyDir?: boolean;
  autoApprove?: boolean;
  approver?: string;
  drainTimeout?: string;
  wait?: boolean;
  json?: boolean;
}

/** A Kubernetes Node name: a DNS subdomain. */
const nodeName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The runbook's parameters from the options, checked before anything starts. */
function parametersOf(config: LifeboatConfig, opts: NodeOptions, reasonRequired: boolean): Record<string, string | number | boolean> {
  clusterByName(config, opts.cluster, '--cluster');
  if (!nodeName.test(opts.node)) throw new CliError(`--node '${opts.node}': expected a Node name (a DNS subdomain)`, exitCodes.badInput);
  if (reasonRequired && !opts.reason?.trim()) throw new CliError('--reason: expected why the Node is replaced', exitCodes.badInput);
  if (opts.autoApprove && !opts.approver?.trim())
    throw new CliError('--auto-approve needs --approver NAME: who approves, recorded in the report', exitCodes.badInput);
  if (opts.approver !== undefined && !opts.autoApprove) throw new CliError('--approver goes with --auto-approve', exitCodes.badInput);
  const params: Record<string, string | number | boolean> = {
    cluster: opts.cluster,
    node: opts.node,
    reason: opts.reason?.trim() || 'plan',
    allowEmptyDir: opts.allowEmptyDir ?? false,
  };
  if (opts.failed !== undefined) params.mode = opts.failed ? 'failed' : 'planned';
  if (opts.autoApprove) params.approver = opts.approver!.trim();
  if (opts.drainTimeout !== undefined) {
    const seconds = Number(opts.drainTimeout);
    if (!Number.isInteger(seconds) || seconds < 1)
      throw new CliError(`--drain-timeout '${opts.drainTimeout}': expected whole seconds, at least 1`, exitCodes.badInput);
    params.drainTimeoutSeconds = seconds;
  }
  return params;
}

/**
 * The Node must exist and not be a control-plane Node before anything starts (bad input, exit 2): read
 * with the configuration's kubeconfig for the cluster, as the worker reads it. The run's preflight checks
 * again; this only keeps a typo from starting a run.
 */
async function checkNode(config: LifeboatConfig, cluster: string, node: string): Promise<void> {
  const api = loadKubeConfig(clusterByName(config, cluster, '--cluster')).makeApiClient(CoreV1Api);
  let found: V1Node;
  try {
    found = await api.readNode({ name: node });
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw new CliError(`cluster '${cluster}': reading Node ${node}: ${describeNetworkError(err)}`);
    const names = (await api.listNode()).items.map((n) => n.metadata!.name!).sort();
    const shown = names.length > 10 ? `${names.slice(0, 10).join(', ')} (+${names.length - 10} more)` : names.join(', ') || 'none';
    throw new CliError(`--node '${node}': no such Node on '${cluster}'; its Nodes: ${shown}`, exitCodes.badInput);
  }
  const role = controlPlaneLabelOf(found.metadata?.labels);
  if (role)
    throw new CliError(
      `--node '${node}' is a control-plane Node of '${cluster}' (${role}): Lifeboat never drains one; replace its etcd member instead`,
      exitCodes.badInput,
    );
}

/** The preflight a run recorded (its `plan` output, or the plan a blocked preflight failed with), if it got that far. */
export const preflightOf = (r: RunbookReport): NodePreflight | undefined => {
  const step = r.steps.find((s) => s.id === 'preflight');
  // A blocked preflight fails carrying its plan: the Pods and budgets are what explain the blockers.
  return (step?.outputs?.plan ?? step?.failureDetails) as NodePreflight | undefined;
};

/** A Node's preflight for a person: the Node, every Pod and what happens to it, the budgets, what blocks. */
export function formatNodePlan(p: NodePreflight): string {
  const lines = [
    `Node ${p.node} on ${p.cluster}: ${p.ready ? 'Ready' : 'NOT Ready'}, ${p.unschedulable ? 'cordoned' : 'schedulable'}${p.controlPlane ? ', control plane' : ''}`,
    `cluster: ${p.nodes.ready}/${p.nodes.total} Nodes Ready, ${p.nodes.cordonedOrUnhealthy} cordoned or unhealthy`,
    `capacity: ${p.capacity.detail}`,
    '',
    table(
      ['pod', 'owner', 'pdb', 'action'],
      p.pods.map((x) => [
        `${x.namespace}/${x.name}`,
        x.owner ?? '(none)',
        x.pdbs.join(', ') || '-',
        x.why ? `${x.action} (${x.why})` : x.action,
      ]),
    ).trimEnd(),
  ];
  if (p.budgets.length)
    lines.push(
      '',
      table(
        ['budget', 'allowed', 'healthy', 'desired', 'expected'],
        p.budgets.map((b) => [
          `${b.namespace}/${b.name}`,
          String(b.disruptionsAllowed),
          String(b.currentHealthy),
          String(b.desiredHealthy),
          String(b.expectedPods),
        ]),
      ).trimEnd(),
    );
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  for (const b of p.blockers) lines.push(`BLOCKED: ${b}`);
  return `${lines.join('\n')}\n`;
}

/** The headline a person looks for: which Node replaced which, and how long from the request to its Ready. */
export function replacementLine(r: RunbookReport): string | undefined {
  const ready = r.steps.find((s) => s.id === 'ready' && s.state === 'succeeded');
  const node = r.steps.find((s) => s.id === 'provision')?.outputs?.node;
  if (!ready?.finishedAt || typeof node !== 'string') return undefined;
  const drain = r.steps.find((s) => s.id === 'drain' && s.state === 'succeeded');
  const waits = (drain?.outputs?.budgetWaits ?? []) as { pdb: string; seconds: number }[];
  const moved = drain?.outputs
    ? `; ${String(drain.outputs.evicted)} Pods evicted${waits.length ? `, waiting on ${waits.map((x) => `${x.pdb} ${formatDuration(x.seconds)}`).join(', ')}` : ''}`
    : '';
  return `replacement ${node} Ready ${formatDuration(secondsBetween(r.startedAt, ready.finishedAt))} after the request${moved}`;
}

const printNodeReport = (r: RunbookReport, json?: boolean) => {
  // The JSON answer names the replacement beside the status, where a script looks for it.
  if (json) return printJson({ ...r, replacementNode: r.steps.find((s) => s.id === 'provision')?.outputs?.node });
  const p = preflightOf(r);
  const line = replacementLine(r);
  process.stdout.write(`${formatRunbookReport(r)}${line ? `${line}\n` : ''}${p ? `\n${formatNodePlan(p)}` : ''}`);
};

const unsuccessful: ReadonlyArray<RunbookReport['status']> = ['failed', 'compensated', 'aborted'];

/** Starts `document` under the Node's lock; a second start while one runs is refused naming it. */
async function start(
  config: LifeboatConfig,
  kind: 'node-replacement' | 'node-drain',
  opts: NodeOptions,
  params: Record<string, string | number | boolean>,
) {
  const loaded = findRunbook(config, kind);
  refuseUpFrontApproval(config, loaded.document, params.approver, cliIdentity(config));
  const input = runbookInput(config, loaded, runParameters(config, loaded, params), cliIdentity(config));
  const workflowId = nodeWorkflowId(kind, opts.cluster, opts.node);
  try {
    await runRunbook<typeof runbook>(
      config,
      { type: 'runbook', workflowId, args: [input], startedJson: { runbook: kind, cluster: opts.cluster, node: opts.node } },
      opts,
      async (result) => {
        const report = await finalReport(workflowId, result);
        printNodeReport(report, opts.json);
        if (unsuccessful.includes(report.status)) process.exitCode = exitCodes.failed;
      },
    );
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      throw new CliError(
        `Node ${opts.node} on ${opts.cluster} is already being handled by ${workflowId}: \`lifeboat runbook status ${workflowId}\``,
        exitCodes.badInput,
      );
    throw err;
  }
}

/** One cluster's watch, as `node watch status` shows it. */
interface WatchStatus {
  cluster: string;
  schedule: string;
  state: 'not applied' | 'paused' | 'active';
  lastRunAt?: string;
  last?: NodeHealthWatchResult;
  lastStatus?: string;
}

async function watchStatus(client: Client, cluster: string): Promise<WatchStatus> {
  const schedule = nodeHealthScheduleId(cluster);
  const d = await client.schedule
    .getHandle(schedule)
    .describe()
    .catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    });
  if (!d) return { cluster, schedule, state: 'not applied' };
  const state = d.state.paused ? 'paused' : 'active';
  const last = d.info.recentActions.at(-1);
  if (!last || !('workflow' in last.action)) return { cluster, schedule, state };
  const handle = client.workflow.getHandle(last.action.workflow.workflowId, last.action.workflow.firstExecutionRunId);
  const status = (await handle.describe()).status.name;
  const result = status === 'COMPLETED' ? ((await handle.result()) as NodeHealthWatchResult) : undefined;
  return { cluster, schedule, state, lastRunAt: last.takenAt.toISOString(), lastStatus: status, ...(result ? { last: result } : {}) };
}

export function formatWatchStatus(rows: WatchStatus[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`${r.cluster}: ${r.schedule} ${r.state}${r.lastRunAt ? `, last looked at ${r.lastRunAt} (${r.lastStatus})` : ''}`);
    if (!r.last) continue;
    if (r.last.stopped) lines.push(`  ${r.last.stopped}`);
    if (!r.last.unhealthy.length) lines.push('  every Node healthy');
    for (const u of r.last.unhealthy) {
      const started = r.last.started.find((id) => id.endsWith(`/${u.node}`));
      const held = r.last.held.find((h) => h.node === u.node);
      lines.push(
        `  ${u.node}: unhealthy since ${u.since} (${u.why}): ${started ? `replacement started, ${started}` : `held: ${held?.why ?? '?'}`}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export function registerNodeCommands(program: Command): void {
  const node = program.command('node').description('replace or drain a Node: plan, approval, cordon, drain or fence, replace, proof');
  const target = (c: Command) =>
    c.requiredOption('--cluster <name>', 'the cluster, by its configured name').requiredOption('--node <name>', 'the Node');

  target(node.command('plan'))
    .description('what replacing the Node would do: every Pod that moves, its owner and budget, what blocks; changes nothing')
    .option('--failed', 'plan for a Node whose kubelet is gone (fence, taint out of service)')
    .option('--allow-empty-dir', 'Pods with emptyDir volumes may be evicted (their data is lost)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: NodeOptions) => {
      const config = loadConfig();
      const params = parametersOf(config, opts, false);
      await checkNode(config, opts.cluster, opts.node);
      const loaded = findRunbook(config, 'node-replacement');
      const input = runbookInput(config, loaded, runParameters(config, loaded, params), cliIdentity(config), true);
      const workflowId = `${nodeWorkflowId('node-replacement', opts.cluster, opts.node)}/plan-${Date.now()}`;
      const client = await connectClient(config);
      try {
        await requireWorker(client, config);
        const handle = await client.workflow.start<typeof runbook>('runbook', {
          taskQueue: config.temporal.taskQueue,
          workflowId,
          args: [input],
        });
        const report = await finalReport(workflowId, handle.result());
        printNodeReport(report, opts.json);
        if (unsuccessful.includes(report.status)) process.exitCode = exitCodes.failed;
      } finally {
        await client.connection.close();
      }
    });

  target(node.command('replace'))
    .description('replace the Node: approval (or --auto-approve), cordon, drain (or fence and taint, --failed), delete, provision, prove')
    .requiredOption('--reason <text>', 'why: recorded in the report')
    .option('--failed', "the Node's kubelet is gone: fence it through its provider before its volumes are released")
    .option('--allow-empty-dir', 'Pods with emptyDir volumes may be evicted (their data is lost)')
    .option('--drain-timeout <seconds>', 'how long the drain waits for disruption budgets before it asks (default 600)')
    .option('--auto-approve', 'approve at once (game days, tests); needs --approver')
    .option('--approver <name>', 'who approves, with --auto-approve')
    .option('--wait', 'follow it to the end, showing progress')
    .option('--json', 'print the report (or the started run) as JSON')
    .action(async (opts: NodeOptions) => {
      const config = loadConfig();
      const params = parametersOf(config, opts, true);
      await checkNode(config, opts.cluster, opts.node);
      await start(config, 'node-replacement', opts, params);
    });

  node
    .command('watch')
    .description('the node health watch (clusters[].nodeHealth.watch, `lifeboat schedule apply`)')
    .command('status')
    .description(
      "each watched cluster's schedule and what its last look found: unhealthy Nodes, replacements started, what is held and why",
    )
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const watched = config.clusters.filter((c) => c.nodeHealth.watch).map((c) => c.name);
      if (!watched.length)
        throw new CliError(
          'no cluster is watched: set clusters[].nodeHealth.watch: true, then `lifeboat schedule apply`',
          exitCodes.badInput,
        );
      const client = await connectClient(config);
      try {
        const rows = await Promise.all(watched.map((c) => watchStatus(client, c)));
        if (opts.json) printJson({ clusters: rows });
        else process.stdout.write(formatWatchStatus(rows));
      } finally {
        await client.connection.close();
      }
    });

  target(node.command('drain'))
    .description('cordon and drain the Node through the Eviction API, as its disruption budgets allow; it stays, cordoned')
    .option('--reason <text>', 'why: recorded in the report', 'drain')
    .option('--allow-empty-dir', 'Pods with emptyDir volumes may be evicted (their data is lost)')
    .option('--drain-timeout <seconds>', 'how long to wait for disruption budgets before it asks (default 600)')
    .option('--wait', 'follow it to the end, showing progress')
    .option('--json', 'print the report (or the started run) as JSON')
    .action(async (opts: NodeOptions) => {
      const config = loadConfig();
      const { cluster, node: name, reason, allowEmptyDir, drainTimeoutSeconds } = parametersOf(config, opts, false);
      await checkNode(config, opts.cluster, opts.node);
      await start(config, 'node-drain', opts, {
        cluster,
        node: name,
        reason,
        allowEmptyDir,
        ...(drainTimeoutSeconds !== undefined ? { drainTimeoutSeconds } : {}),
      } as Record<string, string | number | boolean>);
    });
}
