// Integration (lab: kube-apiserver/primary and /standby). Least privilege, proven: the lab's
// ServiceAccount lifeboat-system/lifeboat, bound to the shipped roles for what the lab's configuration
// names (lab/rbac.ts), reaches the clusters with a TokenRequest token. What the roles grant works
// through Lifeboat's activities (a health check, a Deployment scaled, a scratch namespace made, read
// and deleted); what they do not is refused with 403 and reported as KubernetesForbidden naming who,
// what, and which role would grant it. The admin kubeconfig prepares and checks; no Temporal server:
// the activities run in MockActivityEnvironment.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MockActivityEnvironment } from '@temporalio/testing';
import { AppsV1Api, AuthenticationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { activityDeps } from '../../activities/deps.js';
import { createKubernetesActivities } from '../../activities/kubernetes/index.js';
import { kubernetesError } from '../../activities/kubernetes/api.js';
import { createVeleroVerificationActivities } from '../../activities/velero/restore-verification.js';
import { applyLabRbac, grantInNamespaces, lifeboatUser, tokenKubeconfigOf, type LabRbacResult } from '../../lab/rbac.js';
import { clusterPaths } from '../../lab/topology.js';
import { scratchLabel, workflowIdAnnotation } from '../../model/velero-layout.js';
import { createClients, type LifeboatClients } from '../../worker/clients.js';
import type { LifeboatConfig } from '../../worker/config.js';
import { adminKubeConfig, labConfig } from '../helpers/lab.js';

const admin = labConfig();
/** The lab's configuration with the ServiceAccount's token kubeconfigs: what the worker would run with. */
const asServiceAccount: LifeboatConfig = {
  ...admin,
  clusters: admin.clusters.map((c) => ({ ...c, kubeconfig: tokenKubeconfigOf(c.name) })),
};

const tag = randomBytes(3).toString('hex');
const ownNamespace = `rbac-${tag}`;
const ungranted = `rbac-ungranted-${tag}`;
const notScratch = `rbac-not-scratch-${tag}`;
const workflowId = `verify-velero/rbac-test-${tag}`;
const scratch = `lb-verify-rbac-${tag}`;

let applied: LabRbacResult[];
let clients: LifeboatClients;
const core = () => adminKubeConfig('primary').makeApiClient(CoreV1Api);

interface Failure {
  type?: string;
  nonRetryable?: boolean;
  message: string;
}
const failureOf = (run: Promise<unknown>): Promise<Failure> =>
  run.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (err: unknown) => err as Failure,
  );
const inActivity = <T>(fn: () => Promise<T>): Promise<T> =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: '00000000-0000-0000-0000-000000000001' } }).run(fn);

const deployment = (namespace: string) => ({
  metadata: { name: 'web', namespace },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.invalid/web:1' }] } },
  },
});

beforeAll(async () => {
  applied = await applyLabRbac(admin);
  clients = createClients(asServiceAccount);
  for (const name of [ownNamespace, ungranted, notScratch]) {
    await core().createNamespace({ body: { metadata: { name } } });
  }
  // A namespace that claims to be this run's scratch namespace but lacks the scratch label: only the
  // admission policy stands between it and Lifeboat's delete.
  await core().patchNamespace({
    name: notScratch,
    body: [{ op: 'add', path: '/metadata/annotations', value: { [workflowIdAnnotation]: workflowId } }],
  });
  for (const ns of [ownNamespace, ungranted])
    await adminKubeConfig('primary')
      .makeApiClient(AppsV1Api)
      .createNamespacedDeployment({ namespace: ns, body: deployment(ns) });
  // What a test that makes an app of its own grants: the failover role in its namespace.
  await grantInNamespaces('primary', [ownNamespace], ['lifeboat-failover-workloads']);
});

afterAll(async () => {
  for (const name of [ownNamespace, ungranted, notScratch, scratch])
    await core()
      .deleteNamespace({ name })
      .catch(() => undefined);
});

describe('the lab ServiceAccount and its token kubeconfigs', () => {
  it('are written 0600 beside the admin kubeconfigs, and the API knows the token as lifeboat-system/lifeboat', async () => {
    expect(applied.map((r) => r.cluster).sort()).toEqual(['primary', 'standby']);
    for (const r of applied) {
      expect(r.kubeconfig).toBe(clusterPaths(r.cluster).kubeconfig('lifeboat'));
      expect(statSync(r.kubeconfig).mode & 0o777).toBe(0o600);
      const review = await clients.clusters
        .get(r.cluster)!
        .kubeConfig.makeApiClient(AuthenticationV1Api)
        .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      expect(review.status?.userInfo?.username).toBe(lifeboatUser);
    }
  });
});

