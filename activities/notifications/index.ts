// Delivers a run's notification to the receivers the configuration routes it to (Slack-compatible
// webhooks, signed JSON webhooks, Alertmanager), each request made the way Lifeboat calls every
// team's webhook (activities/webhooks.ts). Receivers reached are heartbeated as they are reached, so a
// retry sends only to the others: nobody gets a notification twice. A receiver that refuses the
// message (4xx) is reported, not retried; one that is down makes the attempt fail retryably, naming
// it. The workflow catches the last failure: a notification never fails a runbook.
import { ApplicationFailure, CancelledFailure, Context, log } from '@temporalio/activity';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { parseSecondsDuration } from '../../model/durations.js';
import { failureTypes } from '../../model/failures.js';
import type { NotificationDelivery, RunNotification } from '../../model/notifications.js';
import type { NotificationReceiverConfig, NotificationsConfig } from '../../worker/config.js';
import { readSecretFile } from '../../worker/secret-files.js';
import { callWebhook, type WebhookFailureTypes } from '../webhooks.js';
import { alertsFor, deliveryKey, slackMessage, webhookBody, webhookHeaders, webhookSignature } from './messages.js';
import { routeNotification } from './routes.js';

export interface NotificationDeps {
  /** Receivers and routes (`notifications:` in the configuration). */
  notifications: NotificationsConfig;
  /** The Temporal UI's URL (`temporal.ui`), for a link to the run; undefined: no link. */
  temporalUi: string | undefined;
  /** Where `lifeboat_notifications_total` and `lifeboat_notifications_failed_total` are registered; undefined: not counted. */
  registry?: Registry;
  /** Where a receiver that was not reached is logged; undefined: the activity's logger (the worker's pino, through Temporal's runtime). */
  logger?: Pick<Logger, 'warn'>;
}

/** What the activity heartbeats: the receivers done with, so that a retry skips them. */
interface DeliveryProgress {
  delivered: string[];
  undelivered: NotificationDelivery['undelivered'];
}

const webhookFailureTypes: WebhookFailureTypes = {
  unavailable: failureTypes.NotificationReceiverUnavailable,
  timeout: failureTypes.NotificationReceiverUnavailable,
  unreachable: failureTypes.NotificationReceiverUnavailable,
  rejected: failureTypes.NotificationRejected,
};

/** A receiver's settings that cannot work (a secret file that went missing or holds no URL): reported, not retried. */
class ReceiverMisconfigured extends Error {
  override readonly name = 'ReceiverMisconfigured';
}

function previousProgress(details: unknown): DeliveryProgress {
  const d = details as Partial<DeliveryProgress> | undefined;
  return {
    delivered: Array.isArray(d?.delivered) ? d.delivered.filter((r): r is string => typeof r === 'string') : [],
    undelivered: Array.isArray(d?.undelivered)
      ? d.undelivered.filter(
          (u): u is { receiver: string; error: string } => typeof u?.receiver === 'string' && typeof u.error === 'string',
        )
      : [],
  };
}

function readSecret(file: string, what: string): string {
  try {
    return readSecretFile(file, what).trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ReceiverMisconfigured(code === 'ENOENT' ? `${what} '${file}': no such file` : (err as Error).message);
  }
}

/** The secret values a message must never show. */
type Secrets = string[];

/**
 * Sends `n` to one receiver. Returns what it sent (`skipped` when the receiver has nothing for this
 * event: Alertmanager for a started run); throws the classified webhook failure, or ReceiverMisconfigured.
 */
