// The watch for a returning source after a forced failover: the source's API was unreachable, so it was
// never fenced and serves again with its old replicas the moment it is back. These activities say how
// long to watch and how to fence it by hand, and wait (heartbeating) until its API answers; the
// workflow then fences it with the same fence activity a normal failover uses.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { AppsV1Api } from '@kubernetes/client-node';
import type { ActivityDeps } from '../deps.js';
import { clusterClients } from './cluster.js';
import { failoverAppOf } from '../configuration.js';
import { kubernetesError } from './api.js';
import type { Workload } from './deployments.js';
import { withDeadline } from '../network-errors.js';
import { failureTypes } from '../../model/failures.js';

/** How often the watch asks the source's API, and how long one question may take. */
const pollMs = 2_000;
const probeTimeoutMs = 5_000;

/** What an attempt of `watchForSourceApi` heartbeats, and the next attempt (after a worker crash) resumes from. */
interface WatchProgress {
  /** Questions asked so far, over every attempt. */
  checks: number;
  /** Why the last question got no answer. */
  lastProblem?: string;
}

export interface SourceApiWatch {
  /** Whether the API answered before the deadline. */
  answered: boolean;
  /** When it answered, or when the watch gave up. */
  at: string;
  /** Questions asked, over every attempt. */
  checks: number;
  /** The activity attempt that saw the outcome (above 1 after a worker crash or a retry). */
  attempt: number;
  lastProblem?: string;
}

/** A shell word, quoted only when it needs to be. */
const shellWord = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

export function createFailoverWatchActivities(deps: Pick<ActivityDeps, 'clusters' | 'apps'>) {
  return {
    /**
     * What a watch of the unreachable `cluster` needs: its limit (`apps[].failover.returnWatch`) and the
     * kubectl command that fences the workloads by hand, with the kubeconfig and context this worker
     * uses for the cluster (one command per namespace).
     */
    sourceWatchPlan({
      app,
      cluster,
      workloads,
    }: {
      app: string;
      cluster: string;
      workloads: Workload[];
    }): Promise<{ limitSeconds: number; fenceCommand: string }> {
      const config = failoverAppOf(deps.apps, app).failover;
      const c = clusterClients(deps, cluster).config;
      const namespaces = [...new Set(workloads.map((w) => w.namespace))];
      const fenceCommand = namespaces
        .map((ns) =>
          [
            'kubectl',
            // Without one, the worker's own ServiceAccount: kubectl in its Pod finds it as the worker does.
            ...(c.kubeconfig ? ['--kubeconfig', c.kubeconfig] : []),
            ...(c.context ? ['--context', c.context] : []),
            '--namespace',
            ns,
            'scale',
            'deployment',
            ...workloads.filter((w) => w.namespace === ns).map((w) => w.name),
            '--replicas=0',
          ]
            .map(shellWord)
            .join(' '),
        )
        .join(' && ');
      return Promise.resolve({ limitSeconds: config.returnWatch, fenceCommand });
    },

    /**
     * Asks the API of `cluster` every 2 s (reading the first workload's Deployment) until it answers
     * or `deadline` passes, heartbeating its progress; an attempt after a worker crash resumes from the
     * last heartbeat (its count of questions and the last problem). Any answer counts, even a refusal
     * (401/403/404): the fence that follows reports it. Cancellable at each poll.
     */
    async watchForSourceApi({
      cluster,
      workloads,
      deadline,
    }: {
      cluster: string;
      workloads: Workload[];
      deadline: string;
    }): Promise<SourceApiWatch> {
      const ctx = Context.current();
      const api = clusterClients(deps, cluster).kubeConfig.makeApiClient(AppsV1Api);
      const [first] = workloads;
      if (!first)
        throw ApplicationFailure.nonRetryable(`nothing to watch on '${cluster}': no workloads`, failureTypes.InvalidFailoverRequest);
      const resumed = ctx.info.heartbeatDetails as Partial<WatchProgress> | undefined;
      const progress: WatchProgress = { checks: resumed?.checks ?? 0, lastProblem: resumed?.lastProblem };
      const outcome = (answered: boolean): SourceApiWatch => ({
        answered,
        at: new Date().toISOString(),
        ...progress,
        attempt: ctx.info.attempt,
      });
      for (;;) {
        progress.checks++;
        try {
          await withDeadline(probeTimeoutMs, api.readNamespacedDeployment({ namespace: first.namespace, name: first.name }));
          return outcome(true);
        } catch (err) {
          const e = kubernetesError(err, `cluster '${cluster}' API`, { notFound: failureTypes.WorkloadMissing });
          if (e instanceof ApplicationFailure) return outcome(true);
          progress.lastProblem = e.message;
        }
        ctx.heartbeat(progress);
        if (Date.now() >= Date.parse(deadline)) return outcome(false);
        await ctx.sleep(Math.min(pollMs, Math.max(0, Date.parse(deadline) - Date.now())));
      }
    },
  };
}

export type FailoverWatchActivities = ReturnType<typeof createFailoverWatchActivities>;
