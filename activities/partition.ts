// The networkPartition runbook's decide step: the decision table (model/partition.ts) over what the
// witnesses saw, as a read-only building block, so the run's plan shows the witnesses and the row chosen.
import { ApplicationFailure } from '@temporalio/activity';
import { decidePartition, type PartitionDecision, type PartitionRow, type PartitionWitnesses } from '../model/partition.js';
import { failureTypes } from '../model/failures.js';

export interface DecidePartitionInput extends PartitionWitnesses {
  /**
   * The row an earlier decision chose: when given and the witnesses now say otherwise, the step fails
   * (PartitionDecisionChanged) rather than act on a world that has changed since the approval.
   */
  expectRow?: PartitionRow;
}

export const createPartitionActivities = () => ({
  decidePartition(input: DecidePartitionInput): Promise<PartitionDecision> {
    const { expectRow, ...witnesses } = input;
    const decision = decidePartition(witnesses);
    if (expectRow && decision.row !== expectRow)
      throw ApplicationFailure.nonRetryable(
        `the witnesses changed since the decision was approved: it was ${expectRow}, it is now ${decision.row}: ${decision.detail}`,
        failureTypes.PartitionDecisionChanged,
        decision,
      );
    return Promise.resolve(decision);
  },
});
