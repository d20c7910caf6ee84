// The node health watch: one run per cluster and tick of its Temporal Schedule (`lifeboat schedule
// apply`, every minute by default). It observes the Nodes, judges them (model/node-health.ts: unhealthy
// past unhealthyAfter, storm, maxUnhealthy, exclusion, pause), and starts the node-replacement runbook
// (mode failed, approved by the watch within its budget) for each Node it may, under the Node's lock
// `node-replacement/<cluster>/<node>`, so a Node already being replaced is never started twice. The
// replacements outlive the watch's run (abandoned children). A storm or a pause is said in the result and,
// when a webhook is configured, in a notification.
import { ParentClosePolicy, proxyActivities, startChild, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { NodeHealthActivities } from '../activities/kubernetes/nodes.js';
import type { NotifyActivities } from '../activities/traffic/notify.js';
import { failureTypes } from '../model/failures.js';
import { judgeNodeHealth, type NodeHealthPolicy, type NodeHealthVerdict } from '../model/node-health.js';
import type { RunbookInput } from '../model/runbook/run.js';

export interface NodeHealthWatchInput {
  cluster: string;
  policy: NodeHealthPolicy;
  /** The node-replacement runbook as `schedule apply` validated it; each start sets its node, mode, reason and approver. */
  replacement: RunbookInput;
  /** An environment variable holding a Slack-compatible webhook URL: told of storms and of each replacement started. */
  notifyWebhookEnv?: string;
}

export interface NodeHealthWatchResult extends NodeHealthVerdict {
  cluster: string;
  checkedAt: string;
  /** The replacement runs it started: their workflow IDs. */
  started: string[];
}

const nodes = proxyActivities<NodeHealthActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    maximumAttempts: 3,
    initialInterval: '1 second',
    nonRetryableErrorTypes: [failureTypes.UnknownCluster, failureTypes.KubernetesForbidden],
  },
});
const notify = proxyActivities<NotifyActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    maximumAttempts: 3,
    initialInterval: '2 seconds',
    nonRetryableErrorTypes: [failureTypes.NotificationRejected, failureTypes.InvalidRunbookInput],
  },
});

/** The lock of one Node's replacement: the same ID as `lifeboat node replace` takes. */
export const nodeReplacementWorkflowId = (cluster: string, node: string) => `node-replacement/${cluster}/${node}`;

export async function nodeHealthWatch(input: NodeHealthWatchInput): Promise<NodeHealthWatchResult> {
  const checkedAt = new Date();
  const observed = await nodes.observeNodes({ cluster: input.cluster });
  // A replacement cordons its Node first: an unhealthy, cordoned Node is one in remediation (or one a
  // person took out of service), and counts against maxUnhealthy.
  const verdict = judgeNodeHealth(observed.nodes, input.policy, checkedAt, observed.cordoned);
  const started: string[] = [];
  const held = [...verdict.held];
  for (const node of verdict.remediate) {
    const workflowId = nodeReplacementWorkflowId(input.cluster, node);
    const why = verdict.unhealthy.find((u) => u.node === node)!;
    try {
      await startChild('runbook', {
        workflowId,
        args: [
          {
            ...input.replacement,
            startedBy: `node health watch of ${input.cluster}`,
            parameters: {
              ...input.replacement.parameters,
              cluster: input.cluster,
              node,
              mode: 'failed',
              reason: `unhealthy since ${why.since}: ${why.why}`,
              approver: `node health watch (maxUnhealthy ${String(input.policy.maxUnhealthy)})`,
            },
          } satisfies RunbookInput,
        ],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      started.push(workflowId);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      held.push({ node, why: 'already being replaced' });
    }
  }
  const result: NodeHealthWatchResult = {
    ...verdict,
    held,
    remediate: verdict.remediate.filter((n) => started.includes(nodeReplacementWorkflowId(input.cluster, n))),
    cluster: input.cluster,
    checkedAt: checkedAt.toISOString(),
    started,
  };
  if (input.notifyWebhookEnv && (verdict.stopped?.startsWith('storm') || started.length)) {
    const text = verdict.stopped
      ? `Lifeboat node health watch, ${input.cluster}: ${verdict.stopped}`
      : `Lifeboat node health watch, ${input.cluster}: replacing ${started.map((id) => id.split('/').pop()).join(', ')}`;
    await notify.notify({ webhookEnv: input.notifyWebhookEnv, text });
  }
  return result;
}
