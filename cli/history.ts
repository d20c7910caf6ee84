// `lifeboat history`: past and running runs, from Temporal visibility and the search attributes each run
// records (model/search-attributes.ts): who started and approved it, how it ended, how long it took.
import type { Command } from 'commander';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { approversAttribute, requesterAttribute } from '../model/approvals.js';
import {
  appAttribute,
  awaitingApprovalSinceAttribute,
  clusterAttribute,
  lifeboatSearchAttributes,
  outcomeAttribute,
  rtoSecondsAttribute,
  runbookAttribute,
} from '../model/search-attributes.js';
import { historyOutcomes, historyQuery, type HistoryFilters, type HistoryOutcome } from '../model/run-history.js';
import { formatDuration, parseSecondsDuration, secondsDurationExpectation } from '../model/durations.js';
import { appByName, clusterByName, loadConfig, type LifeboatConfig } from '../worker/config.js';
import { connectClient } from './temporal.js';
import { CliError, exitCodes, printJson, table } from './output.js';

export interface HistoryOptions {
  runbook?: string;
  cluster?: string;
  app?: string;
  outcome?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

/** Default of `--limit`. */
export const defaultHistoryLimit = 50;
const maxHistoryLimit = 10_000;

/**
 * The filters and limit of `lifeboat history`, or a CliError (exit 2) naming the flag and what it
 * expects: nothing is queried on a bad argument. Cluster and app names must be configured ones.
 */
export function parseHistoryOptions(
  opts: HistoryOptions,
  config: LifeboatConfig,
  now = new Date(),
): { filters: HistoryFilters; limit: number } {
  const bad = (message: string) => new CliError(message, exitCodes.badInput);
  const filters: HistoryFilters = {};
  if (opts.runbook !== undefined) {
    if (!opts.runbook.trim()) throw bad(`--runbook: expected a workflow type (e.g. etcdSnapshot) or a runbook document's name`);
    filters.runbook = opts.runbook;
  }
  if (opts.cluster !== undefined) filters.cluster = clusterByName(config, opts.cluster).name;
  if (opts.app !== undefined) filters.app = appByName(config, opts.app).name;
  if (opts.outcome !== undefined) {
    if (!(historyOutcomes as readonly string[]).includes(opts.outcome))
      throw bad(`--outcome '${opts.outcome}': expected one of ${historyOutcomes.join(', ')}`);
    filters.outcome = opts.outcome as HistoryOutcome;
  }
  if (opts.since !== undefined) {
    const seconds = parseSecondsDuration(opts.since);
    if (seconds === undefined) throw bad(`--since '${opts.since}': expected ${secondsDurationExpectation}`);
    filters.startedSince = new Date(now.getTime() - seconds * 1000);
  }
  let limit = defaultHistoryLimit;
  if (opts.limit !== undefined) {
    limit = /^[1-9][0-9]*$/.test(opts.limit) ? Number(opts.limit) : NaN;
    if (!(limit <= maxHistoryLimit)) throw bad(`--limit '${opts.limit}': expected a whole number from 1 to ${maxHistoryLimit}`);
  }
  return { filters, limit };
}

/** One run as `history --json` prints it. */
export interface HistoryRun {
  workflowId: string;
  runId: string;
  workflowType: string;
  /** `LifeboatRunbook`, else the workflow type. */
  runbook: string;
  cluster?: string;
  app?: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  /** `LifeboatOutcome`: how the run ended, by its own account; absent while it runs. */
  outcome?: string;
  startedAt: string;
  closedAt?: string;
  /** Start to close, or to now while it runs. */
  durationSeconds: number;
  rtoSeconds?: number;
  requester?: string;
  approvers: string[];
  awaitingApprovalSince?: string;
  taskQueue: string;
  /** The run that started this one as its child (a runbook's step, a game day's verification). */
  parentWorkflowId?: string;
}

export function historyRun(info: WorkflowExecutionInfo, now = new Date()): HistoryRun {
  const attrs = info.typedSearchAttributes;
  const end = info.closeTime ?? now;
  const run: HistoryRun = {
    workflowId: info.workflowId,
    runId: info.runId,
    workflowType: info.type,
    runbook: attrs.get(runbookAttribute) ?? info.type,
    status: info.status.name,
    startedAt: info.startTime.toISOString(),
    durationSeconds: Math.max(0, (end.getTime() - info.startTime.getTime()) / 1000),
    approvers: attrs.get(approversAttribute) ?? [],
    taskQueue: info.taskQueue,
  };
  const optional = {
    cluster: attrs.get(clusterAttribute),
    app: attrs.get(appAttribute),
    outcome: attrs.get(outcomeAttribute),
    closedAt: info.closeTime?.toISOString(),
    rtoSeconds: attrs.get(rtoSecondsAttribute),
    requester: attrs.get(requesterAttribute),
    awaitingApprovalSince: attrs.get(awaitingApprovalSinceAttribute)?.toISOString(),
    parentWorkflowId: info.parentExecution?.workflowId,
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) Object.assign(run, { [key]: value });
  return run;
}

/** The outcome column: the run's own account, else what Temporal says of it. */
function outcomeText(run: HistoryRun): string {
  if (run.outcome) return run.outcome;
  if (run.status === 'RUNNING') return run.awaitingApprovalSince ? 'awaiting approval' : 'running';
  return run.status.toLowerCase().replace(/_/g, ' ');
}

const minute = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')}Z`;

export function formatHistory(runs: HistoryRun[]): string {
  return table(
    ['started', 'runbook', 'cluster/app', 'outcome', 'duration', 'RTO', 'started by', 'approved by', 'workflow id'],
    runs.map((r) => [
      minute(r.startedAt),
      r.runbook,
      [r.cluster, r.app].filter(Boolean).join('/') || '-',
      outcomeText(r),
      formatDuration(r.durationSeconds) + (r.status === 'RUNNING' ? ' so far' : ''),
      r.rtoSeconds === undefined ? '-' : formatDuration(r.rtoSeconds),
      r.requester ?? '-',
      r.approvers.join(',') || '-',
      r.workflowId,
    ]),
  );
}

/** The Lifeboat search attribute a visibility error says the namespace does not know, if it says so. */
export function unknownSearchAttributeIn(err: unknown): (typeof lifeboatSearchAttributes)[number] | undefined {
  // The client's ServiceError says "Failed to list workflows"; the server's words are in its cause.
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    const match = /invalid search attribute: (\w+)/.exec(e.message ?? '');
    if (match) return lifeboatSearchAttributes.find((a) => a.name === match[1]);
  }
  return undefined;
}

