// What Lifeboat may do in a cluster, by runbook family: the rules of the ClusterRoles shipped in
// deploy/kubernetes/roles (test/deploy/kubernetes.test.ts holds the two equal). Read when the API
// refuses a call (403), to tell the operator which role grants it, or that none does.

export interface PermissionRule {
  /** API group: '' for the core group. */
  group: string;
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface LifeboatRole {
  /** The ClusterRole's name. */
  name: string;
  /** The runbook family, and the component under deploy/kubernetes/components that binds it. */
  family:
    | 'health'
    | 'velero-backup'
    | 'velero-verification'
    | 'failover'
    | 'node-replacement'
    | 'node-provider-kwok'
    | 'etcd-recovery'
    | 'storage-recovery'
    | 'network-partition';
  /**
   * Where it is bound: cluster-wide (a ClusterRoleBinding), in named namespaces (a RoleBinding in each,
   * e.g. each app namespace), or by Lifeboat itself (in each scratch namespace it creates).
   */
  bound: 'cluster' | 'namespace' | 'lifeboat';
  /** The ServiceAccount in lifeboat-system it is bound to. Default: lifeboat (the worker). */
  serviceAccount?: 'lifeboat-witness';
  rules: PermissionRule[];
}

const core = '';

export const lifeboatRoles: readonly LifeboatRole[] = [
  { name: 'lifeboat-health', family: 'health', bound: 'cluster', rules: [{ group: core, resources: ['nodes'], verbs: ['list'] }] },
  {
    name: 'lifeboat-health-velero',
    family: 'health',
    bound: 'namespace',
    rules: [{ group: 'velero.io', resources: ['backupstoragelocations'], verbs: ['get'] }],
  },
  {
    name: 'lifeboat-velero-backup',
    family: 'velero-backup',
    bound: 'namespace',
    rules: [
      { group: 'velero.io', resources: ['backups'], verbs: ['create', 'get'] },
      { group: 'velero.io', resources: ['backupstoragelocations'], verbs: ['get'] },
    ],
  },
  {
    name: 'lifeboat-velero-verification',
    family: 'velero-verification',
    bound: 'namespace',
    rules: [
      { group: 'velero.io', resources: ['backups'], verbs: ['get', 'list'] },
      { group: 'velero.io', resources: ['restores'], verbs: ['create', 'get'] },
      { group: 'velero.io', resources: ['backupstoragelocations'], verbs: ['get'] },
    ],
  },
  {
    name: 'lifeboat-velero-scratch',
    family: 'velero-verification',
    bound: 'cluster',
    rules: [
      { group: core, resources: ['namespaces'], verbs: ['get', 'create', 'delete'] },
      { group: 'rbac.authorization.k8s.io', resources: ['rolebindings'], verbs: ['create'] },
      {
        group: 'rbac.authorization.k8s.io',
        resources: ['clusterroles'],
        verbs: ['bind'],
        resourceNames: ['lifeboat-velero-scratch-reader'],
      },
    ],
  },
  {
    name: 'lifeboat-velero-scratch-reader',
    family: 'velero-verification',
    bound: 'lifeboat',
    rules: [
      {
        group: core,
        resources: [
          'configmaps',
          'secrets',
          'services',
          'serviceaccounts',
          'endpoints',
          'persistentvolumeclaims',
          'pods',
          'limitranges',
          'resourcequotas',
        ],
        verbs: ['get', 'list'],
      },
      {
        group: 'apps',
        resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'controllerrevisions'],
        verbs: ['get', 'list'],
      },
      { group: 'batch', resources: ['jobs', 'cronjobs'], verbs: ['get', 'list'] },
      { group: 'networking.k8s.io', resources: ['ingresses', 'networkpolicies'], verbs: ['get', 'list'] },
      { group: 'discovery.k8s.io', resources: ['endpointslices'], verbs: ['get', 'list'] },
      { group: 'policy', resources: ['poddisruptionbudgets'], verbs: ['get', 'list'] },
      { group: 'autoscaling', resources: ['horizontalpodautoscalers'], verbs: ['get', 'list'] },
      { group: 'rbac.authorization.k8s.io', resources: ['roles', 'rolebindings'], verbs: ['get', 'list'] },
    ],
  },
  {
    name: 'lifeboat-velero-verification-source',
    family: 'velero-verification',
    bound: 'namespace',
    rules: [{ group: core, resources: ['configmaps'], verbs: ['get'] }],
  },
  {
    name: 'lifeboat-failover',
    family: 'failover',
    bound: 'cluster',
    rules: [{ group: core, resources: ['nodes', 'pods'], verbs: ['list'] }],
  },
  {
    name: 'lifeboat-failover-workloads',
    family: 'failover',
    bound: 'namespace',
    rules: [
      { group: 'apps', resources: ['deployments'], verbs: ['get', 'list', 'patch'] },
      { group: core, resources: ['pods'], verbs: ['list'] },
    ],
  },
  {
    name: 'lifeboat-failover-traffic',
    family: 'failover',
    bound: 'namespace',
    rules: [{ group: 'externaldns.k8s.io', resources: ['dnsendpoints'], verbs: ['get', 'create', 'update'] }],
  },
  {
    name: 'lifeboat-node-replacement',
    family: 'node-replacement',
    bound: 'cluster',
    rules: [
      { group: core, resources: ['nodes'], verbs: ['get', 'list', 'patch', 'delete'] },
      { group: core, resources: ['pods'], verbs: ['get', 'list', 'delete'] },
      { group: core, resources: ['pods/eviction'], verbs: ['create'] },
      { group: 'policy', resources: ['poddisruptionbudgets'], verbs: ['get', 'list'] },
      { group: 'apps', resources: ['replicasets', 'deployments', 'statefulsets'], verbs: ['get'] },
      { group: 'storage.k8s.io', resources: ['volumeattachments'], verbs: ['list'] },
    ],
  },
  {
    name: 'lifeboat-node-leases',
    family: 'node-replacement',
    bound: 'namespace',
    rules: [{ group: 'coordination.k8s.io', resources: ['leases'], verbs: ['get', 'list'] }],
  },
  {
    name: 'lifeboat-node-provider-kwok',
    family: 'node-provider-kwok',
    bound: 'cluster',
    rules: [{ group: core, resources: ['nodes'], verbs: ['create'] }],
  },
  {
    name: 'lifeboat-etcd-recovery',
    family: 'etcd-recovery',
    bound: 'cluster',
    rules: [
      { group: core, resources: ['namespaces'], verbs: ['list', 'watch'] },
      { group: 'apps', resources: ['deployments'], verbs: ['list'] },
    ],
  },
  {
    name: 'lifeboat-storage-recovery',
    family: 'storage-recovery',
    bound: 'cluster',
    rules: [
      { group: core, resources: ['persistentvolumes'], verbs: ['get', 'patch'] },
      { group: 'storage.k8s.io', resources: ['storageclasses'], verbs: ['get'] },
    ],
  },
  {
    name: 'lifeboat-storage-recovery-workloads',
    family: 'storage-recovery',
    bound: 'namespace',
    rules: [
      { group: core, resources: ['persistentvolumeclaims'], verbs: ['get', 'create', 'delete'] },
      { group: core, resources: ['pods'], verbs: ['list'] },
      { group: 'apps', resources: ['statefulsets'], verbs: ['get', 'list', 'patch'] },
      { group: 'apps', resources: ['deployments'], verbs: ['get', 'patch'] },
      { group: 'apps', resources: ['replicasets'], verbs: ['get'] },
    ],
  },
  {
    name: 'lifeboat-storage-recovery-velero',
    family: 'storage-recovery',
    bound: 'namespace',
    rules: [
      { group: 'velero.io', resources: ['backups'], verbs: ['get', 'list'] },
      { group: 'velero.io', resources: ['restores'], verbs: ['create', 'get'] },
      { group: 'velero.io', resources: ['backupstoragelocations'], verbs: ['get'] },
      { group: core, resources: ['configmaps'], verbs: ['create', 'delete'] },
    ],
  },
  {
    name: 'lifeboat-restore-objects',
    family: 'etcd-recovery',
    bound: 'cluster',
    rules: [{ group: core, resources: ['namespaces'], verbs: ['get'], resourceNames: ['kube-system'] }],
  },
  {
    name: 'lifeboat-network-partition',
    family: 'network-partition',
    bound: 'namespace',
    rules: [{ group: 'coordination.k8s.io', resources: ['leases'], verbs: ['get'] }],
  },
  {
    name: 'lifeboat-site-witness',
    family: 'network-partition',
    bound: 'namespace',
    serviceAccount: 'lifeboat-witness',
    rules: [{ group: 'coordination.k8s.io', resources: ['leases'], verbs: ['get', 'create', 'update'] }],
  },
];

