// A team's provisioning system behind a webhook. Every request carries `Authorization: Bearer
// $<tokenEnv>` and, for a POST, an Idempotency-Key header equal to the body's `idempotencyKey`, stable
// across the attempts of one run, so the receiver does each thing once.
//   POST <url> { action: 'power-off', cluster, node, idempotencyKey }  → 2xx, `{ "off": true }` when done
//   GET  <url>/nodes/<node>                                           → 2xx `{ "off": true | false }`
//   POST <url> { action: 'provision', cluster, replacing, pool, idempotencyKey } → 2xx `{ "node": "<name>" }`
//     (`"created": false` in the answer: an earlier request with that key made it)
// 5xx, 408, 429 and no answer are NodeProviderUnavailable (retryable, Retry-After honoured); any other
// answer but 2xx is NodeProviderRejected.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { NodeProviderConfig } from '../../worker/config.js';
import { failureTypes } from '../../model/failures.js';
import { callWebhook, parseJson, safeUrl, type WebhookRequest } from '../webhooks.js';
import type { NodeProvider } from './provider.js';

export type WebhookNodeProviderConfig = Extract<NodeProviderConfig, { kind: 'webhook' }>;

const nodeProviderFailures = {
  unavailable: failureTypes.NodeProviderUnavailable,
  timeout: failureTypes.NodeProviderUnavailable,
  unreachable: failureTypes.NodeProviderUnavailable,
  rejected: failureTypes.NodeProviderRejected,
};

function bearerToken(config: WebhookNodeProviderConfig): string {
  const token = process.env[config.tokenEnv];
  if (!token)
    throw ApplicationFailure.nonRetryable(
      `the node provider's token variable ${config.tokenEnv} is not set in the worker's environment`,
      failureTypes.NodeProviderTokenMissing,
    );
  return token;
}

/** `<url>/nodes/<node>`, with the URL's query kept. */
export function nodeStatusUrl(url: string, node: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/nodes/${encodeURIComponent(node)}`;
  return u.toString();
}

export function webhookProvider(config: WebhookNodeProviderConfig): NodeProvider {
  const send = (url: string, request: Omit<WebhookRequest, 'timeout' | 'token'>) =>
    callWebhook(url, { ...request, timeout: config.timeout, token: bearerToken(config) }, nodeProviderFailures);
  const post = (body: { action: string; idempotencyKey: string } & Record<string, unknown>) =>
    send(config.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': body.idempotencyKey },
      body: JSON.stringify(body),
    });
  const saysOff = (text: string) => (parseJson(text) as { off?: unknown } | undefined)?.off === true;

  return {
    async powerOff({ cluster, node, idempotencyKey }) {
      const posted = await post({ action: 'power-off', cluster, node, idempotencyKey });
      const where = `POST ${safeUrl(config.url)}`;
      if (saysOff(posted.text)) return { off: true, how: `webhook: ${where} answered ${posted.status}, off` };
      const statusUrl = nodeStatusUrl(config.url, node);
      const ctx = Context.current();
      const deadline = Date.now() + config.timeout * 1000;
      let last = 'no answer yet';
      for (let polls = 1; ; polls++) {
        const { status, text } = await send(statusUrl, { method: 'GET' });
        if (saysOff(text)) return { off: true, how: `webhook: GET ${safeUrl(statusUrl)} answered ${status}, off (poll ${polls})` };
        last = `${status} ${text.trim().slice(0, 200)}`;
        ctx.heartbeat({ node, polls, last });
        if (Date.now() + config.pollInterval * 1000 > deadline) break;
        await ctx.sleep(config.pollInterval * 1000);
      }
      return {
        off: false,
        how: `webhook: ${where} accepted the power-off, but GET ${safeUrl(statusUrl)} did not say off within ${config.timeout} s (last: ${last})`,
      };
    },

    async provision({ cluster, replacing, pool, idempotencyKey }) {
      const { status, text } = await post({ action: 'provision', cluster, replacing, pool, idempotencyKey });
      const answer = parseJson(text) as { node?: unknown; created?: unknown } | undefined;
      if (typeof answer?.node !== 'string' || !answer.node)
        throw ApplicationFailure.nonRetryable(
          `POST ${safeUrl(config.url)} answered ${status} without a "node" string: ${text.trim().slice(0, 200)}`,
          failureTypes.NodeProviderRejected,
        );
      return { node: answer.node, created: answer.created !== false };
    },
  };
}
