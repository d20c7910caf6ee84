// Integration (lab: kube-apiserver/primary and its controllers): the conditional change every fence,
// activation and scale goes through. Deployments are decided from one LIST per namespace; one edited
// between that LIST and its patch is not overwritten: the patch conflicts, the Deployment is read
// again and decided again. The Deployments are the test's own, in a namespace of its own.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import {
  changeDeployment,
  changeDeployments,
  listDeployments,
  mergePatch,
  type Workload,
} from '../../../activities/kubernetes/deployments.js';
import { warmStandbyDeployment } from '../../../lab/warm-standby.js';
import { adminKubeConfig } from '../../helpers/lab.js';

const kubeConfig = adminKubeConfig('primary');
const apps = kubeConfig.makeApiClient(AppsV1Api);
const core = kubeConfig.makeApiClient(CoreV1Api);
const namespace = `deploy-test-${randomBytes(4).toString('hex')}`;
const names = ['svc-0', 'svc-1', 'svc-2'];
const workloads: Workload[] = names.map((name) => ({ namespace, name }));

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await Promise.all(names.map((name) => apps.createNamespacedDeployment({ namespace, body: warmStandbyDeployment(name, 0, 'standby') })));
  // Settled: the Deployment controller has written each one's status, so nobody writes them until the test does.
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const items = (await apps.listNamespacedDeployment({ namespace })).items;
    if (items.length === names.length && items.every((d) => (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1))) break;
    if (Date.now() > deadline) throw new Error(`the Deployments in ${namespace} did not settle within 60 s`);
  }
});
afterAll(async () => {
  await core.deleteNamespace({ name: namespace });
});

const key = (w: Workload) => `${w.namespace}/${w.name}`;
const replicasOf = async () =>
  Object.fromEntries((await apps.listNamespacedDeployment({ namespace })).items.map((d) => [d.metadata!.name!, d.spec!.replicas]));

describe('changeDeployment from a LIST', () => {
  it('a Deployment edited since the LIST is not overwritten: its patch conflicts, it is read and decided again, keeping the edit', async () => {
    const listed = await listDeployments(apps, 'primary', workloads);
    expect([...listed.keys()].sort()).toEqual(workloads.map(key));
    // Someone else's write between the LIST and the patch.
    await apps.patchNamespacedDeployment(
      { namespace, name: 'svc-1', body: { metadata: { annotations: { 'test/edited': 'yes' } } } },
      mergePatch,
    );
    const decided: [string, string | undefined][] = [];
    for (const w of workloads) {
      const patched = await changeDeployment(
        apps,
        'primary',
        w,
        'scaling',
        (d) => {
          const edit = d.metadata?.annotations?.['test/edited'];
          decided.push([w.name, edit]);
          return { replicas: 2, annotations: { 'test/decided': edit ? 'after-edit' : 'from-list' } };
        },
        listed.get(key(w)),
      );
      expect({ name: w.name, patched }).toEqual({ name: w.name, patched: true });
    }
    // One decision each from the LIST; svc-1's a second time, from the read after its conflict.
    expect(decided).toEqual([
      ['svc-0', undefined],
      ['svc-1', undefined],
      ['svc-1', 'yes'],
      ['svc-2', undefined],
    ]);
    const svc1 = await apps.readNamespacedDeployment({ namespace, name: 'svc-1' });
    expect(svc1.metadata!.annotations).toMatchObject({ 'test/edited': 'yes', 'test/decided': 'after-edit' });
    expect(await replicasOf()).toEqual({ 'svc-0': 2, 'svc-1': 2, 'svc-2': 2 });
  });

  it('a Deployment the LIST did not find is read on its own, and its absence named as WorkloadMissing', async () => {
    const gone = { namespace, name: 'svc-gone' };
    expect((await listDeployments(apps, 'primary', [...workloads, gone])).has(key(gone))).toBe(false);
    await expect(changeDeployment(apps, 'primary', gone, 'scaling', () => ({ replicas: 1, annotations: {} }))).rejects.toMatchObject({
      type: 'WorkloadMissing',
      message: expect.stringContaining(`Deployment ${namespace}/svc-gone on 'primary'`),
    });
  });

  it('changeDeployments changes every workload, reporting each with whether it patched; one with nothing to do is not patched', async () => {
    const run = async (replicas: number) => {
      const changed: [string, boolean][] = [];
      await changeDeployments(
        apps,
        'primary',
        workloads,
        'scaling',
        (_w, d) => (d.spec?.replicas === replicas ? undefined : { replicas, annotations: { 'test/run': String(replicas) } }),
        (w, patched) => changed.push([w.name, patched]),
      );
      return changed.sort();
    };
    expect(await run(0)).toEqual(names.map((n) => [n, true]));
    expect(await replicasOf()).toEqual({ 'svc-0': 0, 'svc-1': 0, 'svc-2': 0 });
    expect(await run(0)).toEqual(names.map((n) => [n, false]));
  });
});
