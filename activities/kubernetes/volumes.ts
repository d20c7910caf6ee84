// The Kubernetes side of recovering a PersistentVolumeClaim whose volume is lost (runbooks/storage-failure.yaml):
// who owns the claim, scaling that owner down and back, keeping the old claim's volume (Retain, re-claimed
// under a name from the run: never deleted), and waiting for the restored claim to bind. Each is
// idempotent: a retry, or a re-run under the same workflow ID, finds its own earlier work.
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { AppsV1Api, CoreV1Api, StorageV1Api, type V1PersistentVolumeClaim, type V1Pod } from '@kubernetes/client-node';
import type { ClusterClients } from '../../worker/clients.js';
import { failureTypes } from '../../model/failures.js';
import { managedByLabel, workflowIdAnnotation } from '../../model/velero-layout.js';
import { claimRestoreNameFor, veleroRestoreNameLabel } from '../../model/storage-recovery.js';
import { clusterClients } from './cluster.js';
import { httpStatusOf, isNotFound, kubernetesError } from './api.js';
import { mergePatch } from './deployments.js';
import { deadlineMsOf, pastDeadlineFailure } from '../deadline.js';
import { describeNetworkError, withDeadline } from '../network-errors.js';

/** Marks on the kept volume and its new claim: which claim it held and which run kept it. */
export const lostClaimAnnotation = 'lifeboat.io/lost-claim';
export const lostClaimUidAnnotation = 'lifeboat.io/lost-claim-uid';
export const lostVolumeLabel = 'lifeboat.io/lost-volume';

export interface ClaimOwner {
  kind: 'StatefulSet' | 'Deployment';
  name: string;
  replicas: number;
}

export interface ClaimRef {
  cluster: string;
  namespace: string;
  claim: string;
}

export interface ScaleWorkloadInput {
  cluster: string;
  namespace: string;
  kind: 'StatefulSet' | 'Deployment';
  name: string;
  replicas: number;
  /** Scaling down: wait until no Pod of the namespace uses this claim any more. */
  releasesClaim?: string;
  /** Scaling up: wait until this many replicas are Ready. Default: false. */
  waitReady?: boolean;
  /** How long either wait may take. Default: 300. */
  timeoutSeconds?: number;
}

export interface KeepLostClaimInput extends ClaimRef {
  /** The UID the plan read: only that claim is ever deleted, never a restored one of the same name. */
  claimUid: string;
  /** The claim's volume, as the plan read it; empty when it had none. */
  volume: string;
  /** The new claim's name, from the run (`<claim>-lost-<hash of the workflow ID>`). */
  lostClaim: string;
  workflowId: string;
  /** How long the old claim may take to go (its protection finalizer) and the new one to bind. Default: 120. */
  timeoutSeconds?: number;
}

export interface KeptClaim {
  /** Whether the old volume still exists (Retain, re-claimed as `lostClaim`). */
  volumeKept: boolean;
  volume: string;
  lostClaim?: string;
  /** The phase the re-claim reached: `Bound` once the PV controller bound the old volume to it. */
  lostClaimPhase?: string;
  /** The old claim as it was, for the record (also in the kept volume's annotations). */
  oldClaim: { uid: string; storageClassName?: string; accessModes: string[]; storage?: string };
}

const pollMs = 1_000;
/** How long one read of a wait may take: a silent API must not stop the heartbeat. */
const readTimeoutMs = 10_000;
const usesClaim = (pod: V1Pod, claim: string) => (pod.spec?.volumes ?? []).some((v) => v.persistentVolumeClaim?.claimName === claim);

/**
 * Calls `step` every second until it is done or `deadlineMs` passes, heartbeating what it saw. A read
 * the API does not answer (silence, a reset connection) is waited out like a phase not reached yet, so
 * an outage shorter than the wait costs no attempt; one that outlasts it fails as ClusterUnreachable,
 * naming the deadline (pastDeadlineFailure). Typed failures end the wait at once.
 */