async function sendTo(
  name: string,
  receiver: NotificationReceiverConfig,
  n: RunNotification,
  options: { temporalUi: string | undefined; heartbeatDetails: () => Record<string, unknown>; secrets: Secrets },
): Promise<'sent' | 'skipped'> {
  const common = { method: 'POST' as const, timeout: receiver.timeout, heartbeatDetails: options.heartbeatDetails };
  switch (receiver.kind) {
    case 'slack': {
      const url = readSecret(receiver.urlFile, `receiver '${name}' urlFile`);
      options.secrets.push(url);
      let origin: string;
      try {
        const parsed = new URL(url);
        if (!/^https?:$/.test(parsed.protocol)) throw new Error();
        origin = parsed.origin;
        options.secrets.push(parsed.pathname, parsed.search);
      } catch {
        throw new ReceiverMisconfigured(`receiver '${name}' urlFile '${receiver.urlFile}' does not hold an http(s) URL`);
      }
      await callWebhook(
        url,
        {
          ...common,
          // The URL's path is Slack's token: messages name the origin and the file only.
          target: `POST ${origin} (the URL in ${receiver.urlFile})`,
          headers: { 'content-type': 'application/json', [webhookHeaders.delivery]: deliveryKey(n) },
          body: JSON.stringify(slackMessage(n, options.temporalUi)),
        },
        webhookFailureTypes,
      );
      return 'sent';
    }
    case 'webhook': {
      const key = readSecret(receiver.keyFile, `receiver '${name}' keyFile`);
      options.secrets.push(key);
      const body = webhookBody(n);
      const timestamp = Math.floor(Date.now() / 1000);
      await callWebhook(
        receiver.url,
        {
          ...common,
          headers: {
            'content-type': 'application/json',
            [webhookHeaders.timestamp]: String(timestamp),
            [webhookHeaders.signature]: webhookSignature(key, timestamp, body),
            [webhookHeaders.delivery]: deliveryKey(n),
          },
          body,
        },
        webhookFailureTypes,
      );
      return 'sent';
    }
    case 'alertmanager': {
      const alerts = alertsFor(n, { resolveAfter: receiver.resolveAfter, ui: options.temporalUi });
      if (!alerts.length) return 'skipped';
      const token = receiver.bearerTokenFile ? readSecret(receiver.bearerTokenFile, `receiver '${name}' bearerTokenFile`) : undefined;
      const password = receiver.basicAuth
        ? readSecret(receiver.basicAuth.passwordFile, `receiver '${name}' basicAuth.passwordFile`)
        : undefined;
      options.secrets.push(...[token, password].filter((s): s is string => !!s));
      const basic: Record<string, string> =
        receiver.basicAuth && password !== undefined
          ? { authorization: `Basic ${Buffer.from(`${receiver.basicAuth.username}:${password}`).toString('base64')}` }
          : {};
      const base = receiver.url.endsWith('/') ? receiver.url : `${receiver.url}/`;
      await callWebhook(
        new URL('api/v2/alerts', base).href,
        { ...common, headers: { 'content-type': 'application/json', ...basic }, body: JSON.stringify(alerts), ...(token ? { token } : {}) },
        webhookFailureTypes,
      );
      return 'sent';
    }
  }
}

/**
 * The notification activity. Retry it with the SDK's back-off (a failure's `nextRetryDelay` carries a
 * receiver's Retry-After) and a heartbeat timeout (it heartbeats while a receiver answers), and catch
 * its last failure in the workflow: its details hold the NotificationDelivery of what was reached.
 */
