// What a run tells people, and when: the one shape of a notification, built by the workflows (no
// secrets, nothing but what history already holds) and delivered by the notifications activity to the
// receivers the worker's configuration routes it to.
import type { RunOutcome } from './search-attributes.js';

/** When a run notifies: it started, it waits for a person's approval, it failed, it completed. */
export const notificationEvents = ['started', 'approval-needed', 'failed', 'completed'] as const;
export type NotificationEvent = (typeof notificationEvents)[number];

export interface RunNotification {
  event: NotificationEvent;
  /** The runbook, as the LifeboatRunbook search attribute names it (`failover`, `runbook/etcd-backup`). */
  runbook: string;
  workflowId: string;
  runId: string;
  /** Temporal namespace of the run. */
  namespace: string;
  cluster?: string;
  app?: string;
  /** Who started the run, where it says. */
  startedBy?: string;
  /** When the event happened (ISO 8601, workflow time). */
  at: string;
  /** For `completed` and `failed`: how the run ended. */
  outcome?: RunOutcome;
  /** One line for a person: what happened (`failover of shop from primary to standby: RTO 42 s`). */
  summary: string;
  /** For `failed`: the innermost cause, `[Type] message`. */
  rootCause?: string;
  /** For `approval-needed`: which step waits, and the command that approves it. */
  approval?: { step: string; command: string; approvers: string[]; timeoutSeconds?: number };
}

/** What a delivery did: receivers reached, and those that could not be, with why. */
export interface NotificationDelivery {
  delivered: string[];
  undelivered: { receiver: string; error: string }[];
}

/** The notifications activity as workflows call it (activities/notifications/ implements it). */
export interface NotificationActivities {
  deliverNotification(notification: RunNotification): Promise<NotificationDelivery>;
}
