// The Temporal visibility query that finds Lifeboat's runs by their search attributes
// (model/search-attributes.ts): what `lifeboat history` lists, and what anything else that counts runs
// by runbook, cluster, app or outcome can ask the same way. Pure: values are quoted here, so a name
// with a quote in it is a name, never a change to the query.
import { appAttribute, clusterAttribute, outcomeAttribute, runbookAttribute, runOutcomes } from './search-attributes.js';

/** What `--outcome` takes: how a run ended ({@link runOutcomes}), or `running` for runs still going. */
export const historyOutcomes = [...runOutcomes, 'running'] as const;
export type HistoryOutcome = (typeof historyOutcomes)[number];

export interface HistoryFilters {
  /** A workflow type (`etcdSnapshot`) or a runbook document (`etcd-backup` or `runbook/etcd-backup`). */
  runbook?: string;
  cluster?: string;
  app?: string;
  outcome?: HistoryOutcome;
  /** Only runs started at or after this time. */
  startedSince?: Date;
}

/**
 * `value` as a string literal of Temporal's visibility query language: single-quoted, with backslashes
 * and single quotes escaped by a backslash, as the server's SQL parser reads them. Control characters
 * are escaped too, so a value always stays one literal on one line.
 */
export function visibilityString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t\0]/g, (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' })[c] ?? `\\${c}`);
  return `'${escaped}'`;
}

const runbookDocumentPrefix = 'runbook/';

/**
 * How each outcome is found. A run records `LifeboatOutcome` itself as it ends; a run the server ended
 * (terminated, timed out) or one from before the attribute existed has only its execution status, so a
 * closed run without the attribute counts by its status.
 */
const outcomeConditions: Record<HistoryOutcome, string> = {
  running: `ExecutionStatus = 'Running'`,
  succeeded: `(${outcomeAttribute.name} = 'succeeded' OR (ExecutionStatus = 'Completed' AND ${outcomeAttribute.name} IS NULL))`,
  'objectives-missed': `${outcomeAttribute.name} = 'objectives-missed'`,
  failed: `(${outcomeAttribute.name} = 'failed' OR (ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut') AND ${outcomeAttribute.name} IS NULL))`,
  cancelled: `(${outcomeAttribute.name} = 'cancelled' OR (ExecutionStatus = 'Canceled' AND ${outcomeAttribute.name} IS NULL))`,
};

/**
 * The visibility query for Lifeboat's runs matching `filters`: every run that carries
 * `LifeboatRunbook` (each run sets it as it starts), narrowed by each filter given.
 */
export function historyQuery(filters: HistoryFilters): string {
  const conditions = [`${runbookAttribute.name} IS NOT NULL`];
  if (filters.runbook !== undefined) {
    // A document's runs carry `runbook/<name>`; `--runbook etcd-backup` means that as well as a workflow type of that name.
    const names = filters.runbook.startsWith(runbookDocumentPrefix)
      ? [filters.runbook]
      : [filters.runbook, `${runbookDocumentPrefix}${filters.runbook}`];
    conditions.push(`${runbookAttribute.name} IN (${names.map(visibilityString).join(', ')})`);
  }
  if (filters.cluster !== undefined) conditions.push(`${clusterAttribute.name} = ${visibilityString(filters.cluster)}`);
  if (filters.app !== undefined) conditions.push(`${appAttribute.name} = ${visibilityString(filters.app)}`);
  if (filters.outcome !== undefined) conditions.push(outcomeConditions[filters.outcome]);
  if (filters.startedSince !== undefined) conditions.push(`StartTime >= ${visibilityString(filters.startedSince.toISOString())}`);
  return conditions.join(' AND ');
}