describe('what the roles grant works through the activities', () => {
  it('a health check of each cluster', async () => {
    const acts = createKubernetesActivities(activityDeps(clients, undefined));
    for (const cluster of ['primary', 'standby']) {
      const health = await acts.checkNodes({ cluster });
      expect(health).toMatchObject({ component: `nodes/${cluster}`, healthy: true });
      expect(health.detail).toMatch(/Nodes Ready/);
    }
  });

  it('a Deployment scaled in a namespace the failover role is bound in', async () => {
    const acts = createKubernetesActivities(activityDeps(clients, undefined));
    const scaled = await inActivity(() => acts.scaleDeployment({ cluster: 'primary', namespace: ownNamespace, name: 'web', replicas: 0 }));
    expect(scaled).toEqual({ deployment: `${ownNamespace}/web`, replicas: 0, changed: true });
    const seen = await adminKubeConfig('primary')
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace: ownNamespace, name: 'web' });
    expect(seen.spec?.replicas).toBe(0);
  });

  it('a scratch namespace made, read through the scratch reader Lifeboat binds in it, and deleted', async () => {
    const velero = createVeleroVerificationActivities(activityDeps(clients, undefined));
    await inActivity(() => velero.createScratchNamespaces({ cluster: 'primary', namespaces: [scratch] }));
    const ns = await core().readNamespace({ name: scratch });
    expect(ns.metadata?.labels?.[scratchLabel]).toBe('scratch');
    await core().createNamespacedConfigMap({ namespace: scratch, body: { metadata: { name: 'restored' }, data: { a: '1' } } });
    const sa = clients.clusters.get('primary')!.kubeConfig.makeApiClient(CoreV1Api);
    expect((await sa.readNamespacedConfigMap({ namespace: scratch, name: 'restored' })).data).toEqual({ a: '1' });
    // The same read outside a scratch namespace is refused.
    const outside = await failureOf(sa.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-root-ca.crt' }));
    expect((outside as unknown as { code: number }).code).toBe(403);
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const deleted = await inActivity(() => velero.deleteScratchNamespaces({ cluster: 'primary', namespaces: [scratch], deadline }));
    expect(deleted.deleted).toEqual([scratch]);
  });
});

describe('what the roles do not grant is refused with 403 and reported clearly', () => {
  it('reading Secrets in kube-system', async () => {
    const sa = clients.clusters.get('primary')!.kubeConfig.makeApiClient(CoreV1Api);
    const listed = await failureOf(sa.listNamespacedSecret({ namespace: 'kube-system' }));
    expect((listed as unknown as { code: number }).code).toBe(403);
    // Through an activity: a runbook's waitForCondition naming a Secret there.
    const acts = createKubernetesActivities(activityDeps(clients, undefined));
    const err = await failureOf(
      inActivity(() =>
        acts.waitForCondition({
          cluster: 'primary',
          apiVersion: 'v1',
          kind: 'Secret',
          namespace: 'kube-system',
          name: 'anything',
          condition: 'Ready',
          timeoutSeconds: 5,
        }),
      ),
    );
    expect(err).toMatchObject({ type: 'KubernetesForbidden', nonRetryable: true });
    expect(err.message).toBe(
      "reading Secret kube-system/anything on 'primary': Lifeboat's ServiceAccount lifeboat-system/lifeboat may not get secrets/anything in namespace kube-system: " +
        "no Lifeboat role grants it; if it is one of clusters[].restoreVerification.objects, grant it by name (deploy/kubernetes/roles/objects.yaml), else no runbook of Lifeboat's needs it (HTTP 403)",
    );
  });

  it("deleting a Namespace that is not a scratch one, even one annotated as the run's", async () => {
    const velero = createVeleroVerificationActivities(activityDeps(clients, undefined));
    const deadline = new Date(Date.now() + 30_000).toISOString();
    const err = await failureOf(
      inActivity(() => velero.deleteScratchNamespaces({ cluster: 'primary', namespaces: [notScratch], deadline })),
    );
    expect(err).toMatchObject({ type: 'KubernetesForbidden', nonRetryable: true });
    expect(err.message).toBe(
      `deleting namespace ${notScratch} on cluster 'primary': Lifeboat may not do this to ${notScratch}: the ValidatingAdmissionPolicy lifeboat-scratch-namespaces refused it: ` +
        `lifeboat may delete only its scratch namespaces (labelled lifeboat.io/restore-verification=scratch); ${notScratch} is not one (HTTP 403)`,
    );
    expect((await core().readNamespace({ name: notScratch })).status?.phase).toBe('Active');
    // The same straight through the API, for a namespace nobody marked at all.
    const sa = clients.clusters.get('primary')!.kubeConfig.makeApiClient(CoreV1Api);
    const refused = await failureOf(sa.deleteNamespace({ name: ungranted }));
    expect(kubernetesError(refused, `deleting namespace ${ungranted} on 'primary'`).message).toBe(
      `deleting namespace ${ungranted} on 'primary': Lifeboat may not do this to ${ungranted}: the ValidatingAdmissionPolicy lifeboat-scratch-namespaces refused it: ` +
        `lifeboat may delete only its scratch namespaces (labelled lifeboat.io/restore-verification=scratch); ${ungranted} is not one (HTTP 403)`,
    );
    expect((await core().readNamespace({ name: ungranted })).status?.phase).toBe('Active');
  });

  it('scaling a Deployment in a namespace the failover role is not bound in names the role to bind', async () => {
    const acts = createKubernetesActivities(activityDeps(clients, undefined));
    const err = await failureOf(
      inActivity(() => acts.scaleDeployment({ cluster: 'primary', namespace: ungranted, name: 'web', replicas: 0 })),
    );
    expect(err).toMatchObject({ type: 'KubernetesForbidden', nonRetryable: true });
    // Its read is allowed (the node replacement role reads Deployments cluster-wide), its patch is not.
    expect(err.message).toBe(
      `scaling Deployment ${ungranted}/web on 'primary': Lifeboat's ServiceAccount lifeboat-system/lifeboat may not patch deployments.apps/web in namespace ${ungranted}: ` +
        `bind the ClusterRole lifeboat-failover-workloads in namespace ${ungranted} (the failover runbooks: deploy/kubernetes/components/failover), ` +
        `or bind the ClusterRole lifeboat-storage-recovery-workloads in namespace ${ungranted} (the storage-recovery runbooks: deploy/kubernetes/components/storage-recovery) (HTTP 403)`,
    );
  });
});
