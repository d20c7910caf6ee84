// What a run is about and how it ended, read from any Lifeboat workflow's input and result: the one
// place that knows each workflow's shape for the search attributes, the metrics and the notifications.
// Pure: the workflow interceptor (workflows/run-lifecycle.ts) calls it, and so can anything else.
import type { RunOutcome } from './search-attributes.js';

export interface RunIdentity {
  /** The LifeboatRunbook name: the workflow type, or `runbook/<document name>` for a runbook document. */
  runbook: string;
  cluster?: string;
  app?: string;
  startedBy?: string;
}

type Loose = Record<string, unknown> | undefined;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v : undefined);
const record = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The identity of a run of `workflowType` started with `input` (its first argument). */
export function runIdentity(workflowType: string, input: unknown): RunIdentity {
  const i = record(input);
  if (workflowType === 'runbook') {
    const doc = record(i?.document);
    const name = text(record(doc?.metadata)?.name) ?? 'unnamed';
    const parameters = record(i?.parameters);
    return {
      runbook: `runbook/${name}`,
      cluster: text(parameters?.cluster),
      app: text(parameters?.app),
      startedBy: text(i?.startedBy),
    };
  }
  const clusters = Array.isArray(i?.clusters) ? i.clusters.filter((c): c is string => typeof c === 'string') : [];
  return {
    runbook: workflowType,
    // A failover (or failback) is about the cluster it leaves; a health check of one cluster about that one.
    cluster: text(i?.cluster) ?? text(i?.from) ?? (clusters.length === 1 ? clusters[0] : undefined),
    app: text(i?.app),
    startedBy: text(i?.requestedBy) ?? text(i?.startedBy),
  };
}

export interface RunEnding {
  outcome: RunOutcome;
  /** The recovery time the run measured (a failover's RTO; a game day's worst). */
  rtoSeconds?: number;
}

const rtoOf = (v: Loose): number | undefined => (typeof v?.rtoSeconds === 'number' ? v.rtoSeconds : undefined);

/**
 * How a run that returned `result` ended: `objectives-missed` where the result says it did not pass
 * (a verification that found a difference, a game day over its objectives, a failover left with both
 * sites serving), `succeeded` otherwise.
 */
export function completedRun(result: unknown): RunEnding {
  const r = record(result);
  const gameDay = record(r?.report);
  if (gameDay && Array.isArray(gameDay.entries)) {
    const rtos = gameDay.entries.map((e) => rtoOf(record(record(e)?.verification))).filter((v): v is number => v !== undefined);
    return {
      outcome: gameDay.passed === false ? 'objectives-missed' : 'succeeded',
      rtoSeconds: rtos.length ? Math.max(...rtos) : undefined,
    };
  }
  const missed = r?.passed === false || r?.healthy === false || r?.status === 'source-unfenced';
  return { outcome: missed ? 'objectives-missed' : 'succeeded', rtoSeconds: rtoOf(r) };
}

/** A one-line summary of a run for a person: `failover of shop (primary)`. */
export function describeRun(id: RunIdentity): string {
  const about = [id.app, id.cluster].filter(Boolean).join(' on ');
  return about ? `${id.runbook} of ${about}` : id.runbook;
}