export function createNotificationActivities(deps: NotificationDeps) {
  // A second factory on the same registry (a test's second worker) counts into the same metrics.
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    deps.registry
      ? ((deps.registry.getSingleMetric(name) as Counter<L> | undefined) ??
        new Counter({ name, help, labelNames, registers: [deps.registry] }))
      : undefined;
  const total = counter(
    'lifeboat_notifications_total',
    'Notifications per receiver, event and result: delivered, skipped (nothing for this event), failed (retried), rejected (not retried)',
    ['receiver', 'event', 'result'],
  );
  const failed = counter('lifeboat_notifications_failed_total', 'Attempts to notify a receiver that failed, retryable or not', [
    'receiver',
  ]);
  const warn = (fields: Record<string, unknown>, message: string) => {
    if (deps.logger) deps.logger.warn(fields, message);
    else log.warn(message, fields);
  };

  return {
    /**
     * Sends `notification` to every receiver its routes name, skipping those a previous attempt reached
     * or that refused it. Returns who got it and who refused it (4xx other than 408 and 429, or a
     * receiver misconfigured); throws a retryable NotificationUndelivered naming the receivers that
     * were down, after delivering to all the others.
     */
    async deliverNotification(notification: RunNotification): Promise<NotificationDelivery> {
      const ctx = Context.current();
      const receivers = routeNotification(deps.notifications.routes, notification);
      const previous = previousProgress(ctx.info.heartbeatDetails);
      const done: DeliveryProgress = {
        delivered: previous.delivered.filter((r) => receivers.includes(r)),
        undelivered: previous.undelivered.filter((u) => receivers.includes(u.receiver)),
      };
      const progress = (): Record<string, unknown> => ({ delivered: [...done.delivered], undelivered: [...done.undelivered] });
      const pending = receivers.filter((r) => !done.delivered.includes(r) && !done.undelivered.some((u) => u.receiver === r));
      const unavailable: { receiver: string; error: string; retryAfterSeconds?: number }[] = [];
      await Promise.all(
        pending.map(async (receiver) => {
          const secrets: Secrets = [];
          try {
            const result = await sendTo(receiver, deps.notifications.receivers[receiver]!, notification, {
              temporalUi: deps.temporalUi,
              heartbeatDetails: progress,
              secrets,
            });
            done.delivered.push(receiver);
            ctx.heartbeat(progress());
            total?.inc({ receiver, event: notification.event, result: result === 'sent' ? 'delivered' : 'skipped' });
          } catch (err) {
            if (err instanceof CancelledFailure) return;
            const error = secrets.filter((s) => s.length > 1).reduce((text, s) => text.replaceAll(s, '[redacted]'), (err as Error).message);
            const failure = err instanceof ApplicationFailure ? err : undefined;
            const retryable = failure?.type === failureTypes.NotificationReceiverUnavailable;
            failed?.inc({ receiver });
            total?.inc({ receiver, event: notification.event, result: retryable ? 'failed' : 'rejected' });
            warn(
              { receiver, event: notification.event, workflowId: notification.workflowId, retryable, error },
              `notification not delivered to receiver '${receiver}': ${error}`,
            );
            if (retryable) {
              const delay: unknown = failure?.nextRetryDelay;
              const seconds =
                typeof delay === 'number' ? delay / 1000 : typeof delay === 'string' ? parseSecondsDuration(delay) : undefined;
              unavailable.push({ receiver, error, ...(seconds === undefined ? {} : { retryAfterSeconds: seconds }) });
            } else {
              done.undelivered.push({ receiver, error });
              ctx.heartbeat(progress());
            }
          }
        }),
      );
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('notification delivery cancelled');
      const inOrder = (names: string[]) => receivers.filter((r) => names.includes(r));
      const delivery: NotificationDelivery = {
        delivered: inOrder(done.delivered),
        undelivered: done.undelivered.sort((a, b) => receivers.indexOf(a.receiver) - receivers.indexOf(b.receiver)),
      };
      if (unavailable.length) {
        const retryAfter = Math.max(0, ...unavailable.map((u) => u.retryAfterSeconds ?? 0));
        throw ApplicationFailure.create({
          type: failureTypes.NotificationUndelivered,
          message: `${notification.event} notification of ${notification.workflowId} not delivered to ${unavailable
            .map((u) => `'${u.receiver}' (${u.error})`)
            .join(', ')}${delivery.delivered.length ? `; delivered to ${delivery.delivered.join(', ')}` : ''}`,
          nonRetryable: false,
          details: [
            { ...delivery, undelivered: [...delivery.undelivered, ...unavailable.map(({ receiver, error }) => ({ receiver, error }))] },
          ],
          ...(retryAfter ? { nextRetryDelay: `${retryAfter}s` } : {}),
        });
      }
      return delivery;
    },
  };
}
