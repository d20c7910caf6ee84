// Kubernetes actions a runbook step may name (`action:`): small, idempotent changes and waits on named
// objects. Each does nothing when the world is already as asked, so a retry after a lost worker, or
// a second run, changes nothing twice.
import { Context } from '@temporalio/activity';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { ApplicationFailure } from '@temporalio/activity';
import type { ClusterClients } from '../../worker/clients.js';
import { failureTypes } from '../../model/failures.js';
import { clusterClients } from './cluster.js';
import { kubernetesError } from './api.js';
import { changeDeployment } from './deployments.js';

export interface ScaleDeploymentInput {
  cluster: string;
  namespace: string;
  name: string;
  replicas: number;
}
export interface NodeInput {
  cluster: string;
  node: string;
}
export interface WaitForConditionInput {
  cluster: string;
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** The status condition's `type`, e.g. `Ready`, `Available`. */
  condition: string;
  /** Default: `True`. */
  status?: 'True' | 'False' | 'Unknown';
  /** Default: 300. */
  timeoutSeconds?: number;
}

interface Conditioned extends KubernetesObject {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

const pollMs = 2_000;

export function createKubernetesActions(deps: { clusters: ReadonlyMap<string, ClusterClients> }) {
  const kube = (cluster: string) => clusterClients(deps, cluster).kubeConfig;

  async function setUnschedulable({ cluster, node }: NodeInput, unschedulable: boolean): Promise<{ node: string; changed: boolean }> {
    const api = kube(cluster).makeApiClient(CoreV1Api);
    const what = `${unschedulable ? 'cordoning' : 'uncordoning'} Node ${node} on '${cluster}'`;
    const current = await api.readNode({ name: node }).catch((err: unknown) => {
      throw kubernetesError(err, what, { notFound: failureTypes.WorkloadMissing });
    });
    if ((current.spec?.unschedulable ?? false) === unschedulable) return { node, changed: false };
    await api.patchNode({ name: node, body: [{ op: 'add', path: '/spec/unschedulable', value: unschedulable }] }).catch((err: unknown) => {
      throw kubernetesError(err, what, { notFound: failureTypes.WorkloadMissing });
    });
    return { node, changed: true };
  }

  return {
    /** Sets a Deployment's replicas, conditional on what was read; nothing when it already has them. */
    async scaleDeployment(input: ScaleDeploymentInput): Promise<{ deployment: string; replicas: number; changed: boolean }> {
      if (!Number.isInteger(input.replicas) || input.replicas < 0) {
        throw ApplicationFailure.nonRetryable(
          `replicas must be a whole number ≥ 0, got ${JSON.stringify(input.replicas)}`,
          failureTypes.InvalidRunbookInput,
        );
      }
      const api = kube(input.cluster).makeApiClient(AppsV1Api);
      const changed = await changeDeployment(api, input.cluster, input, 'scaling', (d) =>
        (d.spec?.replicas ?? 1) === input.replicas ? undefined : { replicas: input.replicas, annotations: {} },
      );
      return { deployment: `${input.namespace}/${input.name}`, replicas: input.replicas, changed };
    },

    cordonNode: (input: NodeInput) => setUnschedulable(input, true),
    uncordonNode: (input: NodeInput) => setUnschedulable(input, false),

    /** Waits, heartbeating, until the object's condition has the wanted status; `ConditionNotMet` after the timeout. */
    async waitForCondition(input: WaitForConditionInput): Promise<{ object: string; condition: string; status: string; seconds: number }> {
      const ctx = Context.current();
      const want = input.status ?? 'True';
      const timeoutMs = (input.timeoutSeconds ?? 300) * 1000;
      const started = Date.now();
      const objects = KubernetesObjectApi.makeApiClient(kube(input.cluster));
      const object = `${input.kind} ${input.namespace ? `${input.namespace}/` : ''}${input.name} on '${input.cluster}'`;
      let seen = 'not read yet';
      for (;;) {
        try {
          const o = await objects.read<Conditioned>({
            apiVersion: input.apiVersion,
            kind: input.kind,
            metadata: { name: input.name, ...(input.namespace ? { namespace: input.namespace } : {}) },
          });
          const c = o.status?.conditions?.find((x) => x.type === input.condition);
          seen = c ? `${c.status}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}` : 'absent';
          if (c?.status === want)
            return { object, condition: input.condition, status: want, seconds: Math.round((Date.now() - started) / 100) / 10 };
        } catch (err) {
          const e = kubernetesError(err, `reading ${object}`);
          if (e instanceof ApplicationFailure) throw e;
          seen = e.message;
        }
        ctx.heartbeat({ condition: input.condition, seen });
        if (Date.now() - started >= timeoutMs) {
          throw ApplicationFailure.nonRetryable(
            `${object}: condition ${input.condition} is ${seen}, not ${want}, after ${timeoutMs / 1000} s`,
            failureTypes.ConditionNotMet,
          );
        }
        await ctx.sleep(pollMs);
      }
    },
  };
}

export type KubernetesActions = ReturnType<typeof createKubernetesActions>;
