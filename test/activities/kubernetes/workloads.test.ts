// Integration (lab: kube-apiserver/primary, its controller-manager and kwok). No Temporal server: the
// fence and activation activities run in MockActivityEnvironment against Deployments of the test's
// own, in a namespace of its own.
// - A fence marks with labels, which the Deployment controller does not copy to the ReplicaSets (an
//   annotation it does: an extra write per Deployment, the seconds issue 10 measured).
// - A run that fenced or activated before marks were labels (annotations naming `workflowId@runId`)
//   finds its own work after the upgrade: a retry patches nothing again, its undo puts the recorded
//   replicas back and removes the old annotations.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1ReplicaSet } from '@kubernetes/client-node';
import { createFailoverActivities } from '../../../activities/kubernetes/workloads.js';
import { mergePatch, type Workload } from '../../../activities/kubernetes/deployments.js';
import { activityDeps } from '../../../activities/deps.js';
import { warmStandbyDeployment } from '../../../lab/warm-standby.js';
import { grantInNamespaces } from '../../../lab/rbac.js';
import { createClients, type LifeboatClients } from '../../../worker/clients.js';
import { adminKubeConfig, labConfig } from '../../helpers/lab.js';
import { lifeboatMarks } from '../../helpers/failover-app.js';

const clients: LifeboatClients = createClients(labConfig());
const kubeConfig = adminKubeConfig('primary');
const apps = kubeConfig.makeApiClient(AppsV1Api);
const core = kubeConfig.makeApiClient(CoreV1Api);
const acts = createFailoverActivities(activityDeps(clients, undefined));
const names = ['svc-0', 'svc-1'];
const run = { workflowId: 'failover/marks-test', runId: '0195f3a2-6c1e-7b3d-9a41-2f5e8c7d6b10' };
const legacyOwner = `${run.workflowId}@${run.runId}`;
const inActivity = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn);
const observed = (d: V1Deployment) => (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1);
const available = (d: V1Deployment) => observed(d) && (d.status?.readyReplicas ?? 0) === d.spec?.replicas;
const lifeboatKeysOf = (m: Record<string, string> | undefined) => Object.keys(m ?? {}).filter((k) => k.startsWith('lifeboat.io/'));
const made: string[] = [];

/** A namespace of the test's own with two Deployments of 2 replicas, Available. */
async function freshApp() {
  const namespace = `marks-test-${randomBytes(4).toString('hex')}`;
  made.push(namespace);
  const workloads: Workload[] = names.map((name) => ({ namespace, name }));
  const read = (name: string) => apps.readNamespacedDeployment({ namespace, name });
  /** Polls until `done` holds for every Deployment (given its ReplicaSets); 60 s at most. */
  async function settled(
    what: string,
    done: (d: V1Deployment, rs: V1ReplicaSet[]) => boolean,
  ): Promise<{ deployments: V1Deployment[]; replicaSets: V1ReplicaSet[] }> {
    for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
      const [deployments, replicaSets] = await Promise.all([
        apps.listNamespacedDeployment({ namespace }).then((l) => l.items),
        apps.listNamespacedReplicaSet({ namespace }).then((l) => l.items),
      ]);
      const rsOf = (d: V1Deployment) => replicaSets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid));
      if (deployments.length === names.length && deployments.every((d) => done(d, rsOf(d)))) return { deployments, replicaSets };
      if (Date.now() > deadline) throw new Error(`${namespace}: not ${what} within 60 s`);
    }
  }
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await grantInNamespaces('primary', [namespace], ['lifeboat-failover-workloads']);
  await Promise.all(names.map((name) => apps.createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, 2, 'primary') })));
  await settled('Available', available);
  return { namespace, workloads, read, settled };
}

afterAll(async () => {
  await Promise.all(made.map((name) => core.deleteNamespace({ name })));
});