/** A refusal as the API server words it (RBAC's or an admission policy's). */
export interface Refusal {
  user?: string;
  verb?: string;
  /** The resource, with its subresource (`pods/eviction`). */
  resource?: string;
  group?: string;
  namespace?: string;
  name?: string;
  /** The admission policy's own message, when one refused it. */
  policy?: { name: string; message: string };
}

/**
 * Reads a 403's Status message: RBAC's `<resource> "<name>" is forbidden: User "<user>" cannot <verb>
 * resource "<resource>" in API group "<group>" in the namespace "<ns>"` (or `at the cluster scope`),
 * or a ValidatingAdmissionPolicy's `... denied request: <message>`.
 */
export function parseRefusal(message: string): Refusal {
  const policy = /ValidatingAdmissionPolicy '([^']+)'.*?denied request: (.*)$/s.exec(message);
  const named = /^\S+ "([^"]+)" is forbidden/.exec(message);
  if (policy) return { policy: { name: policy[1]!, message: policy[2]!.trim() }, ...(named ? { name: named[1] } : {}) };
  const rbac = /User "([^"]+)" cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?(?: in the namespace "([^"]+)")?/.exec(message);
  if (!rbac) return {};
  return {
    user: rbac[1],
    verb: rbac[2],
    resource: rbac[3],
    group: rbac[4] ?? '',
    ...(rbac[5] ? { namespace: rbac[5] } : {}),
    ...(named ? { name: named[1] } : {}),
  };
}