/** What to run to register `missing` on `namespace`, self-hosted and on Temporal Cloud. */
export function searchAttributeRegistration(namespace: string, missing: readonly (typeof lifeboatSearchAttributes)[number][]): string {
  const names = missing.map((a) => `${a.name} (${a.type})`).join(', ');
  const selfHosted = missing.map(
    (a) => `  temporal operator search-attribute create --namespace ${namespace} --name ${a.name} --type ${a.type}`,
  );
  const cloud = missing.map((a) => `--search-attribute "${a.name}=${a.type}"`).join(' ');
  return (
    `the Temporal namespace '${namespace}' lacks Lifeboat's search attribute${missing.length > 1 ? 's' : ''} ${names}; register ` +
    `${missing.length > 1 ? 'them' : 'it'} (see the README's "Run history"):\n${selfHosted.join('\n')}\n` +
    `  or on Temporal Cloud: tcld namespace search-attributes add --namespace ${namespace} ${cloud}`
  );
}

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description(
      'past and running runs (running first, then the most recently closed): outcome, duration, RTO, who started and approved them',
    )
    .option('--runbook <name>', 'only this runbook: a workflow type (etcdSnapshot) or a runbook document (etcd-backup)')
    .option('--cluster <name>', 'only runs about this cluster')
    .option('--app <name>', 'only runs about this app')
    .option('--outcome <outcome>', `only runs that ended so (${historyOutcomes.join(', ')})`)
    .option('--since <duration>', 'only runs started within this long, e.g. 7d, 12h')
    .option('--limit <n>', `at most this many runs (default ${defaultHistoryLimit})`)
    .option('--json', 'print { query, runs } as JSON')
    .action(async (opts: HistoryOptions) => {
      const config = loadConfig();
      const { filters, limit } = parseHistoryOptions(opts, config);
      const query = historyQuery(filters);
      const client = await connectClient(config);
      const runs: HistoryRun[] = [];
      try {
        for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
          runs.push(historyRun(info));
          if (runs.length >= limit) break;
        }
      } catch (err) {
        const unknown = unknownSearchAttributeIn(err);
        if (!unknown) throw err;
        // The server names the first attribute it does not know; the namespace's own list names them all, where we may read it.
        const registered = await client.connection.operatorService
          .listSearchAttributes({ namespace: config.temporal.namespace })
          .then((r) => new Set(Object.keys(r.customAttributes ?? {})))
          .catch(() => undefined);
        const missing = registered ? lifeboatSearchAttributes.filter((a) => !registered.has(a.name)) : [unknown];
        throw new CliError(searchAttributeRegistration(config.temporal.namespace, missing.length ? missing : [unknown]));
      } finally {
        await client.connection.close();
      }
      if (opts.json) printJson({ query, runs });
      else if (!runs.length) process.stdout.write(`no runs match (${query})\n`);
      else process.stdout.write(formatHistory(runs));
    });
}
