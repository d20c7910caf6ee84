// Who may approve what: the one definition of the approval rules, read by the failover and runbook
// workflows (authoritative), the worker's preflight (which resolves the policy from its configuration)
// and the CLI (which refuses early, with the same words). Names are people as the Temporal client
// identity names them; `group:<name>` stands for `runbooks.approverGroups.<name>`.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Who started a run (Keyword): `lifeboat failover start`, `runbook run`, `etcd restore`, `gameday run`. */
export const requesterAttribute = defineSearchAttributeKey('LifeboatRequester', SearchAttributeType.KEYWORD);
/** Everyone who approved the run so far (KeywordList). */
export const approversAttribute = defineSearchAttributeKey('LifeboatApprovers', SearchAttributeType.KEYWORD_LIST);
/** Who aborted it (Keyword). */
export const abortedByAttribute = defineSearchAttributeKey('LifeboatAbortedBy', SearchAttributeType.KEYWORD);

/**
 * The approver a game day's own failovers name. The workflow takes it only from a child of a game-day
 * run (`gameday/...`, the parent recorded by the Temporal server, not by a client) and only where the
 * worker's configuration says `gameDay.failover: true`: the reviewed configuration is the second pair
 * of eyes.
 */
export const gameDayApprover = 'gameday';

/** An approval policy, resolved to names from the worker's configuration. */
export interface ApprovalPolicy {
  /** Who may approve. */
  approvers: string[];
  /** Who may approve with `force` (a failover whose source cannot be fenced). */
  forceApprovers: string[];
  /** The approver must not be who started the run. */
  fourEyes: boolean;
  /** Game days may fail this app over (`gameDay.failover`). */
  gameDays?: boolean;
}

/** Names from a list of names and `group:<name>` references; an unknown group stands for nobody. */
export const resolveApprovers = (list: readonly string[], groups: Readonly<Record<string, readonly string[]>>): string[] => [
  ...new Set(list.flatMap((a) => (a.startsWith('group:') ? [...(groups[a.slice('group:'.length)] ?? [])] : [a]))),
];

export interface ApprovalRequest {
  approver: string;
  /** Who started the run; undefined when the run does not say (it cannot be approved then). */
  requester: string | undefined;
  force?: boolean;
  /** The run's parent workflow ID (workflowInfo().parent), for game-day approvals. */
  parentWorkflowId?: string;
}

/** Why `request` may not approve under `policy`, in words for the person refused; undefined when it may. */
export function approvalRefusal(policy: ApprovalPolicy, request: ApprovalRequest): string | undefined {
  const { approver, requester, force } = request;
  if (!approver.trim()) return 'the approval names no approver';
  if (approver === gameDayApprover) {
    if (!policy.gameDays) return `'${gameDayApprover}' may approve only where the configuration says gameDay.failover: true`;
    if (!request.parentWorkflowId?.startsWith('gameday/')) return `'${gameDayApprover}' may approve only a game day's own runs`;
    if (force) return `'${gameDayApprover}' may not force`;
    return undefined;
  }
  if (!policy.approvers.includes(approver))
    return `'${approver}' is not an approver (approvers: ${policy.approvers.join(', ') || 'nobody is configured'})`;
  if (policy.fourEyes) {
    if (requester === undefined) return 'the run does not name who started it, so four eyes cannot be checked; start it with lifeboat';
    if (requester === approver) return `'${approver}' started this run and may not approve it too (four eyes: another approver must)`;
  }
  if (force && !policy.forceApprovers.includes(approver))
    return `'${approver}' may not force (force approvers: ${policy.forceApprovers.join(', ') || 'nobody is configured'})`;
  return undefined;
}
