// A game day's entries, judged against objectives: shared by the gameDay workflow and the runbook
// block that reports a game day run as a document (quarterly-gameday.yaml). Pure.
import type { FailoverReport } from '../workflows/failover.js';
import { failoverWorkflowId } from './workflow-ids.js';
import type { GameDayEntry, VerificationResult } from './verification.js';

/** The entry with its verification, passed only when the restore passed and RTO and RPO met their objectives. */
export function judged(entry: GameDayEntry, v: VerificationResult): GameDayEntry {
  const rtoMet = v.rtoSeconds <= v.objectives.rtoSeconds;
  const rpoMet = v.rpoSeconds <= v.objectives.rpoSeconds;
  return { ...entry, verification: v, rtoMet, rpoMet, passed: v.passed && rtoMet && rpoMet };
}

/** The entry of a restore verification: `etcd/<cluster>` or `velero/<app>`. */
export const verificationEntry = (v: VerificationResult): GameDayEntry =>
  judged({ name: `${v.kind}/${v.subject}`, kind: v.kind, passed: false, rtoMet: false, rpoMet: false }, v);

export interface FailoverPhase {
  name: 'failover' | 'failback';
  report?: FailoverReport;
  /** Why the phase failed, when it did. */
  error?: string;
}

/** The entry of an app failed over and back: RTO of the failover against its objective; both phases must pass. */
export function failoverEntry(
  app: { name: string; from: string; to: string },
  phases: FailoverPhase[],
  startedAt: string,
  finishedAt: string,
): GameDayEntry {
  const entry: GameDayEntry = { name: failoverWorkflowId(app.name), kind: 'failover', passed: false, rtoMet: false, rpoMet: false };
  const over = phases[0]?.report;
  if (!over) return { ...entry, error: phases[0]?.error };
  const passed = phases.length === 2 && phases.every((p) => !p.error);
  const steps = phases.flatMap((p) => (p.report?.steps ?? []).map((s) => ({ ...s, name: `${p.name} ${s.name}` })));
  const v: VerificationResult = {
    kind: 'failover',
    subject: app.name,
    sourceCluster: app.from,
    restoredTo: app.to,
    backup: {
      id: over.backup?.name ?? 'live state (warm standby)',
      createdAt: over.backup?.startedAt ?? over.requestedAt ?? startedAt,
      location: over.preflight?.traffic.description ?? '',
    },
    passed,
    failureReason: phases.find((p) => p.error)?.error,
    checks: phases.map((p) => ({
      name: p.name,
      passed: !p.error,
      detail: p.error ?? `${p.report!.status}: RTO ${p.report!.rtoSeconds} s, Pods Ready ${p.report!.podsReadySeconds} s after scale-up`,
    })),
    steps,
    rtoSeconds: over.rtoSeconds ?? 0,
    rpoSeconds: over.rpoSeconds ?? 0,
    objectives: over.preflight?.objectives ?? { rtoSeconds: 0, rpoSeconds: 0 },
    workflowId: failoverWorkflowId(app.name),
    runId: over.runId ?? '',
    startedAt: over.requestedAt ?? startedAt,
    finishedAt,
  };
  return judged(entry, v);
}
