// Traffic providers: where an app's traffic goes, and switching it between clusters during a failover
// and its rollback. Two providers: an ExternalDNS DNSEndpoint (externaldns.k8s.io/v1alpha1) in a
// configured cluster, written with a conditional update, and a generic webhook that receives the
// decision as JSON with an Idempotency-Key.
//
// Retries belong to the caller's activity retry policy: each attempt reads once and writes once (or
// POSTs once). For a webhook use `maximumAttempts: traffic.attempts` and a startToCloseTimeout above
// `traffic.timeout`. Every failure retrying cannot fix is an ApplicationFailure.nonRetryable with a
// type from `trafficFailureTypes`; the webhook's transient failures are retryable ApplicationFailures
// with the types in `retryableTrafficFailureTypes`, so a workflow can report what the last attempt met.
import { ApplicationFailure } from '@temporalio/activity';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import type { AppConfig, TrafficConfig } from '../../worker/config.js';
import { clusterClients } from '../kubernetes/cluster.js';
import { callWebhook, parseJson, safeUrl } from '../webhooks.js';
import { failureTypes } from '../../model/failures.js';
import { httpStatusOf, kubernetesError } from '../kubernetes/api.js';
import { failoverAppOf } from '../configuration.js';

/** Annotations Lifeboat writes on a DNSEndpoint it switches. */
export const trafficAnnotations = {
  activeCluster: 'lifeboat.io/active-cluster',
  /** The switch's idempotency key. */
  switchedBy: 'lifeboat.io/switched-by',
  reason: 'lifeboat.io/switch-reason',
  workflowId: 'lifeboat.io/workflow-id',
} as const;

export type ExternalDnsTraffic = Extract<TrafficConfig, { provider: 'externalDNS' }>;
export type WebhookTraffic = Extract<TrafficConfig, { provider: 'webhook' }>;

export interface TrafficStatusInput {
  app: string;
}

export interface TrafficStatus {
  provider: TrafficConfig['provider'];
  /** The cluster the traffic goes to; absent when it cannot be told (no record, unknown targets, a webhook without statusUrl). */
  activeCluster?: string;
  /** The record's current targets (externalDNS). */
  targets?: string[];
  detail: string;
}

export interface SwitchTrafficInput {
  app: string;
  /** The cluster traffic leaves; reported, not required to be where the record points now. */
  from: string;
  to: string;
  /** Why, for people reading the record or the webhook's log. */
  reason: string;
  /** Stable across the attempts of one decision: derive it from the workflow ID and the step. */
  idempotencyKey: string;
  workflowId: string;
}

export interface SwitchTrafficResult {
  /** False when the traffic already went to `to` (an earlier attempt, or someone else, switched it). */
  changed: boolean;
  activeCluster: string;
  detail: string;
}

export interface DnsEndpointRecord {
  dnsName: string;
  recordType?: string;
  recordTTL?: number;
  targets?: string[];
  [field: string]: unknown;
}

export interface DnsEndpoint {
  apiVersion: 'externaldns.k8s.io/v1alpha1';
  kind: 'DNSEndpoint';
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string>; [field: string]: unknown };
  spec?: { endpoints?: DnsEndpointRecord[]; [field: string]: unknown };
  [field: string]: unknown;
}

const dnsEndpointApi = { group: 'externaldns.k8s.io', version: 'v1alpha1', plural: 'dnsendpoints' } as const;
/** Conditional writes that lose to a change of metadata or status only (ExternalDNS writes status) start again; this many times. */
const maxWriteRounds = 5;
/** Annotation values stay readable; the reason is cut beyond this. */
const maxReasonLength = 1024;

const sameTargets = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

function failoverTraffic(deps: Pick<ActivityDeps, 'apps'>, appName: string): { app: AppConfig; traffic: TrafficConfig } {
  const app = failoverAppOf(deps.apps, appName);
  return { app, traffic: app.failover.traffic };
}

