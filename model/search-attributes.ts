// The search attributes every Lifeboat run carries, so that past runs can be found and counted without
// opening them: `lifeboat history`, the worker's metrics and the Temporal UI all read these. Set by the
// run itself (the workflow interceptor in workflows/run-lifecycle.ts), whoever started it: the CLI, a
// Schedule, a game day's child or `temporal workflow start`.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { abortedByAttribute, approversAttribute, requesterAttribute } from './approvals.js';

/** Which runbook (Keyword): the workflow type, or `runbook/<document name>` for a runbook document. */
export const runbookAttribute = defineSearchAttributeKey('LifeboatRunbook', SearchAttributeType.KEYWORD);
/** The cluster a run is about (Keyword); for a failover, the source. */
export const clusterAttribute = defineSearchAttributeKey('LifeboatCluster', SearchAttributeType.KEYWORD);
/** The app a run is about (Keyword), where it is about one. */
export const appAttribute = defineSearchAttributeKey('LifeboatApp', SearchAttributeType.KEYWORD);
/** How the run ended (Keyword), one of {@link runOutcomes}; absent while it runs. */
export const outcomeAttribute = defineSearchAttributeKey('LifeboatOutcome', SearchAttributeType.KEYWORD);
/** Since when the run waits for a person's approval (Datetime); absent when it does not wait. */
export const awaitingApprovalSinceAttribute = defineSearchAttributeKey('LifeboatAwaitingApprovalSince', SearchAttributeType.DATETIME);
/** The recovery time the run measured, in seconds (Double): a failover's or a game day's worst RTO. */
export const rtoSecondsAttribute = defineSearchAttributeKey('LifeboatRtoSeconds', SearchAttributeType.DOUBLE);

/**
 * How a run ended. `objectives-missed`: it completed but measured an RTO or RPO over its objective, or a
 * verification found a difference; `failed`: it did not complete; `cancelled`: someone cancelled it.
 */
export const runOutcomes = ['succeeded', 'objectives-missed', 'failed', 'cancelled'] as const;
export type RunOutcome = (typeof runOutcomes)[number];

/** The search attributes a Temporal namespace must have registered, with their types as `temporal` names them. */
export const lifeboatSearchAttributes = [
  { name: requesterAttribute.name, type: 'Keyword' },
  { name: approversAttribute.name, type: 'KeywordList' },
  { name: abortedByAttribute.name, type: 'Keyword' },
  { name: runbookAttribute.name, type: 'Keyword' },
  { name: clusterAttribute.name, type: 'Keyword' },
  { name: appAttribute.name, type: 'Keyword' },
  { name: outcomeAttribute.name, type: 'Keyword' },
  { name: awaitingApprovalSinceAttribute.name, type: 'Datetime' },
  { name: rtoSecondsAttribute.name, type: 'Double' },
] as const;
