// The witnesses of the networkPartition runbook that speak Kubernetes: whether a cluster's API answers
// the worker (its /readyz, within a deadline), and what each cluster's site witness (`lifeboat
// witness`, a small process in each cluster) says of the other, read from the Lease it keeps in its own
// cluster. Also the witness's own two halves: asking its peer's API and writing what it saw.
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { CoordinationV1Api, Health, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from './cluster.js';
import { httpStatusOf, kubernetesError } from './api.js';
import { describeNetworkError, withDeadline } from '../network-errors.js';
import {
  judgeWitnessRecord,
  siteWitnessAnnotations,
  siteWitnessLeaseName,
  siteWitnessNamespace,
  type PeerObservation,
  type ReachabilityWitness,
  type SiteWitnessView,
} from '../../model/partition.js';

/** How long a witness waits for an answer: a black-holed address must not hold the runbook. */
export const witnessDeadlineMs = 5_000;

/** Why a request got no answer, through undici's wrapping (`Error occurred in health request` → cause → cause). */
function rootNetworkCause(err: unknown): unknown {
  let e = err as { cause?: unknown } | undefined;
  for (let i = 0; i < 4 && e?.cause; i++) e = e.cause;
  return e;
}

/** Problems that mean the witness could not ask (its own configuration), not that nobody answered. */
const askingProblem = (text: string) => /certificate|self.signed|CERT_|ERR_TLS|x509|Invalid URL|ERR_INVALID_URL/i.test(text);

/**
 * Asks an API server's /readyz with `kubeConfig`'s address and TLS, within `timeoutMs`: reachable (any
 * answer; healthy when 200), unreachable (no answer: refused, reset, silence), or error (the question
 * could not be asked: an untrusted certificate, a bad address).
 */
export async function askApiReady(
  kubeConfig: KubeConfig,
  timeoutMs = witnessDeadlineMs,
): Promise<Pick<ReachabilityWitness, 'state' | 'healthy' | 'detail' | 'tookMs'>> {
  const started = Date.now();
  const took = () => Date.now() - started;
  try {
    const ready = await new Health(kubeConfig).readyz({ signal: AbortSignal.timeout(timeoutMs) });
    return ready
      ? { state: 'reachable', healthy: true, detail: '/readyz ok', tookMs: took() }
      : { state: 'reachable', healthy: false, detail: '/readyz answered, not ready', tookMs: took() };
  } catch (err) {
    const cause = rootNetworkCause(err);
    // The deadline's abort, thrown as it is or wrapped by the health check.
    if ([err, cause].some((e) => ['AbortError', 'TimeoutError'].includes((e as Error | undefined)?.name ?? '')))
      return { state: 'unreachable', healthy: false, detail: `no answer within ${timeoutMs / 1000} s`, tookMs: took() };
    const detail = describeNetworkError(cause);
    return { state: askingProblem(detail) ? 'error' : 'unreachable', healthy: false, detail, tookMs: took() };
  }
}

/** A KubeConfig that reaches `url` trusting `caFile` (none: the system's CAs), without credentials: /readyz is public. */
export function peerKubeConfig(url: string, caFile?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'peer', server: url, ...(caFile ? { caFile } : {}), skipTLSVerify: false }],
    users: [{ name: 'anonymous' }],
    contexts: [{ name: 'peer', cluster: 'peer', user: 'anonymous' }],
    currentContext: 'peer',
  });
  return kc;
}

/** What a witness saw of its peer in one check. */
export interface PeerCheck {
  state: PeerObservation;
  detail: string;
  at: Date;
}

/**
 * Writes `check` into the witness's Lease (created on first use): renewTime now, the state and the time
 * it last changed. Conditional on the resourceVersion read (a second witness writing at once makes
 * this attempt fail; the next check writes again). Returns the Lease written.
 */
export async function recordPeerCheck(
  api: CoordinationV1Api,
  record: { observer: string; peer: string; address: string; holder: string; staleAfterSeconds: number },
  check: PeerCheck,
): Promise<V1Lease> {
  const name = siteWitnessLeaseName(record.peer);
  const namespace = siteWitnessNamespace;
  let current: V1Lease | undefined;
  try {
    current = await api.readNamespacedLease({ name, namespace });
  } catch (err) {
    if (httpStatusOf(err) !== 404) throw err;
  }
  const before = current?.metadata?.annotations ?? {};
  const kept = before[siteWitnessAnnotations.state] === check.state ? before[siteWitnessAnnotations.since] : undefined;
  const since = kept ?? check.at.toISOString();
  const body: V1Lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      labels: { ...current?.metadata?.labels, 'app.kubernetes.io/name': 'lifeboat-witness', 'lifeboat.io/peer': record.peer },
      annotations: {
        ...before,
        [siteWitnessAnnotations.state]: check.state,
        [siteWitnessAnnotations.since]: since,
        [siteWitnessAnnotations.detail]: check.detail.slice(0, 500),
        [siteWitnessAnnotations.address]: record.address,
        [siteWitnessAnnotations.observer]: record.observer,
      },
    },
    spec: {
      holderIdentity: record.holder,
      leaseDurationSeconds: record.staleAfterSeconds,
      renewTime: new V1MicroTime(check.at.getTime()),
      ...(current?.spec?.acquireTime ? { acquireTime: current.spec.acquireTime } : { acquireTime: new V1MicroTime(check.at.getTime()) }),
    },
  };
  return current ? api.replaceNamespacedLease({ name, namespace, body }) : api.createNamespacedLease({ namespace, body });
}

export function createSiteWitnessActivities(deps: Pick<ActivityDeps, 'clusters'>) {
  return {
    /** Whether `cluster`'s API answers the worker (its /readyz within 5 s). Never throws for a silent API: that is the answer. */
    async probeClusterApi({ cluster }: { cluster: string }): Promise<ReachabilityWitness> {
      const { kubeConfig, server } = clusterClients(deps, cluster);
      return { component: `api/${cluster}`, address: server, ...(await askApiReady(kubeConfig)) };
    },

    /**
     * What the site witness on `cluster` says of `peer`, read through `cluster`'s API now: fresh
     * (reachable, unreachable, error), stale, missing, or unreadable (the worker cannot read that API).
     */
    async readSiteWitness({ cluster, peer }: { cluster: string; peer: string }): Promise<SiteWitnessView> {
      const { kubeConfig } = clusterClients(deps, cluster);
      const api = kubeConfig.makeApiClient(CoordinationV1Api);
      const name = siteWitnessLeaseName(peer);
      const where = `Lease ${siteWitnessNamespace}/${name} on '${cluster}'`;
      try {
        const lease = await withDeadline(witnessDeadlineMs, api.readNamespacedLease({ name, namespace: siteWitnessNamespace }));
        return judgeWitnessRecord(cluster, peer, lease, new Date());
      } catch (err) {
        if (httpStatusOf(err) === 404)
          return {
            cluster,
            peer,
            state: 'missing',
            detail: `no ${where}: no witness runs there (lifeboat witness --cluster ${cluster} --peer ${peer}; deploy/kubernetes/witness)`,
          };
        const e = kubernetesError(err, `reading ${where}`);
        // Refused credentials are configuration: retrying cannot help, and it is no evidence about the network.
        if (e instanceof ApplicationFailure || e instanceof CancelledFailure) throw e;
        return { cluster, peer, state: 'unreadable', detail: `${where} unreadable: ${e.message}` };
      }
    },
  };
}

export type SiteWitnessActivities = ReturnType<typeof createSiteWitnessActivities>;