function knownCluster(deps: Pick<ActivityDeps, 'clusters'>, cluster: string, role: string): void {
  if (!deps.clusters.has(cluster)) {
    throw ApplicationFailure.nonRetryable(
      `unknown ${role} cluster '${cluster}'; this worker knows ${[...deps.clusters.keys()].join(', ')}`,
      failureTypes.UnknownCluster,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// ExternalDNS DNSEndpoint

/** The one record Lifeboat manages in the DNSEndpoint, pointing at `cluster`'s targets. */
export function dnsEndpointRecord(traffic: ExternalDnsTraffic, cluster: string): DnsEndpointRecord {
  const targets = traffic.targets[cluster];
  if (!targets) {
    throw ApplicationFailure.nonRetryable(
      `the traffic of '${traffic.dnsName}' has no targets for cluster '${cluster}'; configured: ${Object.keys(traffic.targets).join(', ')}`,
      failureTypes.NoTrafficTargets,
    );
  }
  return { dnsName: traffic.dnsName, recordType: traffic.recordType, recordTTL: traffic.recordTTL, targets: [...targets] };
}

/** A new DNSEndpoint pointing at `cluster` (what `lab up` creates, and a switch creates when there is none). */
export function dnsEndpointFor(traffic: ExternalDnsTraffic, cluster: string, annotations: Record<string, string> = {}): DnsEndpoint {
  return {
    apiVersion: 'externaldns.k8s.io/v1alpha1',
    kind: 'DNSEndpoint',
    metadata: {
      name: traffic.name,
      namespace: traffic.namespace,
      annotations: { [trafficAnnotations.activeCluster]: cluster, ...annotations },
    },
    spec: { endpoints: [dnsEndpointRecord(traffic, cluster)] },
  };
}

/** The record for the configured name and type in a DNSEndpoint, if it has one. */
const managedRecord = (traffic: ExternalDnsTraffic, obj: DnsEndpoint) =>
  obj.spec?.endpoints?.find((e) => e.dnsName === traffic.dnsName && (e.recordType ?? 'A') === traffic.recordType);

/** The configured cluster whose targets equal the record's, if any. */
export function clusterOfDnsEndpoint(traffic: ExternalDnsTraffic, obj: DnsEndpoint): string | undefined {
  const targets = managedRecord(traffic, obj)?.targets;
  return Object.entries(traffic.targets).find(([, t]) => sameTargets(targets, t))?.[0];
}

const describeRecord = (traffic: ExternalDnsTraffic, obj: DnsEndpoint | undefined): string => {
  if (!obj) return 'nothing (it did not exist)';
  const record = managedRecord(traffic, obj);
  if (!record) return `no ${traffic.recordType} record for ${traffic.dnsName}`;
  const cluster = clusterOfDnsEndpoint(traffic, obj);
  return `${(record.targets ?? []).join(', ') || 'no targets'} (${cluster ? `cluster '${cluster}'` : 'no configured cluster'})`;
};

export interface DnsEndpointLocation {
  kubeConfig: KubeConfig;
  /** The configured cluster holding the DNSEndpoint, for messages. */
  cluster: string;
  traffic: ExternalDnsTraffic;
}

const whereIs = ({ cluster, traffic }: DnsEndpointLocation) => `DNSEndpoint ${traffic.namespace}/${traffic.name} on cluster '${cluster}'`;

/** The DNSEndpoint as the API serves it now (with its resourceVersion), or undefined when there is none. */
export async function readDnsEndpoint(at: DnsEndpointLocation): Promise<DnsEndpoint | undefined> {
  try {
    return (await at.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      ...dnsEndpointApi,
      namespace: at.traffic.namespace,
      name: at.traffic.name,
    })) as DnsEndpoint;
  } catch (err) {
    // Also what the API answers when ExternalDNS's CRD is not installed; creating it then says so.
    if (httpStatusOf(err) === 404) return undefined;
    throw kubernetesError(err, `reading ${whereIs(at)}`);
  }
}

/**
 * Points the DNSEndpoint at `to`, starting from `seen`: the object as read when the decision was made
 * (undefined: there was none). The write is conditional on `seen`'s resourceVersion (or, for a create,
 * on there being none). When it loses to another writer, the object is read again: pointing at `to`
 * already, the switch is done (changed: false); changed in metadata or status only (ExternalDNS
 * records its observedGeneration), the write is tried again from the new version; changed in its spec,
 * created or deleted meanwhile, it is left as the other writer made it and the switch fails with
 * TrafficRecordConflict, naming what the record holds now.
 */
export async function pointDnsEndpoint(
  at: DnsEndpointLocation,
  seen: DnsEndpoint | undefined,
  to: string,
  annotations: Record<string, string>,
): Promise<SwitchTrafficResult> {
  const api = at.kubeConfig.makeApiClient(CustomObjectsApi);
  const { traffic } = at;
  const where = whereIs(at);
  const record = dnsEndpointRecord(traffic, to);
  const pointsAtTo = `'${to}' (${(record.targets ?? []).join(', ')})`;
  const conflict = (now: DnsEndpoint | undefined, what: string) => {
    const by = now?.metadata.annotations?.[trafficAnnotations.switchedBy];
    return ApplicationFailure.nonRetryable(
      `${where} was ${what} by someone else while Lifeboat switched it to ${pointsAtTo}: it now points at ${describeRecord(traffic, now)}` +
        `${by ? ` (last switched by ${by})` : ''}; not overwriting it`,
      failureTypes.TrafficRecordConflict,
    );
  };
  let current = seen;
  for (let round = 1; ; round++) {
    if (current && clusterOfDnsEndpoint(traffic, current) === to) {
      return { changed: false, activeCluster: to, detail: `${where} already points at ${pointsAtTo}` };
    }
    try {
      if (!current) {
        await api.createNamespacedCustomObject({
          ...dnsEndpointApi,
          namespace: traffic.namespace,
          body: dnsEndpointFor(traffic, to, annotations),
        });
        return { changed: true, activeCluster: to, detail: `created ${where} pointing at ${pointsAtTo}` };
      }
      const body: DnsEndpoint = {
        ...current,
        metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, ...annotations } },
        spec: { ...current.spec, endpoints: [record] },
      };
      await api.replaceNamespacedCustomObject({ ...dnsEndpointApi, namespace: traffic.namespace, name: traffic.name, body });
      return {
        changed: true,
        activeCluster: to,
        detail: `${where} now points at ${pointsAtTo}; it pointed at ${describeRecord(traffic, current)}`,
      };
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 404 && !current) {
        throw ApplicationFailure.nonRetryable(
          `creating ${where}: the API has no ${dnsEndpointApi.plural}.${dnsEndpointApi.group} in namespace '${traffic.namespace}' (is ExternalDNS's CRD installed, and does the namespace exist?)`,
          failureTypes.DNSEndpointUnavailable,
        );
      }
      if (code !== 409 && code !== 404) throw kubernetesError(err, `${current ? 'updating' : 'creating'} ${where}`);
      const now = await readDnsEndpoint(at);
      if (now && clusterOfDnsEndpoint(traffic, now) === to) {
        return {
          changed: false,
          activeCluster: to,
          detail: `${where} was switched to ${pointsAtTo} by someone else meanwhile (${now.metadata.annotations?.[trafficAnnotations.switchedBy] ?? 'not by Lifeboat'})`,
        };
      }
      if (!current) throw conflict(now, 'created');
      if (!now) throw conflict(now, 'deleted');
      if (JSON.stringify(now.spec) !== JSON.stringify(current.spec)) throw conflict(now, 'changed');
      if (round >= maxWriteRounds)
        throw new Error(`${where}: ${round} conditional updates in a row lost to changes of its metadata or status`);
      current = now;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Webhook

function bearerToken(traffic: WebhookTraffic): string | undefined {
  if (!traffic.tokenEnv) return undefined;
  const token = process.env[traffic.tokenEnv];
  if (!token)
    throw ApplicationFailure.nonRetryable(
      `the webhook's token variable ${traffic.tokenEnv} is not set in the worker's environment`,
      failureTypes.TrafficWebhookTokenMissing,
    );
  return token;
}

/** One request to the traffic webhook within `traffic.timeout`, cancelled with the activity; see `callWebhook`. */
function callTrafficWebhook(
  traffic: WebhookTraffic,
  url: string,
  init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  rejectedType: string,
): Promise<{ status: number; text: string }> {
  const token = bearerToken(traffic);
  return callWebhook(
    url,
    { ...init, timeout: traffic.timeout, ...(token ? { token } : {}) },
    {
      unavailable: failureTypes.TrafficWebhookUnavailable,
      timeout: failureTypes.TrafficWebhookTimeout,
      unreachable: failureTypes.TrafficWebhookUnreachable,
      rejected: rejectedType,
    },
  );
}

// ---------------------------------------------------------------------------------------------------

export const createTrafficSwitchActivities = (deps: Pick<ActivityDeps, 'clusters' | 'apps'>) => {
  const locate = (traffic: ExternalDnsTraffic): DnsEndpointLocation => ({
    kubeConfig: clusterClients(deps, traffic.cluster).kubeConfig,
    cluster: traffic.cluster,
    traffic,
  });

  return {
    /** Where the app's traffic goes now, as its provider tells. */
    async trafficStatus({ app: appName }: TrafficStatusInput): Promise<TrafficStatus> {
      const { traffic } = failoverTraffic(deps, appName);
      if (traffic.provider === 'externalDNS') {
        const at = locate(traffic);
        const obj = await readDnsEndpoint(at);
        if (!obj) return { provider: traffic.provider, detail: `${whereIs(at)} does not exist` };
        const activeCluster = clusterOfDnsEndpoint(traffic, obj);
        const targets = managedRecord(traffic, obj)?.targets ?? [];
        return {
          provider: traffic.provider,
          ...(activeCluster ? { activeCluster } : {}),
          targets,
          detail: `${whereIs(at)}: ${traffic.dnsName} ${traffic.recordType} → ${describeRecord(traffic, obj)}`,
        };
      }
      if (!traffic.statusUrl) return { provider: traffic.provider, detail: 'webhook without statusUrl' };
      const { text } = await callTrafficWebhook(traffic, traffic.statusUrl, { method: 'GET' }, failureTypes.TrafficStatusRejected);
      const cluster = (parseJson(text) as { cluster?: unknown } | undefined)?.cluster;
      const where = `GET ${safeUrl(traffic.statusUrl)}`;
      if (typeof cluster !== 'string') return { provider: traffic.provider, detail: `${where} answered without a "cluster" string` };
      if (!deps.clusters.has(cluster))
        return { provider: traffic.provider, detail: `${where} names cluster '${cluster}', which this worker does not know` };
      return { provider: traffic.provider, activeCluster: cluster, detail: `${where} says '${cluster}'` };
    },

    /**
     * Sends the app's traffic to `to`; idempotent. externalDNS: the DNSEndpoint's endpoints become the
     * one record for `to`'s targets, annotated with the cluster, the idempotency key, the reason and
     * the workflow ID, by a conditional write (see `pointDnsEndpoint`). webhook: one POST of
     * `{ app, from, to, reason, workflowId, idempotencyKey }` with an Idempotency-Key header; a 2xx is
     * success (`{"changed": false}` in its answer reports a switch already done).
     */
    async switchTraffic(input: SwitchTrafficInput): Promise<SwitchTrafficResult> {
      const { traffic } = failoverTraffic(deps, input.app);
      knownCluster(deps, input.from, 'source');
      knownCluster(deps, input.to, 'target');
      if (!input.idempotencyKey)
        throw ApplicationFailure.nonRetryable('a traffic switch needs an idempotency key', failureTypes.InvalidTrafficSwitchInput);
      if (traffic.provider === 'externalDNS') {
        dnsEndpointRecord(traffic, input.to);
        const at = locate(traffic);
        return pointDnsEndpoint(at, await readDnsEndpoint(at), input.to, {
          [trafficAnnotations.activeCluster]: input.to,
          [trafficAnnotations.switchedBy]: input.idempotencyKey,
          [trafficAnnotations.reason]: input.reason.slice(0, maxReasonLength),
          [trafficAnnotations.workflowId]: input.workflowId,
        });
      }
      const { app, from, to, reason, workflowId, idempotencyKey } = input;
      const { status, text } = await callTrafficWebhook(
        traffic,
        traffic.url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
          body: JSON.stringify({ app, from, to, reason, workflowId, idempotencyKey }),
        },
        failureTypes.TrafficSwitchRejected,
      );
      const changed = (parseJson(text) as { changed?: unknown } | undefined)?.changed !== false;
      return {
        changed,
        activeCluster: to,
        detail: `POST ${safeUrl(traffic.url)} answered ${status}${changed ? '' : ' (already switched)'}`,
      };
    },
  };
};
