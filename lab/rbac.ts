// Least privilege in the lab: the shipped roles (deploy/kubernetes) on both clusters, bound to the
// ServiceAccount lifeboat-system/lifeboat for what the lab's configuration names (its apps'
// namespaces, Velero's, the traffic record's, the objects a restore checks), and a token kubeconfig
// for it next to each cluster's admin one. `lab up` calls applyLabRbac; the admin kubeconfig stays
// for the lab's own set-up and for tests that prepare and check the world.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { LifeboatConfig, ObjectRef } from '../worker/config.js';
import { bin, clusterPaths } from './topology.js';

/**
 * Which credentials the lab's Lifeboat configuration gives the worker and the CLI: the cluster-admin
 * kubeconfig, or the ServiceAccount's token kubeconfig (what a production install runs with). The one
 * switch: lab/lab.ts's labConfig and labEnv read it through {@link labWorkerKubeconfig}.
 */
export const labWorkerCredentials = 'serviceaccount' as 'admin' | 'serviceaccount';

export const lifeboatServiceAccount = { namespace: 'lifeboat-system', name: 'lifeboat' } as const;

/** The ServiceAccount's user name, as the API server and RBAC know it. */
export const lifeboatUser = `system:serviceaccount:${lifeboatServiceAccount.namespace}:${lifeboatServiceAccount.name}`;

/** How long a minted token lives: every `lab up` mints a new one. */
export const tokenLifetime = '168h';

/** The token kubeconfig of the ServiceAccount, beside the cluster's admin kubeconfig. */
export const tokenKubeconfigOf = (cluster: string) => clusterPaths(cluster).kubeconfig('lifeboat');

/** The kubeconfig the lab's configuration names for `cluster` ({@link labWorkerCredentials}). */
export const labWorkerKubeconfig = (cluster: string) =>
  labWorkerCredentials === 'serviceaccount' ? tokenKubeconfigOf(cluster) : clusterPaths(cluster).kubeconfig('admin');

export const deployDir = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** What `kubectl kustomize deploy/kubernetes` renders. */
export async function renderDeployManifests(): Promise<Manifest[]> {
  const { stdout } = await execa(bin.kubectl, ['kustomize', deployDir]);
  return parseAllDocuments(stdout).map((d) => d.toJS() as Manifest);
}

const labLabels = { 'app.kubernetes.io/name': 'lifeboat', 'lifeboat.io/lab-rbac': 'true' };
const subject = { kind: 'ServiceAccount', name: lifeboatServiceAccount.name, namespace: lifeboatServiceAccount.namespace };
const roleRef = (name: string, kind = 'ClusterRole') => ({ apiGroup: 'rbac.authorization.k8s.io', kind, name });

const clusterBinding = (role: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name: role, labels: labLabels },
  roleRef: roleRef(role),
  subjects: [subject],
});

/** A RoleBinding of a ClusterRole (or of a Role of the namespace) to the ServiceAccount, in `namespace`. */
export const namespaceBinding = (role: string, namespace: string, kind = 'ClusterRole') => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: role, namespace, labels: labLabels },
  roleRef: roleRef(role, kind),
  subjects: [subject],
});

/**
 * The bindings `cluster` needs for what `config` asks of it, each family's as in
 * deploy/kubernetes/components, with the namespaces the configuration names; and the named objects of
 * clusters[].restoreVerification.objects, granted by name.
 */
export function labBindings(config: LifeboatConfig, cluster: string): object[] {
  const c = config.clusters.find((x) => x.name === cluster)!;
  const velero = c.velero.namespace;
  const out: object[] = [
    ...[
      'lifeboat-health',
      'lifeboat-velero-scratch',
      'lifeboat-failover',
      'lifeboat-node-replacement',
      'lifeboat-etcd-recovery',
      'lifeboat-storage-recovery',
    ].map(clusterBinding),
    ...(c.nodeProvider?.kind === 'kwok' ? [clusterBinding('lifeboat-node-provider-kwok')] : []),
    ...['lifeboat-health-velero', 'lifeboat-velero-backup', 'lifeboat-velero-verification', 'lifeboat-storage-recovery-velero'].map((r) =>
      namespaceBinding(r, velero),
    ),
    namespaceBinding('lifeboat-node-leases', 'kube-node-lease'),
    // The site witnesses' Leases (the networkPartition runbook).
    namespaceBinding('lifeboat-network-partition', lifeboatServiceAccount.namespace),
  ];
  for (const app of config.apps) {
    if (app.cluster !== cluster && app.failover?.standby !== cluster && app.verify.cluster !== cluster) continue;
    for (const ns of app.namespaces) {
      if (app.failover && (app.cluster === cluster || app.failover.standby === cluster))
        out.push(namespaceBinding('lifeboat-failover-workloads', ns));
      if (app.cluster === cluster) out.push(namespaceBinding('lifeboat-velero-verification-source', ns));
      if (app.cluster === cluster) out.push(namespaceBinding('lifeboat-storage-recovery-workloads', ns));
    }
    const t = app.failover?.traffic;
    if (t?.provider === 'externalDNS' && t.cluster === cluster) out.push(namespaceBinding('lifeboat-failover-traffic', t.namespace));
  }
  out.push(...objectReadGrants(c.restoreVerification.objects, 'lifeboat-lab-restore-objects'));
  return dedupe(out);
}

