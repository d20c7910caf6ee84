// What a run of a runbook takes and what it reports: the interpreter workflow's input and its record,
// shared by the workflow (workflows/runbook.ts), the CLI and the tests.
import type { RunbookDocument } from './schema.js';

export type ParameterValue = string | number | boolean;

export interface RunbookInput {
  /** The validated document. A run never re-reads the file: editing it never changes a running run. */
  document: RunbookDocument;
  /** sha256 (hex) of the file's text as validated: which version of the document this run is. */
  contentHash: string;
  /** Where the document came from, e.g. `runbooks/etcd-backup.yaml`. */
  source: string;
  /** Every declared parameter, resolved (defaults applied, types checked) at the edge. */
  parameters: Record<string, ParameterValue>;
  /** Who started the run: a person (the CLI's Temporal client identity) or `schedule <id>`. */
  startedBy: string;
  /** Approver groups from the configuration (`runbooks.approverGroups`), resolved when the run starts. */
  approverGroups: Record<string, string[]>;
  /** A plan (dry run): conditions evaluated where they can be, read-only plans of each block, nothing changed. */
  plan?: boolean;
}

export type RunbookStepState = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'compensated' | 'planned';

export interface RunbookStepRecord {
  /** Where the step sits: `verify`, `verify.restore`, `apps[1].failover`, `undo-scale` (compensation). */
  path: string;
  id: string;
  kind: 'run' | 'action' | 'approval' | 'parallel' | 'forEach';
  /** The building block of a `run`/`action` step. */
  block?: string;
  state: RunbookStepState;
  startedAt?: string;
  finishedAt?: string;
  /** What happened, for a person: a result summary, why it was skipped, the root cause of a failure. */
  detail?: string;
  /** The child run of a `run` step. */
  childWorkflowId?: string;
  outputs?: Record<string, unknown>;
  /** What a failed block carried with its failure, when it carried something (a blocked preflight's plan): what a person reads next to why. */
  failureDetails?: unknown;
  /** In a plan: what the step would do (its input as evaluated, or the block's own plan). */
  plan?: unknown;
}

export interface RunbookApproval {
  step: string;
  approver: string;
  comment?: string;
  at: string;
  /** Given when the run started (the step's `approvedBy`), not by `runbook approve`. */
  auto?: boolean;
}

export interface RunbookAbort {
  by: string;
  reason?: string;
  at: string;
}

export type RunbookStatus = 'running' | 'waiting-approval' | 'succeeded' | 'failed' | 'compensated' | 'aborted' | 'planned';

export interface RunbookReport {
  runbook: string;
  contentHash: string;
  source: string;
  mode: 'run' | 'plan';
  status: RunbookStatus;
  startedBy: string;
  startedAt: string;
  finishedAt?: string;
  parameters: Record<string, ParameterValue>;
  steps: RunbookStepRecord[];
  approvals: RunbookApproval[];
  /** The step that failed, and its root cause. */
  failure?: string;
  abort?: RunbookAbort;
}

/** Requests a person sends a running runbook (Temporal updates, with validators). */
export interface RunbookApproveRequest {
  /** Who approves: the CLI's Temporal client identity. */
  approver: string;
  /** The approval step; default the one waiting (refused when several are). */
  step?: string;
  comment?: string;
}

export interface RunbookAbortRequest {
  by: string;
  reason?: string;
}

/** The workflow ID of a run of `name` started by hand at `at` (a schedule's runs get Temporal's own suffix). */
export const runbookWorkflowId = (name: string, at: Date, suffix: string) =>
  `runbook/${name}/${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${suffix}`;
