// How a verification result reads on a terminal, for `verify` and `gameday`.
import { carriedDetails } from '../model/failure-chain.js';
import type { VerificationResult } from '../model/verification.js';
import { table } from './output.js';
import { failureTypes } from '../model/failures.js';
import { formatDuration, formatStepTime } from '../model/durations.js';

/** The VerificationResult a failed verification carries in its failure's details, if it got that far. */
export const failedVerification = (err: unknown) =>
  carriedDetails<VerificationResult>(err, ({ type }) => type === failureTypes.VerificationFailed);

export function formatVerification(r: VerificationResult): string {
  const met = (value: number, objective: number) =>
    `${formatDuration(value)} (objective ${formatDuration(objective)}: ${value <= objective ? 'met' : 'MISSED'})`;
  return [
    table(
      ['step', 'state', 'took', 'detail'],
      r.steps.map((s) => [s.name, s.state, formatStepTime(s.startedAt, s.finishedAt), (s.detail ?? '').split('\n')[0]!]),
    ),
    '',
    table(
      ['check', 'result', 'detail'],
      r.checks.map((c) => [c.name, c.passed ? 'pass' : 'FAIL', c.detail]),
    ),
    '',
    `${r.kind} backup ${r.backup.id} of ${r.sourceCluster} restored to ${r.restoredTo}: ${r.passed ? 'VERIFIED' : `FAILED: ${r.failureReason}`}`,
    `RTO ${met(r.rtoSeconds, r.objectives.rtoSeconds)}, RPO ${met(r.rpoSeconds, r.objectives.rpoSeconds)}`,
    '',
  ].join('\n');
}
