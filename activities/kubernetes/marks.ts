// The marks a failover leaves on the Deployments it scales: who fenced (or activated) a Deployment,
// the replicas to put back, and when. They are labels. A Deployment's annotations are copied to its
// ReplicaSets, so every annotation change costs its cluster's Deployment controller an extra write per
// Deployment; on a control plane busy with a 50-Deployment fence that cost seconds (`bench:failover`,
// issue 10). Labels are not copied, and they are selectable: `kubectl get deploy -A -l
// lifeboat.io/fenced-by` lists what is fenced. Runs that started before marks were labels left
// annotations with the same keys; those are read (and cleared) as well.
import type { V1Deployment } from '@kubernetes/client-node';

/** Which run's work the fencing and activation activities do. */
export interface RunRef {
  workflowId: string;
  /** Absent only in runs from before run-scoped ownership. */
  runId?: string;
}

/**
 * The owner an annotation mark names: the workflow ID (the app's lock, the same for every run) and the
 * run ID; without a run ID (runs started before run-scoped ownership) the workflow ID alone. A label
 * mark names the run ID alone (a label value holds no `/`), unique to the run by itself.
 */
export const runOwner = (workflowId: string, runId?: string): string => (runId ? `${workflowId}@${runId}` : workflowId);

/** The keys of each kind of mark. */
export const markKeys = {
  /** The run that scaled the Deployment to zero, its replicas before (what unfencing, or a later bring-up, restores), when. */
  fenced: { by: 'lifeboat.io/fenced-by', replicas: 'lifeboat.io/fenced-replicas', at: 'lifeboat.io/fenced-at' },
  /** The run that scaled the Deployment up on the target, and the replicas it had before. */
  activated: { by: 'lifeboat.io/activated-by', replicas: 'lifeboat.io/pre-activation-replicas' },
} as const;

export type MarkKind = keyof typeof markKeys;

/** The keys of every mark: a new mark clears every other. */
const allKeys = Object.values(markKeys).flatMap((k) => Object.values(k) as string[]);

/** A mark as read from a Deployment. */
export interface Mark {
  /** A label's run ID, or an annotation's {@link runOwner}. */
  by: string;
  /** The replicas it recorded, when it recorded a whole number. */
  replicas?: number;
  /** Whether it is a label (else a legacy annotation). */
  label: boolean;
}

/** The `kind` mark on `d`, a label or else a legacy annotation; undefined when there is none. */
export function markOn(d: V1Deployment | undefined, kind: MarkKind): Mark | undefined {
  const keys = markKeys[kind];
  const labels = d?.metadata?.labels ?? {};
  const annotations = d?.metadata?.annotations ?? {};
  const from = labels[keys.by] !== undefined ? labels : annotations[keys.by] !== undefined ? annotations : undefined;
  if (!from) return undefined;
  const replicas = Number(from[keys.replicas]);
  return {
    by: from[keys.by]!,
    replicas: from[keys.replicas] !== undefined && Number.isInteger(replicas) ? replicas : undefined,
    label: from === labels,
  };
}

/** Whether the `kind` mark on `d` is `run`'s own. */
export function markedBy(d: V1Deployment | undefined, kind: MarkKind, run: RunRef): boolean {
  const m = markOn(d, kind);
  if (!m) return false;
  return m.label ? run.runId !== undefined && m.by === run.runId : m.by === runOwner(run.workflowId, run.runId);
}

/** A time as a label value holds it: ISO 8601's basic format, `20261202T141636.123Z`. */
export const labelTime = (t: Date): string => t.toISOString().replace(/[-:]/g, '');

/** A {@link labelTime} (or an ISO timestamp) back as epoch milliseconds; NaN when it is neither. */
export function parseLabelTime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}(?:\.\d+)?)Z$/.exec(s);
  return Date.parse(m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : s);
}

/** The metadata a Deployment change writes (merge-patch: null removes). */
export interface MarkPatch {
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
}

const cleared = (): MarkPatch => ({
  labels: Object.fromEntries(allKeys.map((k) => [k, null])),
  annotations: Object.fromEntries(allKeys.map((k) => [k, null])),
});

/**
 * The patch that puts `run`'s `kind` mark on a Deployment, recording `replicas`, and removes every other
 * mark (a fenced Deployment carries only its fence, an activated one only its activation). A run with a
 * run ID marks with labels; a run from before run-scoped ownership, with annotations as it always did.
 */
export function mark(kind: MarkKind, run: RunRef, replicas: number, at = new Date()): MarkPatch {
  const patch = cleared();
  const keys = markKeys[kind];
  const values: Record<string, string> = { [keys.by]: run.runId ?? run.workflowId, [keys.replicas]: String(replicas) };
  if ('at' in keys) values[keys.at] = run.runId ? labelTime(at) : at.toISOString();
  Object.assign(run.runId ? patch.labels : patch.annotations, values);
  return patch;
}

/** The patch that removes every mark. */
export const unmark = (): MarkPatch => cleared();
