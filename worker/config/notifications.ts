// `notifications:`: where a run's notifications go (receivers, by name) and which go where (routes).
// Part of the one configuration schema (config/schema.ts); the files it names are checked at load.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseSecondsDuration, secondsDurationExpectation, secondsDurationPattern } from '../../model/durations.js';
import { notificationEvents } from '../../model/notifications.js';
import { runOutcomes } from '../../model/search-attributes.js';
import { secretFileProblem } from '../secret-files.js';
import { unreadable } from './checks.js';
import type { Path } from './source.js';

const receiverName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a receiver name: lower-case letters, digits and dashes');
/** A file holding a secret: readable, and private to its owner (worker/secret-files.ts). */
const secretFile = z.string().min(1, 'a file path');
const httpUrl = z.url({ protocol: /^https?$/ });
const duration = z
  .string()
  .regex(secondsDurationPattern, secondsDurationExpectation)
  .transform((v) => parseSecondsDuration(v)!);
/** Per request to a receiver. Default: 10s. */
const timeout = () => duration.default(10);

/** The smallest HMAC key a webhook receiver is given: 32 characters (256 bits of a random hex or base64 string). */
export const minWebhookKeyLength = 32;

export const notificationReceiverSchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        /** A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): `{ "text": ... }`. */
        kind: z.literal('slack'),
        /** File holding the webhook's URL, a secret (its path is the token); never in this file. */
        urlFile: secretFile,
        timeout: timeout(),
      })
      .strict(),
    z
      .object({
        /**
         * A generic JSON webhook: the RunNotification plus `version`, signed with HMAC-SHA256 over the
         * timestamp and the body (README, "Notifications", tells a receiver how to verify it).
         */
        kind: z.literal('webhook'),
        url: httpUrl,
        /** File holding the shared HMAC key (at least 32 characters; surrounding whitespace is not part of it). */
        keyFile: secretFile,
        timeout: timeout(),
      })
      .strict(),
    z
      .object({
        /** Alertmanager's API (`POST <url>/api/v2/alerts`): an alert per run that failed or waits for approval. */
        kind: z.literal('alertmanager'),
        /** Alertmanager's base URL, e.g. http://alertmanager:9093 (a path prefix, as with --web.route-prefix, is kept). */
        url: httpUrl,
        /** File holding a bearer token for Alertmanager (or the proxy in front of it). */
        bearerTokenFile: secretFile.optional(),
        /** Basic auth for Alertmanager's web config (or a proxy): the username, and a file holding the password. */
        basicAuth: z
          .object({ username: z.string().min(1), passwordFile: secretFile })
          .strict()
          .optional(),
        /**
         * A failed run's alert (and an objectives-missed one) ends this long after it fired: Alertmanager
         * hears nothing more of that run. An approval alert ends when the run goes on (or at its approval
         * timeout). Default: 24h.
         */
        resolveAfter: duration.default(86400),
        timeout: timeout(),
      })
      .strict()
      .refine((r) => !(r.bearerTokenFile && r.basicAuth), 'at most one of bearerTokenFile or basicAuth'),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? "expected kind 'slack', 'webhook' or 'alertmanager'" : undefined) },
);

/** The events that carry an outcome: a route's `outcomes` can only match these. */
const endEvents: readonly string[] = ['completed', 'failed'];

export const notificationRouteSchema = z
  .object({
    /**
     * Runbooks as the LifeboatRunbook search attribute names them (`failover`, `gameDay`,
     * `etcdSnapshot`, `runbook/<document>`); `*` matches any characters, `/` included
     * (`runbook/*`). Default: every runbook.
     */
    runbooks: z
      .array(z.string().regex(/^[A-Za-z0-9*][A-Za-z0-9_.*/-]*$/, 'a runbook name or a pattern with *, like runbook/*'))
      .min(1)
      .optional(),
    /** Default: every event (started, approval-needed, failed, completed). */
    events: z
      .array(z.enum(notificationEvents, { error: `expected one of ${notificationEvents.join(', ')}` }))
      .min(1)
      .optional(),
    /** Only runs that ended so (completed and failed events). Default: any outcome, and events without one. */
    outcomes: z
      .array(z.enum(runOutcomes, { error: `expected one of ${runOutcomes.join(', ')}` }))
      .min(1)
      .optional(),
    /** Receivers (by name) that get what this route matches. */
    receivers: z.array(receiverName).min(1, 'at least one receiver'),
  })
  .strict()
  .superRefine((route, ctx) => {
    if (route.outcomes && route.events && !route.events.some((e) => endEvents.includes(e)))
      ctx.addIssue({
        code: 'custom',
        path: ['outcomes'],
        message: `never matches: only completed and failed events have an outcome, and this route takes ${route.events.join(', ')}`,
      });
  });

export const notificationsSchema = z
  .object({
    /** Where notifications can go, by name. Default: none. */
    receivers: z.record(receiverName, notificationReceiverSchema).default({}),
    /** Every route that matches a notification adds its receivers; each receiver gets it once. Default: none, so nothing is sent. */
    routes: z.array(notificationRouteSchema).default([]),
  })
  .strict()
  .superRefine((n, ctx) => {
    const names = Object.keys(n.receivers);
    n.routes.forEach((route, i) =>
      route.receivers.forEach((r, j) => {
        if (!names.includes(r))
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'receivers', j],
            message: `unknown receiver '${r}'; configured: ${names.join(', ') || 'none (notifications.receivers)'}`,
          });
      }),
    );
  });

export type NotificationsConfig = z.infer<typeof notificationsSchema>;
export type NotificationReceiverConfig = z.infer<typeof notificationReceiverSchema>;
export type NotificationRouteConfig = z.infer<typeof notificationRouteSchema>;

/**
 * The secret files `notifications:` names that a delivery could not read: missing, unreadable, open to
 * others (as ssh refuses such a key), or a webhook key shorter than {@link minWebhookKeyLength}.
 */
export function notificationFileProblems(notifications: NotificationsConfig): { path: Path; message: string }[] {
  const problems: { path: Path; message: string }[] = [];
  for (const [name, r] of Object.entries(notifications.receivers)) {
    const base = ['notifications', 'receivers', name];
    const files: [Path, string | undefined][] =
      r.kind === 'slack'
        ? [[[...base, 'urlFile'], r.urlFile]]
        : r.kind === 'webhook'
          ? [[[...base, 'keyFile'], r.keyFile]]
          : [
              [[...base, 'bearerTokenFile'], r.bearerTokenFile],
              [[...base, 'basicAuth', 'passwordFile'], r.basicAuth?.passwordFile],
            ];
    for (const [path, file] of files) {
      if (file === undefined) continue;
      const problem = unreadable(file) ?? secretFileProblem(file);
      if (problem) {
        problems.push({ path, message: `'${file}': ${problem}; expected a readable file only its owner can access (chmod 600 it)` });
        continue;
      }
      if (r.kind === 'webhook') {
        const { length } = readFileSync(file, 'utf8').trim();
        if (length < minWebhookKeyLength)
          problems.push({
            path,
            message: `'${file}' holds a key of ${length} characters; expected at least ${minWebhookKeyLength} (e.g. openssl rand -hex 32)`,
          });
      }
    }
  }
  return problems;
}