describe('fence and activation marks', () => {
  it('a fence labels; a run fenced before marks were labels finds its own fence, and unfencing clears the old annotations', async () => {
    const { namespace, workloads, read, settled } = await freshApp();
    // svc-0 as a fence of this run from before the upgrade left it: annotated, scaled to 0.
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'svc-0',
        body: {
          metadata: {
            annotations: {
              'lifeboat.io/fenced-by': legacyOwner,
              'lifeboat.io/fenced-replicas': '2',
              'lifeboat.io/fenced-at': new Date().toISOString(),
            },
          },
          spec: { replicas: 0 },
        },
      },
      mergePatch,
    );
    // The Deployment controller copies a Deployment's annotations to its ReplicaSet: this is the write a label does not cost.
    await settled('fenced by hand, the annotation copied', (d, rs) =>
      d.metadata!.name === 'svc-0'
        ? observed(d) && rs.some((r) => r.metadata?.annotations?.['lifeboat.io/fenced-by'] === legacyOwner)
        : true,
    );
    const before = await read('svc-0');

    const { fenced } = await inActivity(() => acts.fenceWorkloads({ cluster: 'primary', workloads, ...run }));
    expect(fenced.map((f) => [f.name, f.previousReplicas]).sort()).toEqual([
      ['svc-0', 2],
      ['svc-1', 2],
    ]);
    // svc-0 was this run's already: not fenced again (a new fence would have replaced its annotations by labels). svc-1 carries labels only.
    expect(lifeboatMarks(await read('svc-0'))).toEqual(lifeboatMarks(before));
    expect((await read('svc-0')).metadata!.generation).toBe(before.metadata!.generation);
    const svc1 = await read('svc-1');
    expect(lifeboatMarks(svc1)).toEqual({
      'lifeboat.io/fenced-by': run.runId,
      'lifeboat.io/fenced-replicas': '2',
      'lifeboat.io/fenced-at': svc1.metadata!.labels!['lifeboat.io/fenced-at'],
    });
    const { replicaSets } = await settled('fenced, observed', observed);
    const svc1Sets = replicaSets.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.name === 'svc-1'));
    expect(
      svc1Sets.map((rs) => [rs.spec?.replicas, lifeboatKeysOf(rs.metadata?.annotations), lifeboatKeysOf(rs.metadata?.labels)]),
    ).toEqual([[0, [], []]]);

    const { unfenced } = await inActivity(() => acts.unfenceWorkloads({ cluster: 'primary', workloads, ...run }));
    expect(unfenced.map((w) => w.name).sort()).toEqual(names);
    const after = await Promise.all(names.map(read));
    expect(after.map((d) => [d.metadata!.name, d.spec!.replicas, lifeboatMarks(d)])).toEqual([
      ['svc-0', 2, {}],
      ['svc-1', 2, {}],
    ]);
    await settled('Available again', available);
  }, 120_000);

  it('a run activated before marks were labels: activating again patches nothing, deactivating puts the recorded replicas back and clears the annotations', async () => {
    const { namespace, workloads, read, settled } = await freshApp();
    await apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'svc-1',
        body: { metadata: { annotations: { 'lifeboat.io/activated-by': legacyOwner, 'lifeboat.io/pre-activation-replicas': '1' } } },
      },
      mergePatch,
    );
    await settled('annotated, observed', observed);
    const before = await read('svc-1');
    await inActivity(() =>
      acts.activateWorkloads({ cluster: 'primary', workloads: workloads.map((w) => ({ ...w, replicas: 2 })), ...run }),
    );
    // Not activated again: its legacy marks as they were (a new activation would have written labels), its spec untouched.
    expect(lifeboatMarks(await read('svc-1'))).toEqual(lifeboatMarks(before));
    expect((await read('svc-1')).metadata!.generation).toBe(before.metadata!.generation);
    const svc0 = await read('svc-0');
    expect(lifeboatMarks(svc0)).toEqual({ 'lifeboat.io/activated-by': run.runId, 'lifeboat.io/pre-activation-replicas': '2' });

    const { deactivated } = await inActivity(() => acts.deactivateWorkloads({ cluster: 'primary', workloads, ...run }));
    expect(deactivated.map((w) => w.name).sort()).toEqual(names);
    const after = await Promise.all(names.map(read));
    expect(after.map((d) => [d.metadata!.name, d.spec!.replicas, lifeboatMarks(d)])).toEqual([
      ['svc-0', 2, {}],
      ['svc-1', 1, {}],
    ]);
  }, 120_000);
});
