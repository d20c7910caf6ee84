// What each kind of receiver is sent for a run's notification: a Slack message for people, a signed JSON
// document for programs, and alerts for Alertmanager. Pure: no request is made here.
import { createHmac } from 'node:crypto';
import type { NotificationEvent, RunNotification } from '../../model/notifications.js';

/** The version of the JSON webhook's body; a change that removes or renames a field gets a new one. */
export const webhookBodyVersion = 1;

/** Headers of the JSON webhook's request (README, "Notifications"). */
export const webhookHeaders = {
  /** Unix seconds when the request was signed; a receiver refuses one too far from its own clock (replay). */
  timestamp: 'x-lifeboat-timestamp',
  /** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the shared key>`. */
  signature: 'x-lifeboat-signature',
  /** The same for every attempt to deliver one notification: a receiver drops repeats by it. */
  delivery: 'idempotency-key',
} as const;

/** The key that names one notification across retries: its run, its event and, for an approval, its step. */
export const deliveryKey = (n: RunNotification) =>
  [n.workflowId, n.runId, n.event, ...(n.approval ? [n.approval.step] : [])].map(encodeURIComponent).join('/');

/** The JSON webhook's body: the notification plus `version`. */
export const webhookBody = (n: RunNotification) => JSON.stringify({ version: webhookBodyVersion, ...n });

/** The signature header's value for `body` sent at `timestamp` (Unix seconds). */
export const webhookSignature = (key: string, timestamp: number, body: string) =>
  `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;

/** A link to the run in the Temporal UI, when its address is configured. */
export const runLink = (ui: string | undefined, n: RunNotification) =>
  ui
    ? `${ui.replace(/\/$/, '')}/namespaces/${encodeURIComponent(n.namespace)}/workflows/${encodeURIComponent(n.workflowId)}/${encodeURIComponent(n.runId)}`
    : undefined;

const eventWords: Record<NotificationEvent, string> = {
  started: 'started',
  'approval-needed': 'waits for approval',
  failed: 'failed',
  completed: 'completed',
};

const slackIcon = (n: RunNotification) =>
  n.event === 'started'
    ? ':arrow_forward:'
    : n.event === 'approval-needed'
      ? ':raised_hand:'
      : n.event === 'failed'
        ? ':x:'
        : n.outcome === 'objectives-missed'
          ? ':warning:'
          : ':white_check_mark:';

/** Slack's mrkdwn gives &, < and > a meaning: text from the run is escaped. */
const slackEscape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

const durationWords = (seconds: number) =>
  seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;

/** The Slack message (`{ text }`, mrkdwn): the runbook, where, what happened, and what a person does next. */
export function slackMessage(n: RunNotification, ui: string | undefined): { text: string } {
  const where = [n.cluster ? `*Cluster:* ${slackEscape(n.cluster)}` : '', n.app ? `*App:* ${slackEscape(n.app)}` : '']
    .filter(Boolean)
    .join('   ');
  const link = runLink(ui, n);
  const lines = [
    `${slackIcon(n)} *${slackEscape(n.runbook)}* ${eventWords[n.event]}: ${slackEscape(n.summary)}`,
    where,
    n.outcome ? `*Outcome:* ${n.outcome}` : '',
    n.rootCause ? `*Root cause:* ${slackEscape(n.rootCause)}` : '',
    n.approval ? `*Waiting:* step ${slackEscape(n.approval.step)}` : '',
    n.approval ? `*Approve with:*\n\`\`\`${slackEscape(n.approval.command)}\`\`\`` : '',
    n.approval?.approvers.length ? `*Approvers:* ${slackEscape(n.approval.approvers.join(', '))}` : '',
    n.approval?.timeoutSeconds ? `*Times out in:* ${durationWords(n.approval.timeoutSeconds)}` : '',
    n.startedBy ? `*Started by:* ${slackEscape(n.startedBy)}` : '',
    `*Workflow:* ${link ? `<${link}|${slackEscape(n.workflowId)}>` : `\`${slackEscape(n.workflowId)}\``} (run ${n.runId})`,
  ];
  return { text: lines.filter(Boolean).join('\n') };
}

/** An alert as Alertmanager's API v2 takes it (`postableAlert`). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

/** The alert names Lifeboat raises in Alertmanager. */
export const alertNames = {
  approvalNeeded: 'LifeboatApprovalNeeded',
  failed: 'LifeboatRunbookFailed',
  objectivesMissed: 'LifeboatRunbookObjectivesMissed',
} as const;

const addSeconds = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();

/**
 * The alerts one notification posts: an approval-needed one fires `LifeboatApprovalNeeded` until the
 * approval times out; the run's completed or failed one resolves it (same labels, `endsAt` = then),
 * whether or not one fired (Alertmanager sends nothing for an alert it first hears of resolved), and
 * fires `LifeboatRunbookFailed` (critical; warning when cancelled) or, for a completed run that missed
 * its objectives, `LifeboatRunbookObjectivesMissed` (warning), each for `resolveAfter` seconds. A
 * started run raises nothing.
 */
export function alertsFor(n: RunNotification, options: { resolveAfter: number; ui: string | undefined }): PostableAlert[] {
  const link = runLink(options.ui, n);
  const labels = (alertname: string, severity: string) => ({
    alertname,
    runbook: n.runbook,
    ...(n.cluster ? { cluster: n.cluster } : {}),
    ...(n.app ? { app: n.app } : {}),
    workflow_id: n.workflowId,
    severity,
  });
  const description = [
    n.rootCause ? `Root cause: ${n.rootCause}` : '',
    n.approval ? `Step ${n.approval.step} waits for approval: ${n.approval.command}` : '',
    n.approval?.approvers.length ? `Approvers: ${n.approval.approvers.join(', ')}` : '',
    n.startedBy ? `Started by ${n.startedBy}` : '',
    `Workflow ${n.workflowId}, run ${n.runId}, namespace ${n.namespace}`,
  ]
    .filter(Boolean)
    .join('\n');
  const alert = (alertname: string, severity: string, endsAt: string, summary = n.summary): PostableAlert => ({
    labels: labels(alertname, severity),
    annotations: { summary, description },
    startsAt: n.at,
    endsAt,
    ...(link ? { generatorURL: link } : {}),
  });
  switch (n.event) {
    case 'started':
      return [];
    case 'approval-needed':
      return [alert(alertNames.approvalNeeded, 'warning', addSeconds(n.at, n.approval?.timeoutSeconds ?? options.resolveAfter))];
    case 'completed':
    case 'failed': {
      const resolved = alert(alertNames.approvalNeeded, 'warning', n.at, `No longer waiting: ${n.summary}`);
      const until = addSeconds(n.at, options.resolveAfter);
      if (n.event === 'failed') return [resolved, alert(alertNames.failed, n.outcome === 'cancelled' ? 'warning' : 'critical', until)];
      return n.outcome === 'objectives-missed' ? [resolved, alert(alertNames.objectivesMissed, 'warning', until)] : [resolved];
    }
  }
}
