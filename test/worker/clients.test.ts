// Integration (lab: the primary's kube-apiserver): a cluster's Kubernetes clients share one connection
// pool, a rotated client certificate is presented from the next request on, and a cluster without a
// kubeconfig is reached as the Pod's ServiceAccount (a real token the lab's API server minted).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AppsV1Api, AuthenticationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import { bin, clusterPaths, labClusters, labConfigFile } from '../../lab/topology.js';
import { loadKubeConfig } from '../../worker/clients.js';
import { clusterByName, loadConfig } from '../../worker/config.js';

const primary = labClusters.find((c) => c.name === 'primary')!;
const pki = clusterPaths('primary').pki;
/** The lab's primary, reached through a kubeconfig of the test's own whose certificate files it swaps. */
const cluster = () => ({ ...clusterByName(loadConfig({ file: labConfigFile, env: {} }), 'primary'), kubeconfig, context: 'primary' });

/** Counts the connections undici opens while `work` runs. */
async function connectionsDuring(work: () => Promise<unknown>): Promise<number> {
  let opened = 0;
  const onConnected = () => {
    opened++;
  };
  subscribe('undici:client:connected', onConnected);
  try {
    await work();
  } finally {
    unsubscribe('undici:client:connected', onConnected);
  }
  return opened;
}

let dir: string;
let kubeconfig: string;
const useIdentity = (user: string) => {
  copyFileSync(join(pki, `user-${user}.crt`), join(dir, 'client.crt'));
  copyFileSync(join(pki, `user-${user}.key`), join(dir, 'client.key'));
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-clients-test-'));
  kubeconfig = join(dir, 'kubeconfig');
  useIdentity('admin');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: primary',
      'clusters:',
      `- name: primary`,
      '  cluster:',
      `    server: https://127.0.0.1:${primary.apiserverPort}`,
      `    certificate-authority: ${join(pki, 'ca.crt')}`,
      'users:',
      '- name: rotating',
      '  user:',
      `    client-certificate: ${join(dir, 'client.crt')}`,
      `    client-key: ${join(dir, 'client.key')}`,
      'contexts:',
      '- name: primary',
      '  context:',
      '    cluster: primary',
      '    user: rotating',
      '',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadKubeConfig', () => {
  it('sends every request of every API client of a cluster over one connection', async () => {
    const kc = loadKubeConfig(cluster());
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    let listed = 0;
    const opened = await connectionsDuring(async () => {
      for (let i = 0; i < 5; i++) listed += (await core.listNamespace()).items.length > 0 ? 1 : 0;
      const lists = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? core.listNamespace() : apps.listNamespacedDeployment({ namespace: 'kube-system' }))),
      );
      listed += lists.length;
    });
    expect(listed).toBe(25);
    expect(opened).toBe(1);
  });

  it('presents a rotated client certificate from the next request on, on a new connection', async () => {
    useIdentity('admin');
    const kc = loadKubeConfig(cluster());
    const core = kc.makeApiClient(CoreV1Api);
    const asAdmin = await connectionsDuring(() => core.listNamespacedSecret({ namespace: 'kube-system' }));
    expect(asAdmin).toBe(1);
    // kube-scheduler's identity may not read Secrets: the API server must see the new certificate.
    useIdentity('kube-scheduler');
    let refused: unknown;
    const asScheduler = await connectionsDuring(() =>
      core.listNamespacedSecret({ namespace: 'kube-system' }).catch((err: unknown) => {
        refused = err;
      }),
    );
    expect(asScheduler).toBe(1);
    expect((refused as { code?: number }).code).toBe(403);
  });
});

describe('loadKubeConfig of a cluster without a kubeconfig', () => {
  const inCluster = () => ({ ...cluster(), kubeconfig: undefined, context: undefined });
  const serviceAccountDir = (root: string) => join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  const env = {
    KUBERNETES_SERVICE_HOST: process.env.KUBERNETES_SERVICE_HOST,
    KUBERNETES_SERVICE_PORT: process.env.KUBERNETES_SERVICE_PORT,
  };
  afterAll(() => {
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  });

  it("reaches the API server as the Pod's ServiceAccount: its address from the environment, the token and CA the kubelet mounts", async () => {
    const root = join(dir, 'pod');
    mkdirSync(serviceAccountDir(root), { recursive: true });
    // A real token of the default ServiceAccount of namespace default, minted by the lab's API server (TokenRequest).
    const { stdout: token } = await execa(bin.kubectl, [
      ...[
        '--kubeconfig',
        clusterPaths('primary').kubeconfig('admin'),
        'create',
        'token',
        'default',
        '--namespace',
        'default',
        '--duration',
        '10m',
      ],
    ]);
    writeFileSync(join(serviceAccountDir(root), 'token'), token.trim());
    copyFileSync(join(pki, 'ca.crt'), join(serviceAccountDir(root), 'ca.crt'));
    writeFileSync(join(serviceAccountDir(root), 'namespace'), 'default');
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = String(primary.apiserverPort);
    const kc = loadKubeConfig(inCluster(), { serviceAccountRoot: root });
    expect(kc.getCurrentCluster()!.server).toBe(`https://127.0.0.1:${primary.apiserverPort}`);
    const review = await kc
      .makeApiClient(AuthenticationV1Api)
      .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    expect(review.status?.userInfo?.username).toBe('system:serviceaccount:default:default');
    // It holds no rights: the API server judged the request as that ServiceAccount.
    const refused = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace: 'kube-system' })
      .then(
        () => undefined,
        (err: unknown) => err as { code?: number },
      );
    expect(refused?.code).toBe(403);
  });

  it('says why when the worker is not in a Pod, or its Pod has no token', () => {
    delete process.env.KUBERNETES_SERVICE_HOST;
    expect(() => loadKubeConfig(inCluster())).toThrow(
      "cluster 'primary' has no kubeconfig, so Lifeboat reaches it as the ServiceAccount of its Pod, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: this is not a Pod; give clusters[].kubeconfig for 'primary'",
    );
    process.env.KUBERNETES_SERVICE_HOST = '127.0.0.1';
    process.env.KUBERNETES_SERVICE_PORT = String(primary.apiserverPort);
    const empty = join(dir, 'no-token');
    expect(() => loadKubeConfig(inCluster(), { serviceAccountRoot: empty })).toThrow(
      `cluster 'primary' has no kubeconfig, so Lifeboat reaches it as the ServiceAccount of its Pod, but ${empty}/var/run/secrets/kubernetes.io/serviceaccount/token does not exist (automountServiceAccountToken: false?)`,
    );
  });
});
