// Node failure and replacement (issue 12): the shapes the nodeReplacement workflow, its activities
// (activities/kubernetes/drain.ts, activities/node-provider/) and the CLI share, and the pure rules
// they apply. No I/O: workflows and activities both import it.

/** A Pod, by name and by the UID it had when Lifeboat first saw it: a successor of the same name (a StatefulSet's) is another Pod. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** Why a Pod on the Node is not evicted. */
export type DrainSkipReason = 'daemonset' | 'mirror' | 'finished' | 'emptydir' | 'unmanaged';

/** One Pod on the Node, as the plan shows it. */
export interface DrainPod extends PodRef {
  /** Its controller: `ReplicaSet/web-7d9f`, `StatefulSet/db`, `DaemonSet/agent`; absent for a bare Pod. */
  owner?: string;
  /** The Deployment (for a ReplicaSet's Pod) or StatefulSet whose availability the verify step checks. */
  workload?: { kind: 'Deployment' | 'StatefulSet'; namespace: string; name: string };
  /** `evict`: through the Eviction API; `skip`: left alone (with why); `blocked`: not evictable as asked (emptyDir not allowed, no controller). */
  action: 'evict' | 'skip' | 'blocked';
  why?: DrainSkipReason;
  /** `namespace/name` of each PodDisruptionBudget that selects it. */
  pdbs: string[];
  cpuMilli: number;
  memoryBytes: number;
}

/** A PodDisruptionBudget that covers a Pod on the Node, as it stands now. */
export interface BudgetState {
  namespace: string;
  name: string;
  disruptionsAllowed: number;
  currentHealthy: number;
  desiredHealthy: number;
  expectedPods: number;
}

/** A Pod whose eviction a budget refuses (429), and since when. */
export interface BlockedPod extends PodRef {
  /** `namespace/name` of the budget that refuses it (the first, when several). */
  pdb: string;
  since: string;
  /** The API server's words. */
  message: string;
}

/** The replacement's pool: what a new Node gets of the old one (labels, taints), without its identity. */
export interface NodePool {
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
}

export interface NodePreflight {
  cluster: string;
  node: string;
  /** The Node's UID: what deleting it is conditional on, so a new Node of the same name is never deleted. */
  uid: string;
  ready: boolean;
  unschedulable: boolean;
  controlPlane: boolean;
  pods: DrainPod[];
  budgets: BudgetState[];
  capacity: {
    neededCpuMilli: number;
    neededMemoryBytes: number;
    freeCpuMilli: number;
    freeMemoryBytes: number;
    ok: boolean;
    detail: string;
  };
  /** The cluster's Nodes now: how many, how many Ready, how many cordoned or not Ready (in remediation or about to be). */
  nodes: { total: number; ready: number; cordonedOrUnhealthy: number };
  pool: NodePool;
  /** What stops the run before anything is touched. */
  blockers: string[];
  warnings: string[];
}

/** How a drain ended: every evictable Pod gone, or the deadline passed with some still refused. */
export interface DrainResult {
  evicted: PodRef[];
  /** Pods the drain left alone, each with why (a DaemonSet's, a mirror, finished; emptyDir or unmanaged ones it may not evict). */
  skipped: (PodRef & { why: DrainSkipReason })[];
  /** Empty when the drain completed. */
  blocked: BlockedPod[];
  /** Each budget's longest wait, seconds: what the report shows as PDB waits. */
  budgetWaits: { pdb: string; seconds: number }[];
  /** Evicted, but still in the API at the deadline (a kubelet that does not answer: the out-of-service taint releases them). Empty when the drain completed. */
  terminating: PodRef[];
}

/** Labels of a Node that name it, not its pool: a replacement gets its own. */
const identityLabels = new Set(['kubernetes.io/hostname']);
/** Taints the node lifecycle controller and Lifeboat set on a Node in trouble: not part of its pool. */
export const outOfServiceTaint = { key: 'node.kubernetes.io/out-of-service', value: 'nodeshutdown', effect: 'NoExecute' } as const;
const conditionTaintPrefix = 'node.kubernetes.io/';

/** The pool a replacement joins: the old Node's labels but its hostname, its taints but the condition ones. */
export function poolOf(labels: Record<string, string>, taints: NodePool['taints']): NodePool {
  return {
    labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !identityLabels.has(k))),
    taints: taints.filter((t) => !t.key.startsWith(conditionTaintPrefix)).map((t) => ({ key: t.key, value: t.value, effect: t.effect })),
  };
}

/** Labels that make a Node a control-plane Node (kubeadm's, and the older one): never drained or replaced by Lifeboat's node runbooks. */
export const controlPlaneLabels = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'] as const;

/** The control-plane label a Node carries, if any. */
export const controlPlaneLabelOf = (labels: Record<string, string> | undefined): string | undefined =>
  controlPlaneLabels.find((l) => labels !== undefined && Object.hasOwn(labels, l));

/** The label that keeps a Node out of automatic remediation (Medik8s' exclusion label, by Lifeboat's name). */
export const excludeFromRemediationLabel = 'lifeboat.io/exclude-from-remediation';

/** A count or a share of the cluster's Nodes: `2` or `"40%"`. */
export type NodeCount = number | `${number}%`;

/** `count` of `total` Nodes, a percentage rounded down (as MachineHealthCheck's maxUnhealthy does). */
export function nodesOf(count: NodeCount, total: number): number {
  return typeof count === 'number' ? count : Math.floor((Number(count.slice(0, -1)) / 100) * total);
}