async function poll<T>(
  deadlineMs: number,
  what: string,
  step: () => Promise<{ done?: T; seen: string }>,
): Promise<{ done?: T; seen: string }> {
  const ctx = Context.current();
  for (;;) {
    let r: { done?: T; seen: string };
    try {
      r = await withDeadline(readTimeoutMs, step());
    } catch (err) {
      if (err instanceof ApplicationFailure || err instanceof CancelledFailure) throw err;
      if (Date.now() >= deadlineMs) throw pastDeadlineFailure(err, deadlineMs, what);
      r = { seen: `no answer from the API (${describeNetworkError(err)})` };
    }
    ctx.heartbeat({ seen: r.seen });
    if (r.done !== undefined || Date.now() >= deadlineMs) return r;
    await ctx.sleep(pollMs);
  }
}

export function createVolumeActivities(deps: { clusters: ReadonlyMap<string, ClusterClients> }) {
  const core = (cluster: string) => clusterClients(deps, cluster).kubeConfig.makeApiClient(CoreV1Api);
  const apps = (cluster: string) => clusterClients(deps, cluster).kubeConfig.makeApiClient(AppsV1Api);

  async function readClaim(cluster: string, namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined> {
    try {
      return await core(cluster).readNamespacedPersistentVolumeClaim({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubernetesError(err, `reading PersistentVolumeClaim ${namespace}/${name} on '${cluster}'`);
    }
  }

  async function podsUsing(cluster: string, namespace: string, claim: string): Promise<V1Pod[]> {
    const pods = await core(cluster)
      .listNamespacedPod({ namespace })
      .catch((err: unknown) => {
        throw kubernetesError(err, `listing Pods of ${namespace} on '${cluster}'`);
      });
    return pods.items.filter((p) => usesClaim(p, claim));
  }

  async function readReplicas(input: { cluster: string; namespace: string; kind: ClaimOwner['kind']; name: string }) {
    const what = `reading ${input.kind} ${input.namespace}/${input.name} on '${input.cluster}'`;
    const read =
      input.kind === 'StatefulSet'
        ? apps(input.cluster).readNamespacedStatefulSet({ name: input.name, namespace: input.namespace })
        : apps(input.cluster).readNamespacedDeployment({ name: input.name, namespace: input.namespace });
    const w = await read.catch((err: unknown) => {
      throw kubernetesError(err, what, { notFound: failureTypes.WorkloadMissing });
    });
    return { replicas: w.spec?.replicas ?? 1, ready: w.status?.readyReplicas ?? 0, labels: w.spec?.selector?.matchLabels ?? {} };
  }

  return {
    /**
     * The StatefulSet or Deployment whose Pods use the claim (through their owner references), or, when
     * no Pod runs, the StatefulSet whose claim template names it (`<template>-<set>-<ordinal>`).
     */
    async claimOwner({ cluster, namespace, claim }: ClaimRef): Promise<ClaimOwner> {
      const pods = await podsUsing(cluster, namespace, claim);
      const owners = new Set<string>();
      for (const pod of pods) {
        const ref = pod.metadata?.ownerReferences?.find((o) => o.controller);
        if (ref?.kind === 'StatefulSet') owners.add(`StatefulSet/${ref.name}`);
        else if (ref?.kind === 'ReplicaSet') {
          const rs = await apps(cluster)
            .readNamespacedReplicaSet({ name: ref.name, namespace })
            .catch((err: unknown) => {
              throw kubernetesError(err, `reading ReplicaSet ${namespace}/${ref.name} on '${cluster}'`);
            });
          const d = rs.metadata?.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
          owners.add(d ? `Deployment/${d.name}` : `ReplicaSet/${ref.name}`);
        } else owners.add(ref ? `${ref.kind}/${ref.name}` : `Pod/${pod.metadata?.name}`);
      }
      if (!pods.length) {
        const sets = await apps(cluster)
          .listNamespacedStatefulSet({ namespace })
          .catch((err: unknown) => {
            throw kubernetesError(err, `listing StatefulSets of ${namespace} on '${cluster}'`);
          });
        for (const set of sets.items)
          for (const t of set.spec?.volumeClaimTemplates ?? [])
            if (new RegExp(`^${t.metadata?.name}-${set.metadata?.name}-\\d+$`).test(claim)) owners.add(`StatefulSet/${set.metadata?.name}`);
      }
      const [only, ...more] = [...owners];
      const [kind, name] = (only ?? '').split('/');
      if (!only || more.length || (kind !== 'StatefulSet' && kind !== 'Deployment'))
        throw ApplicationFailure.nonRetryable(
          `claim ${namespace}/${claim} on '${cluster}': ${only ? `used by ${[...owners].join(', ')}` : 'no Pod uses it and no StatefulSet template names it'}; the runbook scales one StatefulSet or Deployment down and back, and will not restore a claim something else may write`,
          failureTypes.ClaimOwnerUnknown,
        );
      const { replicas } = await readReplicas({ cluster, namespace, kind, name: name! });
      return { kind, name: name!, replicas };
    },

    /**
     * Sets a StatefulSet's or Deployment's replicas (nothing when it has them); scaling down, waits until
     * no Pod uses `releasesClaim`; scaling up with `waitReady`, until the replicas are Ready.
     */
    async scaleWorkload(input: ScaleWorkloadInput): Promise<{ workload: string; previous: number; replicas: number; changed: boolean }> {
      if (!Number.isInteger(input.replicas) || input.replicas < 0)
        throw ApplicationFailure.nonRetryable(
          `replicas must be a whole number ≥ 0, got ${JSON.stringify(input.replicas)}`,
          failureTypes.InvalidRunbookInput,
        );
      const workload = `${input.kind} ${input.namespace}/${input.name} on '${input.cluster}'`;
      const { replicas: previous } = await readReplicas(input);
      if (previous !== input.replicas) {
        const body = [{ op: 'replace', path: '/spec/replicas', value: input.replicas }];
        const patch =
          input.kind === 'StatefulSet'
            ? apps(input.cluster).patchNamespacedStatefulSet({ name: input.name, namespace: input.namespace, body })
            : apps(input.cluster).patchNamespacedDeployment({ name: input.name, namespace: input.namespace, body });
        await patch.catch((err: unknown) => {
          throw kubernetesError(err, `scaling ${workload}`, { notFound: failureTypes.WorkloadMissing });
        });
      }
      const timeout = input.timeoutSeconds ?? 300;
      // Counted from the first attempt: a retry does not start the wait again.
      const deadlineMs = deadlineMsOf({ timeoutSeconds: timeout });
      if (input.releasesClaim) {
        const claim = input.releasesClaim;
        const r = await poll(deadlineMs, `waiting until no Pod uses ${input.namespace}/${claim} on '${input.cluster}'`, async () => {
          const using = await podsUsing(input.cluster, input.namespace, claim);
          return {
            done: using.length ? undefined : true,
            seen: `${using.map((p) => p.metadata?.name).join(', ') || 'no Pod'} uses ${claim}`,
          };
        });
        if (!r.done)
          throw ApplicationFailure.nonRetryable(
            `${workload} scaled to ${input.replicas}, yet after ${timeout} s ${r.seen}`,
            failureTypes.ClaimInUse,
          );
      }
      if (input.waitReady && input.replicas > 0) {
        const r = await poll(deadlineMs, `waiting for ${workload} to be Ready`, async () => {
          const { ready } = await readReplicas(input);
          return { done: ready >= input.replicas ? true : undefined, seen: `${ready} of ${input.replicas} Ready` };
        });
        if (!r.done) throw ApplicationFailure.nonRetryable(`${workload}: ${r.seen} after ${timeout} s`, failureTypes.WorkloadNotScaled);
      }
      return {
        workload: `${input.kind} ${input.namespace}/${input.name}`,
        previous,
        replicas: input.replicas,
        changed: previous !== input.replicas,
      };
    },

    /**
     * Keeps what the lost claim held, never deleting a volume: its PV is set to Retain and marked with the
     * claim and the run; the old claim object goes (it must, for the restore to bring that name back),
     * only if it is still the one the plan read and no Pod uses it; the PV, now Released, is re-claimed by
     * a new claim `lostClaim` (pre-bound both ways), so it stays Bound, inspectable and out of reach of
     * any other claim.
     */
    async keepLostClaim(input: KeepLostClaimInput): Promise<KeptClaim> {
      const { cluster, namespace, claim, lostClaim, workflowId } = input;
      const api = core(cluster);
      const timeout = input.timeoutSeconds ?? 120;
      const old = await readClaim(cluster, namespace, claim);
      // A re-run under the same workflow ID may have read the claim this run restored: never delete that one.
      const restoredByThisRun = old?.metadata?.labels?.[veleroRestoreNameLabel] === claimRestoreNameFor(workflowId);
      if (restoredByThisRun) {
        const kept = await readClaim(cluster, namespace, lostClaim);
        return {
          volumeKept: kept !== undefined,
          volume: kept?.spec?.volumeName ?? '',
          ...(kept ? { lostClaim, lostClaimPhase: kept.status?.phase ?? 'Pending' } : {}),
          oldClaim: {
            uid: kept?.metadata?.annotations?.[lostClaimUidAnnotation] ?? '',
            accessModes: kept?.spec?.accessModes ?? [],
          },
        };
      }
      const oldIsOurs = old?.metadata?.uid === input.claimUid;
      const source = oldIsOurs ? old : await readClaim(cluster, namespace, lostClaim);
      const oldClaim = {
        uid: input.claimUid,
        ...(source?.spec?.storageClassName ? { storageClassName: source.spec.storageClassName } : {}),
        accessModes: source?.spec?.accessModes ?? ['ReadWriteOnce'],
        ...(source?.spec?.resources?.requests?.storage ? { storage: String(source.spec.resources.requests.storage) } : {}),
      };
      const pv = input.volume
        ? await api.readPersistentVolume({ name: input.volume }).catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw kubernetesError(err, `reading PersistentVolume ${input.volume} on '${cluster}'`);
          })
        : undefined;
      if (pv) {
        await api
          .patchPersistentVolume(
            {
              name: input.volume,
              body: {
                metadata: {
                  labels: { [lostVolumeLabel]: 'true' },
                  annotations: {
                    [lostClaimAnnotation]: `${namespace}/${claim}`,
                    [lostClaimUidAnnotation]: input.claimUid,
                    [workflowIdAnnotation]: workflowId,
                  },
                },
                spec: { persistentVolumeReclaimPolicy: 'Retain' },
              },
            },
            mergePatch,
          )
          .catch((err: unknown) => {
            throw kubernetesError(err, `retaining PersistentVolume ${input.volume} on '${cluster}'`);
          });
      }
      // Refused before the old claim goes, so a name clash never leaves the volume without a claim.
      const existing = await readClaim(cluster, namespace, lostClaim);
      if (existing && existing.metadata?.annotations?.[workflowIdAnnotation] !== workflowId)
        throw ApplicationFailure.nonRetryable(
          `claim ${namespace}/${lostClaim} on '${cluster}' exists and is not this run's`,
          failureTypes.ClaimNameTaken,
        );
      if (oldIsOurs) {
        const using = await podsUsing(cluster, namespace, claim);
        if (using.length)
          throw ApplicationFailure.nonRetryable(
            `claim ${namespace}/${claim} is still used by ${using.map((p) => p.metadata?.name).join(', ')}; its owner must be at zero first`,
            failureTypes.ClaimInUse,
          );
        await api
          .deleteNamespacedPersistentVolumeClaim({ name: claim, namespace, body: { preconditions: { uid: input.claimUid } } })
          .catch((err: unknown) => {
            if (!isNotFound(err) && httpStatusOf(err) !== 409)
              throw kubernetesError(err, `deleting claim ${namespace}/${claim} on '${cluster}'`);
          });
        const gone = await poll(Date.now() + timeout * 1000, `waiting for claim ${namespace}/${claim} on '${cluster}' to go`, async () => {
          const c = await readClaim(cluster, namespace, claim);
          return { done: c?.metadata?.uid === input.claimUid ? undefined : true, seen: c ? `still there (${c.status?.phase})` : 'gone' };
        });
        if (!gone.done)
          throw new Error(
            `claim ${namespace}/${claim} on '${cluster}' was ${gone.seen} ${timeout} s after its deletion (its protection finalizer?)`,
          );
      }
      if (!pv) return { volumeKept: false, volume: input.volume, oldClaim };

      if (!existing) {
        await api
          .createNamespacedPersistentVolumeClaim({
            namespace,
            body: {
              metadata: {
                name: lostClaim,
                namespace,
                labels: { ...managedByLabel, [lostVolumeLabel]: 'true' },
                annotations: {
                  [lostClaimAnnotation]: `${namespace}/${claim}`,
                  [lostClaimUidAnnotation]: input.claimUid,
                  [workflowIdAnnotation]: workflowId,
                },
              },
              spec: {
                accessModes: oldClaim.accessModes,
                ...(oldClaim.storageClassName ? { storageClassName: oldClaim.storageClassName } : {}),
                resources: { requests: { storage: oldClaim.storage ?? String(pv.spec?.capacity?.storage ?? '1Gi') } },
                volumeName: input.volume,
                ...(pv.spec?.volumeMode ? { volumeMode: pv.spec.volumeMode } : {}),
              },
            },
          })
          .catch((err: unknown) => {
            if (httpStatusOf(err) !== 409) throw kubernetesError(err, `creating claim ${namespace}/${lostClaim} on '${cluster}'`);
          });
      }
      if (pv.spec?.claimRef?.name !== lostClaim || pv.spec.claimRef.namespace !== namespace) {
        // The old claimRef (with the old claim's UID) keeps the volume Released; naming the new claim lets
        // the PV controller bind the two, as it binds an administrator's pre-bound volume.
        await api
          .patchPersistentVolume({
            name: input.volume,
            body: [
              {
                op: 'replace',
                path: '/spec/claimRef',
                value: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: lostClaim },
              },
            ],
          })
          .catch((err: unknown) => {
            throw kubernetesError(err, `re-claiming PersistentVolume ${input.volume} for ${namespace}/${lostClaim} on '${cluster}'`);
          });
      }
      const bound = await poll(
        Date.now() + timeout * 1000,
        `waiting for claim ${namespace}/${lostClaim} on '${cluster}' to bind`,
        async () => {
          const c = await readClaim(cluster, namespace, lostClaim);
          const phase = c?.status?.phase ?? 'absent';
          return { done: phase === 'Bound' ? phase : undefined, seen: phase };
        },
      );
      return { volumeKept: true, volume: input.volume, lostClaim, lostClaimPhase: bound.done ?? bound.seen, oldClaim };
    },

    /**
     * Waits until the claim is Bound; ClaimNotBound, saying the phase and volume it reached, after the
     * timeout. A claim of a WaitForFirstConsumer class binds only once a Pod using it is scheduled: it is
     * answered at once as Pending, and the owner's Ready replicas prove the binding later.
     */
    async waitClaimBound(
      input: ClaimRef & { timeoutSeconds: number },
    ): Promise<{ claim: string; phase: string; volume: string; seconds: number; waitsForFirstConsumer: boolean }> {
      const started = Date.now();
      let volume = '';
      const current = await readClaim(input.cluster, input.namespace, input.claim);
      const className = current?.spec?.storageClassName;
      if (className && current?.status?.phase !== 'Bound') {
        const sc = await clusterClients(deps, input.cluster)
          .kubeConfig.makeApiClient(StorageV1Api)
          .readStorageClass({ name: className })
          .catch((err: unknown) => {
            if (isNotFound(err)) return undefined;
            throw kubernetesError(err, `reading StorageClass ${className} on '${input.cluster}'`);
          });
        if (sc?.volumeBindingMode === 'WaitForFirstConsumer')
          return { claim: `${input.namespace}/${input.claim}`, phase: 'Pending', volume: '', seconds: 0, waitsForFirstConsumer: true };
      }
      // Counted from the first attempt: a retry does not start the wait again.
      const deadlineMs = deadlineMsOf({ timeoutSeconds: input.timeoutSeconds });
      const r = await poll(deadlineMs, `waiting for claim ${input.namespace}/${input.claim} on '${input.cluster}' to bind`, async () => {
        const c = await readClaim(input.cluster, input.namespace, input.claim);
        volume = c?.spec?.volumeName ?? '';
        const phase = c ? (c.status?.phase ?? 'Pending') : 'absent';
        return { done: phase === 'Bound' ? phase : undefined, seen: `${phase}${volume ? ` (volume ${volume})` : ' (no volume chosen)'}` };
      });
      if (!r.done)
        throw ApplicationFailure.nonRetryable(
          `claim ${input.namespace}/${input.claim} on '${input.cluster}' is ${r.seen} after ${input.timeoutSeconds} s: no volume matched it (no provisioner, or no Available volume of its class and size)`,
          failureTypes.ClaimNotBound,
        );
      return {
        claim: `${input.namespace}/${input.claim}`,
        phase: r.done,
        volume,
        seconds: Math.round((Date.now() - started) / 1000),
        waitsForFirstConsumer: false,
      };
    },
  };
}

export type VolumeActivities = ReturnType<typeof createVolumeActivities>;