/**
 * Gets by name of `objects` (clusters[].restoreVerification.objects, or a verification's own list),
 * nothing more: a ClusterRole `<name>` for Namespaces, a Role `<name>` in each namespace for the rest,
 * each bound to the ServiceAccount.
 */
export function objectReadGrants(objects: readonly ObjectRef[], name: string): object[] {
  const out: object[] = [];
  const namespaces = objects.filter((o) => o.resource === 'namespaces').map((o) => o.name);
  out.push(
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels: labLabels },
      rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'], resourceNames: [...new Set(['kube-system', ...namespaces])] }],
    },
    clusterBinding(name),
  );
  const byNamespace = new Map<string, ObjectRef[]>();
  for (const o of objects) if (o.namespace) byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
  for (const [namespace, refs] of byNamespace) {
    const resources = [...new Set(refs.map((r) => r.resource))];
    out.push(
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name, namespace, labels: labLabels },
        rules: resources.map((resource) => ({
          apiGroups: [resource === 'deployments' ? 'apps' : ''],
          resources: [resource],
          verbs: ['get'],
          resourceNames: refs.filter((r) => r.resource === resource).map((r) => r.name),
        })),
      },
      namespaceBinding(name, namespace, 'Role'),
    );
  }
  return out;
}

/** Grants the ServiceAccount gets of `objects` by name on `cluster` (what a test verifying objects of its own needs). */
export async function grantObjectReads(cluster: string, objects: readonly ObjectRef[], name: string): Promise<void> {
  await applyManifests(clusterPaths(cluster).kubeconfig('admin'), objectReadGrants(objects, name));
}

/** Removes what {@link grantObjectReads} made cluster-wide under `name` (its Roles go with their namespaces). */
export async function revokeObjectReads(cluster: string, name: string): Promise<void> {
  await kubectl(clusterPaths(cluster).kubeconfig('admin'), [
    'delete',
    '--ignore-not-found',
    `clusterrolebinding/${name}`,
    `clusterrole/${name}`,
  ]);
}

const dedupe = (objects: object[]) => {
  const key = (o: object) => {
    const m = o as Manifest;
    return `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
  };
  return [...new Map(objects.map((o) => [key(o), o])).values()];
};

const kubectl = (adminKubeconfig: string, args: string[], input?: string) =>
  execa(bin.kubectl, ['--kubeconfig', adminKubeconfig, ...args], { ...(input === undefined ? {} : { input }) });

const applyManifests = (adminKubeconfig: string, manifests: object[]) =>
  kubectl(
    adminKubeconfig,
    ['apply', '--server-side', '--force-conflicts', '--field-manager', 'lifeboat-lab', '-f', '-'],
    manifests.map((m) => stringify(m)).join('---\n'),
  );

/** Binds `roles` (ClusterRoles, e.g. lifeboat-failover-workloads) to the ServiceAccount in `namespaces` of `cluster`: what a test that makes an app of its own grants. */
export async function grantInNamespaces(cluster: string, namespaces: string[], roles: string[]): Promise<void> {
  await applyManifests(
    clusterPaths(cluster).kubeconfig('admin'),
    namespaces.flatMap((ns) => roles.map((r) => namespaceBinding(r, ns))),
  );
}

/** A kubeconfig for the ServiceAccount's token, reaching the cluster as its admin kubeconfig does (0600). */
async function writeTokenKubeconfig(cluster: string, token: string): Promise<string> {
  const admin = parse(await readFile(clusterPaths(cluster).kubeconfig('admin'), 'utf8')) as {
    clusters: { name: string; cluster: Record<string, unknown> }[];
  };
  const file = tokenKubeconfigOf(cluster);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: admin.clusters[0]!.cluster }],
    users: [{ name: lifeboatServiceAccount.name, user: { token } }],
    contexts: [{ name: cluster, context: { cluster, user: lifeboatServiceAccount.name } }],
    'current-context': cluster,
  };
  await writeFile(file, stringify(kubeconfig), { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

export interface LabRbacResult {
  cluster: string;
  /** The token kubeconfig written. */
  kubeconfig: string;
  /** The bindings and named-object roles applied. */
  bindings: number;
}

/**
 * On each of the configuration's clusters: Lifeboat's namespace, ServiceAccount, roles and admission
 * policy as deploy/kubernetes renders them (not its Deployment, NetworkPolicy or ConfigMap: the lab's
 * worker is a process), the bindings {@link labBindings} derives from the configuration, and a fresh
 * TokenRequest token ({@link tokenLifetime}) in a token kubeconfig. Idempotent.
 */
export async function applyLabRbac(config: LifeboatConfig): Promise<LabRbacResult[]> {
  const rendered = await renderDeployManifests();
  const shipped = rendered.filter((m) =>
    ['Namespace', 'ServiceAccount', 'ClusterRole', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(m.kind),
  );
  return Promise.all(
    config.clusters.map(async (c) => {
      const admin = clusterPaths(c.name).kubeconfig('admin');
      const bindings = labBindings(config, c.name);
      await applyManifests(admin, shipped);
      await applyManifests(admin, bindings);
      const { stdout: token } = await kubectl(admin, [
        'create',
        'token',
        lifeboatServiceAccount.name,
        '--namespace',
        lifeboatServiceAccount.namespace,
        '--duration',
        tokenLifetime,
      ]);
      return { cluster: c.name, kubeconfig: await writeTokenKubeconfig(c.name, token.trim()), bindings: bindings.length };
    }),
  );
}