/** The roles whose rules allow `verb` on `group`/`resource` (named `name`, when a rule names its objects). */
export function rolesGranting(verb: string, group: string, resource: string, name?: string): LifeboatRole[] {
  return lifeboatRoles.filter((r) =>
    r.rules.some(
      (rule) =>
        rule.group === group &&
        rule.resources.includes(resource) &&
        rule.verbs.includes(verb) &&
        (!rule.resourceNames || (name !== undefined && rule.resourceNames.includes(name))),
    ),
  );
}

/** Who the refused user is, in words: Lifeboat's ServiceAccount, or the user of its kubeconfig. */
function describeUser(user: string | undefined): string {
  const sa = user && /^system:serviceaccount:([^:]+):(.+)$/.exec(user);
  return sa ? `Lifeboat's ServiceAccount ${sa[1]}/${sa[2]}` : user ? `Lifeboat's user '${user}'` : 'Lifeboat';
}

/** What to grant so the refused call is allowed, or why it is not Lifeboat's to do. */
function advice(refusal: Refusal): string {
  if (refusal.policy) return `the ValidatingAdmissionPolicy ${refusal.policy.name} refused it: ${refusal.policy.message}`;
  if (!refusal.verb || !refusal.resource) return 'the API refused it';
  const granting = rolesGranting(refusal.verb, refusal.group ?? '', refusal.resource, refusal.name).filter(
    (r) => r.bound !== 'lifeboat' && (r.serviceAccount === undefined) === !refusal.user?.endsWith(':lifeboat-witness'),
  );
  const where = refusal.namespace ? ` in namespace ${refusal.namespace}` : '';
  if (!granting.length)
    return refusal.verb === 'get'
      ? `no Lifeboat role grants it; if it is one of clusters[].restoreVerification.objects, grant it by name (deploy/kubernetes/roles/objects.yaml), else no runbook of Lifeboat's needs it`
      : `no Lifeboat role grants it: no runbook of Lifeboat's needs it`;
  return granting
    .map((r) =>
      r.bound === 'namespace'
        ? `bind the ClusterRole ${r.name}${where} (the ${r.family} runbooks: deploy/kubernetes/components/${r.family})`
        : `grant the ${r.family} role ${r.name} (deploy/kubernetes/components/${r.family})`,
    )
    .join(', or ');
}

/**
 * A refused call in words: who may not do what, and what to grant:
 * `Lifeboat's ServiceAccount lifeboat-system/lifeboat may not delete namespaces/x: grant the ... role`.
 */
export function describeRefusal(message: string): string {
  const r = parseRefusal(message);
  if (r.policy) return `${describeUser(r.user)} may not do this${r.name ? ` to ${r.name}` : ''}: ${advice(r)}`;
  if (!r.verb) return `the API refused it: ${message}`;
  const object = `${r.group ? `${r.resource}.${r.group}` : r.resource}${r.name ? `/${r.name}` : ''}`;
  return `${describeUser(r.user)} may not ${r.verb} ${object}${r.namespace ? ` in namespace ${r.namespace}` : ''}: ${advice(r)}`;
}
